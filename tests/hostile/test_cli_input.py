"""Hostile input on the command line (issue 11): a one-line error and a non-zero exit, never a traceback,
decided before any work starts, and nothing left behind.

Every case runs a subcommand in-process through `proofzero.cli.main` and checks the same three things:
the exit code, stderr being exactly one line `proofzero CMD: error: ...`, and the directory the test
works in holding afterwards exactly what it held before.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest

from proofzero.cli import main
from tests.data.traced_fixtures import library, write_shard

THEOREM = "Theorem one_eq_one : 1 = 1.\nProof.\n"

BAD_YAML = {
    "unclosed_list": b"workers: [1, 2\n",
    "tab_indented": b"automation:\n\tportfolio: [lia]\n",
    "a_list": b"- workers\n- 2\n",
    "a_scalar": b"hello\n",
    "binary": bytes(range(128, 256)) * 4,
}


# -- helpers -------------------------------------------------------------------------------------


def snapshot(root: Path) -> set[str]:
    """Every path under `root` (hidden ones included): what "nothing left behind" compares."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_cli(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()  # what fixtures printed is not the command's
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def assert_one_line_error(rc: int, err: str, cmd: str, *needles: str) -> str:
    assert rc != 0, f"proofzero {cmd} exited 0"
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"stderr is {len(lines)} lines:\n{err}"
    assert lines[0].startswith(f"proofzero {cmd}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def refused(capsys, root: Path, cmd: str, args: list, *needles: str, rc: int = 2) -> str:
    """Run `proofzero CMD ARGS`: a one-line error, exit `rc`, and `root` exactly as before."""
    before = snapshot(root)
    code, err = run_cli(capsys, cmd, *args)
    line = assert_one_line_error(code, err, cmd, *needles)
    assert code == rc
    assert snapshot(root) == before, f"left behind: {sorted(snapshot(root) - before)}"
    return line


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A suite of one theorem, a shard, a text file and a .v file to trace: inputs that are fine."""
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one_eq_one.v").write_text(THEOREM)
    write_shard(tmp_path / "good.jsonl", library(files=2, per_file=2))
    (tmp_path / "notes.txt").write_text("Lemma x : True.\n")
    return tmp_path


# The inputs each subcommand needs, with its output under `work`; then how it is given a config.
def _inputs(cmd: str, work: Path) -> list:
    return {
        "prove": ["--suite", work / "suite", "--out", work / "out" / "r.json", "--no-progress", "hammer=off"],
        "eval": ["--suite", work / "suite", "--out", work / "out", "--no-progress"],
        "train": ["sft", f"run_dir={work / 'run'}"],
        "dataset": [work / "good.jsonl", "--out", work / "out"],
        "corpus": [work / "notes.txt", "--out", work / "out"],
        "trace": [work / "suite" / "one_eq_one.v", "--out", work / "out"],
    }[cmd]


def _command_args(cmd: str, work: Path, config: Path | str) -> list:
    option = {"prove": ["--config"], "eval": ["--prover"], "train": []}.get(cmd, ["--config"])
    inputs = _inputs(cmd, work)
    return [inputs[0], config, *inputs[1:]] if cmd == "train" else [*inputs, *option, config]


# -- 1. configs that are not YAML mappings -------------------------------------------------------


@pytest.mark.parametrize("kind", list(BAD_YAML))
@pytest.mark.parametrize("cmd", ["prove", "eval", "train", "dataset", "corpus", "trace"])
def test_a_config_that_is_not_a_yaml_mapping_is_one_line(capsys, work, cmd, kind):
    config = work / f"{kind}.yaml"
    config.write_bytes(BAD_YAML[kind])
    line = refused(capsys, work, cmd, _command_args(cmd, work, config), str(config))
    expected = {"unclosed_list": ": not valid YAML (", "tab_indented": ":2:1: not valid YAML (",
                "a_list": "a mapping of keys to values; this file holds a list",
                "a_scalar": "a mapping of keys to values; this file holds a str", "binary": ": not a text file ("}[kind]
    assert expected in line


def test_the_yaml_error_names_the_line(capsys, work):
    config = work / "c.yaml"
    config.write_text("workers: 2\nautomation:\n  portfolio: [lia, lra\n")
    refused(capsys, work, "prove", _command_args("prove", work, config), f"{config}:4:1: not valid YAML")


def test_a_model_yaml_that_is_not_yaml_leaves_no_run_dir(capsys, work):
    model = work / "model.yaml"
    model.write_bytes(BAD_YAML["unclosed_list"])
    refused(capsys, work, "train", ["sft", f"run_dir={work / 'run'}", f"model={model}"], "not valid YAML")


def test_a_suite_config_that_is_not_yaml_is_one_line(capsys, work):
    suite = work / "suite.yaml"
    suite.write_bytes(BAD_YAML["tab_indented"])
    refused(capsys, work, "eval", ["--suite", suite, "--out", work / "out", "policy.kind=scripted",
                                   "policy.tactics=[lia]"], "not valid YAML")


# -- 2. negative counts ---------------------------------------------------------------------------


NEGATIVE = [
    ("prove", "limit=-5"),
    ("prove", "workers=-1"),
    ("prove", "automation.max_tactics=-1"),
    ("eval", "limit=-5"),
    ("eval", "attempts=-1"),
    ("eval", "workers=-2"),
    ("eval", "max_trees=-1"),
    ("eval", "andor.k=-1"),
    ("eval", "andor.max_expansions=-3"),
    ("eval", "andor.wall_limit_s=-1"),
    ("eval", "bestfirst.wall_limit_s=-1"),
    ("eval", "htps.max_tactics=-1"),
    ("eval", "ray.num_actors=-1"),
    ("eval", "policy.max_batch=-1"),
    ("train", "max_steps=-1"),
    ("train", "data.batch_size=-1"),
    ("train", "data.val_batches=-1"),
    ("train", "keep_checkpoints=-1"),
    ("train", "optim.warmup_steps=-1"),
    ("dataset", "batch_rows=-1"),
    ("corpus", "shard_sequences=-1"),
    ("corpus", "seq_len=-1"),
    ("trace", "workers=-2"),
    ("trace", "document.max_restarts=-1"),
]


@pytest.mark.parametrize(("cmd", "override"), NEGATIVE, ids=[f"{c}-{o}" for c, o in NEGATIVE])
def test_a_negative_count_is_refused_by_the_config(capsys, work, cmd, override):
    args = _inputs(cmd, work)
    if cmd == "eval":
        args += ["policy.kind=scripted", "policy.tactics=[lia]"]
    field = override.split("=")[0].split(".")[-1]
    refused(capsys, work, cmd, [*args, override], "bad config", field)


def test_a_negative_count_on_the_command_line_is_refused(capsys, work):
    refused(capsys, work, "eval", ["--suite", work / "suite", "--attempts", "-1", "--out", work / "out",
                                   "policy.kind=scripted", "policy.tactics=[lia]"], "attempts")
    refused(capsys, work, "trace", [work / "suite", "--out", work / "out", "--workers", "-3"], "workers")
    refused(capsys, work, "corpus", [work / "notes.txt", "--out", work / "out", "--seq-len", "-1"], "seq_len")


def test_limit_suite_never_slices_from_the_end(work):
    from formal.suite import load_suite
    from proofzero.prove import limit_suite

    for i in range(3):
        (work / "suite" / f"t{i}.v").write_text(THEOREM.replace("one_eq_one", f"t{i}"))
    suite = load_suite(work / "suite")
    assert len(limit_suite(suite, 3)) == 3 and len(limit_suite(suite, 0)) == len(suite) == 4
    with pytest.raises(ValueError, match="limit"):
        limit_suite(suite, -5)


# -- 3. output paths, checked before any work ----------------------------------------------------


def test_prove_out_that_is_a_directory(capsys, work):
    (work / "results").mkdir()
    refused(capsys, work, "prove", ["--suite", work / "suite", "--out", work / "results", "hammer=off",
                                    "--no-progress"], "is a directory")


def test_prove_out_under_a_file(capsys, work):
    refused(capsys, work, "prove", ["--suite", work / "suite", "--out", work / "notes.txt" / "r.json",
                                    "hammer=off", "--no-progress"], "not a directory")


def test_prove_partial_rows_path_that_is_a_directory(capsys, work):
    (work / "r.json.partial.jsonl").mkdir()
    refused(capsys, work, "prove", ["--suite", work / "suite", "--out", work / "r.json", "hammer=off",
                                    "--no-progress"], "r.json.partial.jsonl is a directory")


SCRIPTED = ["policy.kind=scripted", "policy.tactics=[lia]", "--no-progress"]


def test_eval_out_that_is_a_file(capsys, work):
    refused(capsys, work, "eval", ["--suite", work / "suite", "--out", work / "notes.txt", *SCRIPTED],
            "exists and is not a directory")


def test_eval_out_whose_prover_dir_is_a_file(capsys, work):
    (work / "out").mkdir()
    (work / "out" / "andor").write_text("in the way")
    refused(capsys, work, "eval", ["--suite", work / "suite", "--out", work / "out", *SCRIPTED],
            "andor exists and is not a directory")


def test_trace_out_under_a_file(capsys, work):
    refused(capsys, work, "trace", [work / "suite", "--out", work / "notes.txt" / "t"], "not a directory")


def test_dataset_out_that_is_a_file(capsys, work):
    refused(capsys, work, "dataset", [work / "good.jsonl", "--out", work / "notes.txt"], "not a directory")


def test_corpus_out_under_a_file(capsys, work):
    refused(capsys, work, "corpus", [work / "good.jsonl", "--out", work / "notes.txt" / "c"], "not a directory")


def test_train_run_dir_that_is_a_file(capsys, work):
    refused(capsys, work, "train", ["sft", f"run_dir={work / 'notes.txt'}"], "run_dir", "not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_parent_is_refused_before_work(capsys, work):
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        refused(capsys, work, "dataset", [work / "good.jsonl", "--out", locked / "ds"], "no permission")
        refused(capsys, work, "prove", ["--suite", work / "suite", "--out", locked / "r.json", "hammer=off"],
                "no permission")
    finally:
        locked.chmod(0o755)


def test_a_parent_without_write_permission_is_refused(capsys, work, monkeypatch):
    """The same as root, who may write anywhere: `os.access` says no for one directory."""
    import proofzero.outputs

    locked = work / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(proofzero.outputs.os, "access", lambda p, mode: Path(p) != locked and real(p, mode))
    refused(capsys, work, "corpus", [work / "notes.txt", "--out", locked / "c"], f"no permission to write in {locked}")
    refused(capsys, work, "eval", ["--suite", work / "suite", "--out", locked, *SCRIPTED], "no permission")


# -- 4. binary shards --------------------------------------------------------------------------


def test_a_binary_shard_names_file_and_line_and_leaves_no_dataset(capsys, work):
    shard = work / "bin.jsonl"
    shard.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd" * 10)
    refused(capsys, work, "dataset", [shard, "--out", work / "ds"], f"{shard}:1:", "not UTF-8")


def test_a_shard_that_turns_binary_on_line_three(capsys, work):
    shard = work / "mixed.jsonl"
    shard.write_bytes((work / "good.jsonl").read_bytes().splitlines(keepends=True)[0] * 2 + b"\xff\xfe{}\n")
    refused(capsys, work, "dataset", [shard, "--out", work / "ds"], f"{shard}:3:", "byte 0xff at column 1")


def test_a_binary_shard_in_an_existing_dataset_dir_leaves_it_as_it_was(capsys, work):
    (work / "ds").mkdir()
    (work / "ds" / "keep.txt").write_text("mine")
    shard = work / "bin.jsonl"
    shard.write_bytes(bytes(range(128, 256)))
    refused(capsys, work, "dataset", [work / "good.jsonl", shard, "--out", work / "ds"], f"{shard}:1:")


def test_a_binary_leandojo_file(capsys, work):
    lean = work / "train.json"
    lean.write_bytes(bytes(range(128, 256)))
    refused(capsys, work, "dataset", [lean, "--out", work / "ds"], str(lean), "not readable as JSON")


def test_a_binary_shard_to_the_corpus_leaves_nothing(capsys, work):
    shard = work / "bin.jsonl"
    shard.write_bytes(bytes(range(128, 256)))
    refused(capsys, work, "corpus", [work / "notes.txt", shard, "--out", work / "c"], f"{shard}:1:")
    (work / "c").mkdir()  # an existing corpus directory: no `.building` left in it
    refused(capsys, work, "corpus", [work / "notes.txt", shard, "--out", work / "c"], f"{shard}:1:")


def test_binary_resume_files_are_lines_cut_by_a_crash(tmp_path):
    """Rows streamed by prove/eval and the tracer's run log: bytes that are not UTF-8 JSON are skipped
    like a line a kill cut short, never a UnicodeDecodeError."""
    from data.trace_run import load_run_log
    from eval.runner import _load_partial

    partial = tmp_path / "results.json.partial.jsonl"
    partial.write_bytes(b'{"key": "k"}\n\xff\xfe\x00garbage\n' + bytes(range(128, 256)) + b"\n")
    assert _load_partial(partial, "k") == {}
    partial.write_bytes(bytes(range(128, 256)) + b"\n")
    assert _load_partial(partial, "k") == {}
    (tmp_path / "files.jsonl").write_bytes(b'{"key": "k"}\n\xff\xfe\n[1, 2]\n')
    assert load_run_log(tmp_path, "k") == {}


# -- 5. checkpoints: corrupted, truncated, not checkpoints ---------------------------------------


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A Lightning-layout checkpoint (state_dict of `net.*` weights, hyper-parameters) of a very small
    ProofNet (8k parameters), written by torch.save as Lightning does: a zip archive with CRCs."""
    torch = pytest.importorskip("torch")
    from model.config import ProofNetConfig
    from model.proofnet import ProofNet
    from train.config import TrainConfig

    torch.manual_seed(0)
    config = ProofNetConfig.preset("tiny", d_model=16, d_kv=4, d_ff=16, num_layers=1, num_decoder_layers=1,
                                   num_heads=2, value_hidden=8, value_bins=4, num_sentinels=4)
    net = ProofNet(config)
    path = tmp_path_factory.mktemp("ckpt") / "model.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                "hyper_parameters": {"model_config": dataclasses.asdict(config),
                                     "train_config": dataclasses.asdict(TrainConfig())},
                "global_step": 3}, path)
    return path


def _flip_member_bytes(src: Path, dst: Path, members: int) -> None:
    """A copy of the zip archive `src` with one byte flipped in the data of its first `members` tensors."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        tensors = [i for i in z.infolist() if "/data/" in i.filename and i.file_size > 8][:members]
    assert len(tensors) == members
    for info in tensors:
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
        data[info.header_offset + 30 + name_len + extra_len + 5] ^= 0xFF
    dst.write_bytes(bytes(data))


def _torch_file(path: Path, obj) -> Path:
    import torch

    torch.save(obj, path)
    return path


def test_a_good_checkpoint_exports(capsys, checkpoint, tmp_path):
    rc, err = run_cli(capsys, "export", checkpoint, tmp_path / "hf")
    assert rc == 0, err
    assert (tmp_path / "hf" / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]  # no temp dirs beside it


def test_a_checkpoint_with_flipped_bytes_is_refused(capsys, checkpoint, tmp_path):
    bad = tmp_path / "flipped.ckpt"
    _flip_member_bytes(checkpoint, bad, members=9)
    refused(capsys, tmp_path, "export", [bad, tmp_path / "hf"], str(bad), "corrupted checkpoint (", "Bad CRC-32")


def test_a_truncated_checkpoint_is_refused(capsys, checkpoint, tmp_path):
    bad = tmp_path / "cut.ckpt"
    bad.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    refused(capsys, tmp_path, "export", [bad, tmp_path / "hf"], str(bad), "a zip archive without its end")


@pytest.mark.parametrize("kind", ["text", "empty", "not_a_dict", "no_state_dict", "no_model_config",
                                  "missing_weights", "wrong_shape", "not_a_tensor"])
def test_what_is_not_a_proofzero_checkpoint_is_refused(capsys, checkpoint, tmp_path, kind):
    import torch

    good = torch.load(checkpoint, weights_only=False)
    state = dict(good["state_dict"])
    first = next(iter(state))
    bad = tmp_path / f"{kind}.ckpt"
    if kind == "text":
        bad.write_text("model weights, honest\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "not_a_dict":
        _torch_file(bad, [1, 2, 3])
    elif kind == "no_state_dict":
        _torch_file(bad, {k: v for k, v in good.items() if k != "state_dict"})
    elif kind == "no_model_config":
        _torch_file(bad, {**good, "hyper_parameters": {"train_config": {}}})
    elif kind == "missing_weights":
        _torch_file(bad, {**good, "state_dict": dict(list(state.items())[3:])})
    elif kind == "wrong_shape":
        _torch_file(bad, {**good, "state_dict": {**state, first: torch.zeros(3, 3)}})
    elif kind == "not_a_tensor":
        _torch_file(bad, {**good, "state_dict": {**state, first: "weights"}})
    refused(capsys, tmp_path, "export", [bad, tmp_path / "hf"], str(bad))


def test_a_corrupted_zero_checkpoint_is_refused(capsys, checkpoint, tmp_path):
    """A DeepSpeed ZeRO directory (Lightning's layout) whose model-states file has flipped bytes."""
    zero = tmp_path / "zero.ckpt"
    (zero / "checkpoint").mkdir(parents=True)
    (zero / "latest").write_text("checkpoint")
    _flip_member_bytes(checkpoint, zero / "checkpoint" / "mp_rank_00_model_states.pt", members=2)
    refused(capsys, tmp_path, "export", [zero, tmp_path / "hf"], "mp_rank_00_model_states.pt: corrupted checkpoint (", "Bad CRC-32")


def test_an_export_that_does_not_read_back_leaves_nothing(capsys, checkpoint, tmp_path, monkeypatch):
    """The weights are compared after writing, in the temporary directory: bytes that change on the way
    to disk mean no OUT_DIR at all, not an export of different weights."""
    import model.export as export

    write = export._write

    def write_then_damage(model, out, info):
        write(model, out, info)
        weights = out / "model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-40] ^= 0xFF  # inside the last tensor's data
        weights.write_bytes(bytes(data))

    monkeypatch.setattr(export, "_write", write_then_damage)
    refused(capsys, tmp_path, "export", [checkpoint, tmp_path / "hf"], "does not read back", "tensors differ")


def test_export_out_dir_problems_are_refused_before_loading(capsys, checkpoint, tmp_path, monkeypatch):
    import train.checkpoint

    def no_load(path):
        raise AssertionError("the checkpoint was loaded before OUT_DIR was checked")

    monkeypatch.setattr(train.checkpoint, "load_checkpoint", no_load)
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("x")
    refused(capsys, tmp_path, "export", [checkpoint, tmp_path / "file"], "not a directory")
    refused(capsys, tmp_path, "export", [checkpoint, tmp_path / "file" / "hf"], "not a directory")
    refused(capsys, tmp_path, "export", [checkpoint, tmp_path / "full"], "not an empty directory")


def test_a_binary_corpus_manifest_is_a_data_error(tmp_path):
    """`proofzero train pretrain data.path=DIR` where DIR/corpus.json is not JSON: a DataError (one line
    from the CLI), not a UnicodeDecodeError out of the Lightning trainer."""
    pytest.importorskip("lightning")
    from model.config import ProofNetConfig
    from train.config import DataConfig, TrainConfig
    from train.data import DataError, make_datamodule

    (tmp_path / "corpus.json").write_bytes(bytes(range(128, 256)))
    cfg = TrainConfig(stage="pretrain", data=DataConfig(path=str(tmp_path)))
    with pytest.raises(DataError, match="corpus.json is not readable JSON"):
        make_datamodule(cfg, ProofNetConfig.preset("tiny")).setup()


def test_bad_json_in_resume_header_is_not_a_mapping(tmp_path):
    from eval.runner import _load_partial

    partial = tmp_path / "p.jsonl"
    partial.write_text(json.dumps([1, 2]) + "\n")
    assert _load_partial(partial, "k") == {}


# -- the same, as a user runs it: a fresh interpreter, real stderr (logging included) ------------


def _subprocess(*args) -> tuple[int, str]:
    import subprocess
    import sys

    from tests.conftest import REPO

    p = subprocess.run([sys.executable, "-m", "proofzero.cli", *map(str, args)], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stderr


def test_in_a_fresh_process_a_negative_limit_is_one_line(work):
    before = snapshot(work)
    rc, err = _subprocess("prove", "--suite", work / "suite", "--out", work / "r.json", "limit=-5")
    assert rc == 2
    assert_one_line_error(rc, err, "prove", "bad config: limit must be >= 0")
    assert snapshot(work) == before


def test_in_a_fresh_process_a_corrupted_checkpoint_is_one_line(checkpoint, tmp_path):
    bad = tmp_path / "flipped.ckpt"
    _flip_member_bytes(checkpoint, bad, members=9)
    before = snapshot(tmp_path)
    rc, err = _subprocess("export", bad, tmp_path / "hf")
    assert rc == 2
    assert_one_line_error(rc, err, "export", "corrupted checkpoint (", "Bad CRC-32")
    assert snapshot(tmp_path) == before

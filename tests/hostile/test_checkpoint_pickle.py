"""Checkpoints whose pickle runs code (issue 11): refused with one line, and the payload never runs.

A `.ckpt` or a ZeRO `*.pt` is a pickle; unpickled in full, a `__reduce__` in it calls whatever it names
(`os.system`, `exec`) on load. Every payload here would create a marker file: the tests check the
refusal, the exit code, and that the marker (or anything else) did not appear. Real checkpoints -
Lightning's and DeepSpeed's own, in each precision - still load with only the allowlisted types.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.data.traced_fixtures import library, write_shard
from tests.hostile.test_cli_input import assert_one_line_error, refused, run_cli

torch = pytest.importorskip("torch")


class SystemPayload:
    """Unpickled, runs a shell command (pickled as `posix.system`)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class ExecPayload:
    """Unpickled, runs Python (pickled as `builtins.exec`)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


PAYLOADS = {"os.system": (SystemPayload, "system"), "exec": (ExecPayload, "names exec")}


def tiny_checkpoint(**extra) -> dict:
    """A Lightning-layout checkpoint of an 8k-parameter ProofNet, plus `extra` top-level entries."""
    from model.config import ProofNetConfig
    from model.proofnet import ProofNet
    from train.config import TrainConfig

    torch.manual_seed(0)
    config = ProofNetConfig.preset("tiny", d_model=16, d_kv=4, d_ff=16, num_layers=1, num_decoder_layers=1,
                                   num_heads=2, value_hidden=8, value_bins=4, num_sentinels=4)
    net = ProofNet(config)
    return {"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
            "hyper_parameters": {"model_config": dataclasses.asdict(config),
                                 "train_config": dataclasses.asdict(TrainConfig())},
            "global_step": 3, **extra}


def malicious_checkpoint(path: Path, marker: Path, payload: str = "os.system", where: str = "top") -> Path:
    """A checkpoint that is right in every other way, with the payload at the top or deep in the hparams."""
    evil = PAYLOADS[payload][0](marker)
    ckpt = tiny_checkpoint(callbacks={"ModelCheckpoint": evil}) if where == "top" else tiny_checkpoint()
    if where == "hparams":
        ckpt["hyper_parameters"]["train_config"]["optim"]["lr"] = evil
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PAYLOAD_RAN"


# -- proofzero export / eval: a malicious .ckpt ---------------------------------------------------


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("where", ["top", "hparams"])
def test_export_refuses_a_pickle_that_runs_code(capsys, tmp_path, marker, payload, where):
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, payload, where)
    line = refused(capsys, tmp_path, "export", [evil, tmp_path / "hf"], str(evil), "refused",
                   PAYLOADS[payload][1])
    assert "could run code" in line
    assert not marker.exists()


def test_eval_refuses_a_pickle_that_runs_code(capsys, tmp_path, marker):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "one_eq_one.v").write_text("Theorem one_eq_one : 1 = 1.\nProof.\n")
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    refused(capsys, tmp_path, "eval", ["--suite", suite, "--prover", "eval/andor", "--checkpoint", evil,
                                       "--out", tmp_path / "out", "--no-progress"], str(evil), "refused")
    assert not marker.exists()


def test_a_good_checkpoint_still_loads_and_the_allowlist_does_not_outlive_the_load(tmp_path):
    from train.checkpoint import load_checkpoint, zero_safe_globals

    path = tmp_path / "good.ckpt"
    torch.save(tiny_checkpoint(), path)
    before = set(map(str, torch.serialization.get_safe_globals()))
    assert load_checkpoint(path).global_step == 3
    assert set(map(str, torch.serialization.get_safe_globals())) == before
    assert not {str(t) for t in zero_safe_globals()} & before


def test_in_a_fresh_process_the_refusal_is_one_line(tmp_path, marker):
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker)
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "export", str(evil), str(tmp_path / "hf")], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    assert_one_line_error(p.returncode, p.stderr, "export", "refused", "system")
    assert not marker.exists() and not (tmp_path / "hf").exists()


# -- proofzero train: resuming from a malicious .ckpt ---------------------------------------------


def run_cli_quiet(*args) -> int:
    from proofzero.cli import main

    return main([str(a) for a in args])


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A small SFT dataset built from hand-made traced theorems (no Coq needed)."""
    write_shard(tmp_path / "shard.jsonl", library(files=2, per_file=2))
    assert run_cli_quiet("dataset", tmp_path / "shard.jsonl", "--out", tmp_path / "dataset") == 0
    return tmp_path / "dataset"


@pytest.mark.parametrize("how", ["resume=PATH", "auto"])
def test_train_refuses_to_resume_from_a_pickle_that_runs_code(capsys, tmp_path, marker, dataset, monkeypatch, how):
    """Lightning resumes with `torch.load(weights_only=None)`, which this variable turns into a full
    unpickle; the run must refuse the file before Lightning reads it, and load with weights_only=True."""
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    run_dir = tmp_path / "run"
    evil = run_dir / "checkpoints" / "last.ckpt" if how == "auto" else tmp_path / "evil.ckpt"
    malicious_checkpoint(evil, marker)
    args = ["sft", f"data.path={dataset}", f"run_dir={run_dir}", "model=tiny", "wandb.enabled=false",
            "progress=false", "max_steps=1", "data.val_batches=0"]
    if how != "auto":
        args.append(f"resume={evil}")
    refused(capsys, tmp_path, "train", args, str(evil), "refused", "system")
    assert not marker.exists()


# -- DeepSpeed ZeRO directories ---------------------------------------------------------------------


def zero_dir(root: Path, files: dict[str, object]) -> Path:
    """A ZeRO checkpoint directory in Lightning's layout holding `files` (name -> object) under its tag."""
    root.mkdir(parents=True)
    (root / "latest").write_text("checkpoint")
    (root / "checkpoint").mkdir()
    for name, obj in files.items():
        torch.save(obj, root / "checkpoint" / name)
    return root


def test_export_refuses_a_zero_checkpoint_whose_model_states_run_code(capsys, tmp_path, marker):
    zero = zero_dir(tmp_path / "zero.ckpt", {"mp_rank_00_model_states.pt": {"module": {}, "x": SystemPayload(marker)}})
    refused(capsys, tmp_path, "export", [zero, tmp_path / "hf"], "mp_rank_00_model_states.pt", "refused", "system")
    assert not marker.exists()


def test_an_unlisted_deepspeed_type_is_refused(capsys, tmp_path):
    """Only the four types DeepSpeed's own checkpoints hold are allowed, not DeepSpeed as a whole."""
    pytest.importorskip("deepspeed")
    from deepspeed.runtime.fp16.loss_scaler import LossScaleProfile

    zero = zero_dir(tmp_path / "zero.ckpt", {"mp_rank_00_model_states.pt": {"module": {}},
                                             "zero_pp_rank_0_mp_rank_00_optim_states.pt":
                                                 {"optimizer_state_dict": {"x": LossScaleProfile.FUSED}}})
    refused(capsys, tmp_path, "export", [zero, tmp_path / "hf"], "optim_states.pt", "refused", "LossScaleProfile")


def test_weights_only_loads_overrides_a_loader_that_asks_for_a_full_unpickle(tmp_path, marker):
    """DeepSpeed's zero_to_fp32 and checkpoint engine call torch.load(weights_only=False) themselves."""
    import pickle

    from train.checkpoint import weights_only_loads

    path = tmp_path / "evil.pt"
    torch.save({"x": SystemPayload(marker)}, path)
    before = {k: os.environ.get(k) for k in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")}
    with weights_only_loads([]), pytest.raises(pickle.UnpicklingError, match="posix.system"):
        torch.load(path, weights_only=False)
    assert not marker.exists()
    assert {k: os.environ.get(k) for k in before} == before


def test_the_deepspeed_strategy_loads_with_weights_only(tmp_path, marker, monkeypatch):
    """Lightning's DeepSpeed strategy resumes through DeepSpeed's engine, which unpickles in full; the
    trainer's strategy wraps that load (Lightning will not run DeepSpeed on CPU: the load is stubbed)."""
    pytest.importorskip("deepspeed")
    import pickle

    from lightning.pytorch.strategies import DeepSpeedStrategy

    from train.trainer import SafeDeepSpeedStrategy

    path = tmp_path / "evil.pt"
    torch.save({"x": SystemPayload(marker)}, path)
    monkeypatch.setattr(DeepSpeedStrategy, "load_checkpoint",
                        lambda self, checkpoint_path, weights_only=None: torch.load(checkpoint_path, weights_only=False))
    strategy = SafeDeepSpeedStrategy(stage=2)
    with pytest.raises(pickle.UnpicklingError):
        strategy.load_checkpoint(path)
    assert not marker.exists()


# -- real ZeRO checkpoints, written by DeepSpeed itself ------------------------------------------


def deepspeed_run(mode: str, out: Path, precision: str, stage: int) -> str:
    port = 29600 + 10 * stage + {"fp32": 0, "bf16": 1, "fp16": 2}[precision] + (5 if mode == "resume" else 0)
    p = subprocess.run([sys.executable, str(REPO / "tests" / "hostile" / "deepspeed_checkpoint.py"), mode, str(out),
                        precision, str(stage)], cwd=REPO, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(REPO), "MASTER_PORT": str(port)})
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def inject(path: Path, marker: Path) -> None:
    """Rewrite a DeepSpeed file with the payload added beside what DeepSpeed wrote."""
    from train.checkpoint import zero_safe_globals

    with torch.serialization.safe_globals(zero_safe_globals()):
        state = torch.load(path, map_location="cpu", weights_only=True)
    state["optimizer_state_dict"]["payload"] = SystemPayload(marker)
    torch.save(state, path)


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "stage"), [("fp16", 2), ("bf16", 3)])
def test_real_zero_checkpoints_load_and_a_payload_in_their_optimizer_states_does_not_run(
        capsys, tmp_path, marker, precision, stage):
    """fp16 ZeRO-2 pickles DynamicLossScaler, ZeroStageEnum and fragment_address; bf16 ZeRO-3 LossScaler and
    ZeroStageEnum. Both export and resume (DeepSpeed's own load) with the allowlist; with a payload added
    to the optimizer states (what DeepSpeed's zero_to_fp32 and load_checkpoint unpickle), both refuse."""
    pytest.importorskip("deepspeed")
    zero = tmp_path / "zero.ckpt"
    deepspeed_run("save", zero, precision, stage)
    rc, err = run_cli(capsys, "export", zero, tmp_path / "hf")
    assert rc == 0, err
    assert json.loads(deepspeed_run("resume", zero, precision, stage).splitlines()[-1]) == {"global_step": 1}
    (optim,) = (zero / "checkpoint").glob("*optim_states.pt")
    inject(optim, marker)
    refused(capsys, tmp_path, "export", [zero, tmp_path / "hf2"], optim.name, "refused", "system")
    result = json.loads(deepspeed_run("resume", zero, precision, stage).splitlines()[-1])
    assert "posix.system" in result.get("error", ""), result
    assert not marker.exists()


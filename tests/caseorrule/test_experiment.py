"""`proofzero caseorrule run` end to end, very small: a 2-layer 32-wide GPT-2 trained from scratch for 40
steps on upstream's 3-hole addition split and on the random split, every question of the 100 x 100 grid
answered, accuracy per region, the heat map; then resumed to 60 steps; then loaded back by path as
a Hugging Face causal LM (the cluster's `model.name`)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("lightning")

TINY = ["model.n_embd=32", "model.n_head=2", "train.data.batch_size=64", "train.data.val_batches=2",
        "train.log_every_n_steps=5", "train.val_every_n_steps=20", "train.checkpoint_every_n_steps=20",
        "train.optim.warmup_steps=5", "eval_batch_size=2048", "--no-progress"]


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "proofzero.cli", "caseorrule", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def rows_of(path):
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def train_losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["kind"] == "train"}


@pytest.mark.slow
def test_run_trains_answers_the_grid_reports_regions_and_resumes(tmp_path):
    run_dir = tmp_path / "run"
    proc = cli("run", f"run_dir={run_dir}", "train.max_steps=40", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "inside the squares" in proc.stdout and "outside the squares" in proc.stdout and "test points" in proc.stdout
    assert "srun" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr

    summary = json.loads((run_dir / "summary.json").read_text())
    holes, random = summary["arms"]["holes"], summary["arms"]["random"]
    assert holes["split"] == "3hole_1411_0-100" and random["split"] == "random_split_0.7_7000_3000_0-100"
    assert {k: v["total"] for k, v in holes["regions"].items()} == {
        "train": 8589, "test": 1411, "out_of_squares": 8589, "in_squares": 1411, "square_1": 441, "square_2": 441, "square_3": 529}
    assert {k: v["total"] for k, v in random["regions"].items()} == {"train": 7000, "test": 3000}
    assert sum(v["total"] for v in holes["test_by_distance"].values()) == 1411
    assert max(int(d) for d in holes["test_by_distance"]) == 12  # the centre of the 23 x 23 square

    # every grid point answered once; the summary's counts are the predictions' own
    for name, arm in (("holes", holes), ("random", random)):
        head, rows = rows_of(run_dir / name / "predictions.jsonl")
        assert head == {"step": 40, "rows": 10000}
        assert sorted(r["id"] for r in rows) == list(range(10000))
        for side in ("train", "test"):
            assert arm["regions"][side]["correct"] == sum(r["correct"] for r in rows if r["side"] == side)
        assert all(r["correct"] == (r["generated"] == str(r["a"] + r["b"])) for r in rows)

    losses = train_losses(run_dir / "holes")
    assert max(losses) == 40 and losses[40] < 0.7 * losses[5], losses  # it learns: from ln(1200) ~ 7.1 down

    import matplotlib.image

    image = matplotlib.image.imread(run_dir / "heatmap.png")
    assert image.shape[0] > 300 and image.shape[1] > 2 * image.shape[0] * 0.9  # two square panels side by side
    assert (run_dir / "distance.png").stat().st_size > 10_000 and (run_dir / "curves.png").stat().st_size > 10_000
    assert [r["step"] for r in holes["test_during_training"]] == [20, 40]
    model_dir = run_dir / "holes" / "model"
    assert (model_dir / "config.json").is_file() and (model_dir / "tokenizer.json").is_file()

    # rerun with more steps: resumes from step 40 (same curve), answers again at the new step
    proc = cli("run", f"run_dir={run_dir}", "train.max_steps=60", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = train_losses(run_dir / "holes")
    assert max(again) == 60 and {s: again[s] for s in losses} == losses
    assert rows_of(run_dir / "holes" / "predictions.jsonl")[0]["step"] == 60

    # the exported model loads back by path, as a cluster run names a Hugging Face model
    proc = cli("run", f"run_dir={tmp_path / 'by_name'}", f"model.name={model_dir}", "compare_random=false",
               "train.max_steps=3", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_name = json.loads((tmp_path / "by_name" / "summary.json").read_text())
    assert list(by_name["arms"]) == ["holes"]


@pytest.mark.parametrize("overrides, message", [
    (["train.model=small"], "train.model: not used here"),
    (["split.squares=no_such_squares"], "no_such_squares"),
    (["split.kind=dir", "split.path=/nonexistent"], "/nonexistent"),
    (["format=scratchpad", "task=linear_regression"], "scratchpad format exists for"),
    (["split.kind=length"], "task=addition compare_random=false"),
    (["model.n_embd=30"], "multiple of model.n_head"),
])
def test_bad_configs_are_one_line_errors(tmp_path, overrides, message):
    proc = cli("run", f"run_dir={tmp_path / 'r'}", *overrides, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_model_that_is_not_here_and_examples_too_long_are_one_line_errors(tmp_path):
    proc = cli("run", f"run_dir={tmp_path / 'r'}", f"model.name={tmp_path / 'nothing'}", "compare_random=false", timeout=300)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "model.name=" in proc.stderr, proc.stderr
    proc = cli("run", f"run_dir={tmp_path / 'l'}", "format=rfft", "split.kind=length", "compare_random=false",
               "split.train_per_pair=2", "split.test_per_length=2", timeout=300)
    assert proc.returncode == 2 and "tokens; the model holds 16" in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "l").exists()  # a run that could not start leaves nothing


def test_a_split_directory_of_another_task_is_refused(tmp_path):
    split_dir = tmp_path / "mod"
    assert cli("split", "mod_addition", "--squares", "mod_addition_3hole_2803", "--out", str(split_dir)).returncode == 0
    proc = cli("run", f"run_dir={tmp_path / 'r'}", "split.kind=dir", f"split.path={split_dir}", timeout=120)
    assert proc.returncode == 2 and "outside addition's grid" in proc.stderr, proc.stderr
    assert not (tmp_path / "r").exists()


def test_configs_load():
    from proofzero.caseorrule import CaseOrRuleConfig
    from proofzero.config import load_config

    local = load_config(CaseOrRuleConfig, "caseorrule/addition_3hole.yaml")
    assert local.model.from_scratch and local.split.squares == "addition_3hole_1411" and local.compare_random
    cluster = load_config(CaseOrRuleConfig, "caseorrule/rfft_cluster.yaml")
    assert cluster.format == "rfft" and cluster.split.kind == "length" and cluster.train.strategy == "deepspeed_stage_3"
    assert not cluster.model.from_scratch and not cluster.compare_random

import math
from pathlib import Path

import pytest

from proofzero.cli import main
from proofzero.config import CONFIG_DIR, load_config
from train.config import TrainConfig
from train.module import lr_lambda


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path):
    cfg = load_config(TrainConfig, path)
    assert cfg.stage in ("pretrain", "sft") and cfg.max_steps > 0


def test_schedule_warms_up_then_decays_to_the_floor():
    cfg = load_config(TrainConfig, None, ["max_steps=100", "optim.warmup_steps=10", "optim.min_lr_ratio=0.1"])
    f = lr_lambda(cfg)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f(100) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    lin = lr_lambda(load_config(TrainConfig, None, ["max_steps=100", "optim.warmup_steps=0", "optim.schedule=linear"]))
    assert lin(50) == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["strategy=deepspeed_stage_3"], "needs GPUs"),
        (["strategy=zero9"], "strategy must be one of"),
        (["optim.lrr=1"], "bad config"),
        (["data.path=/nonexistent/dataset"], "no novel_files/ dataset there"),
        (["model=huge"], "unknown preset"),
        (["resume=/nonexistent.ckpt"], "no such checkpoint"),
        (["init_from=/nonexistent"], "init_from=/nonexistent"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys, overrides, message):
    rc = main(["train", "sft", f"run_dir={tmp_path / 'run'}", "wandb.enabled=false", *overrides])
    err = capsys.readouterr().err
    assert rc == 2, err[-2000:]
    assert message in err and "Traceback" not in err


def test_a_missing_corpus_is_a_user_error(tmp_path, capsys):
    assert main(["train", "pretrain", f"data.path={tmp_path}", f"run_dir={tmp_path / 'run'}"]) == 2
    assert "build a corpus with `proofzero corpus`" in capsys.readouterr().err

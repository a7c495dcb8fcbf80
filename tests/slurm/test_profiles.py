"""What runs anywhere, no Slurm needed: the cluster profiles on top of the same configs, the checks
that turn a Slurm/Lightning mismatch into one line, and the warning signal remembered as a flag."""

from __future__ import annotations

import os
import signal

import pytest

from proofzero.cli import UserError
from proofzero.config import load_config, read_profile
from train import slurm
from train.config import TrainConfig

pytest.importorskip("lightning")

SLURM_VARS = ("SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_JOB_NUM_NODES", "SLURM_NNODES", "SLURM_JOB_NAME",
              "SLURM_JOB_ID", "SLURM_PROCID", "SLURM_STEP_ID")


@pytest.fixture()
def no_slurm(monkeypatch):
    for v in SLURM_VARS:
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


def test_slurm_cpu_reads_the_topology_from_the_job(no_slurm):
    no_slurm.setenv("SLURM_NTASKS_PER_NODE", "4")
    no_slurm.setenv("SLURM_JOB_NUM_NODES", "3")
    cfg = load_config(TrainConfig, "train/sft.yaml", ["max_steps=7"], read_profile("slurm-cpu", "train"))
    assert (cfg.accelerator, cfg.devices, cfg.num_nodes, cfg.strategy, cfg.precision) == ("cpu", "4", 3, "ddp", "32-true")
    assert cfg.max_steps == 7 and cfg.model == "tiny"  # the config's own keys, the command line's on top


def test_profiles_sit_between_the_config_and_the_command_line(no_slurm):
    gpu = load_config(TrainConfig, "train/sft_cluster.yaml", [], read_profile("cluster/slurm-gpu", "train"))
    assert (gpu.strategy, gpu.precision, gpu.devices, gpu.num_nodes) == ("deepspeed_stage_3", "bf16-mixed", "auto", 1)
    ours = load_config(TrainConfig, "train/sft_cluster.yaml", ["strategy=deepspeed_stage_2"],
                       read_profile("slurm-gpu", "train"))
    assert ours.strategy == "deepspeed_stage_2" and ours.model == "base"
    local = load_config(TrainConfig, "train/sft_cluster.yaml", ["model=tiny"], read_profile("local-cpu", "train"))
    assert (local.accelerator, local.devices, local.strategy, local.precision) == ("cpu", "1", "auto", "32-true")


def test_rl_and_eval_take_their_own_sections(no_slurm):
    from eval.config import EvalConfig
    from proofzero.rl import RLConfig

    rl = load_config(RLConfig, "rl/cluster.yaml", [], read_profile("slurm-cpu", "rl"))
    assert (rl.learner.accelerator, rl.learner.strategy, rl.actors.policy.device) == ("cpu", "ddp", "cpu")
    assert rl.actors.runner == "ray"  # what the profile does not set stays the config's
    ev = load_config(EvalConfig, "eval/andor.yaml", [], read_profile("slurm-gpu", "eval"))
    assert ev.policy.device == "cuda"


def test_a_bad_profile_is_one_line(tmp_path, no_slurm):
    with pytest.raises(UserError, match="config not found"):
        read_profile("no-such-profile", "train")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trian:\n  devices: 2\n")
    with pytest.raises(UserError, match=r"unknown sections \['trian'\]"):
        read_profile(str(bad), "train")
    bad.write_text("eval: 3\n")
    with pytest.raises(UserError, match="section eval must map keys to values"):
        read_profile(str(bad), "rl")
    bad.write_text("train:\n  devise: 2\n")
    with pytest.raises(UserError, match="bad config"):
        load_config(TrainConfig, "train/sft.yaml", [], read_profile(str(bad), "train"))


@pytest.mark.parametrize("env, overrides, message", [
    ({"SLURM_NTASKS": "2", "SLURM_NTASKS_PER_NODE": "2"}, ["devices=2"], "start training with srun"),
    ({"SLURM_NTASKS": "2", "SLURM_STEP_ID": "0"}, ["devices=2"], "no --ntasks-per-node"),
    ({"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_STEP_ID": "0"}, ["devices=4", "accelerator=cpu"],
     "set devices=2"),
    ({"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": "2", "SLURM_NNODES": "2", "SLURM_STEP_ID": "0"},
     ["devices=2", "accelerator=cpu"], "set num_nodes=2"),
])
def test_a_job_that_does_not_match_the_config_is_one_line(no_slurm, tmp_path, env, overrides, message):
    from train.trainer import TrainSetupError, build_trainer

    for k, v in env.items():
        no_slurm.setenv(k, v)
    no_slurm.setenv("SLURM_JOB_NAME", "proofzero-train")
    cfg = load_config(TrainConfig, "train/sft.yaml", [*overrides, "wandb.enabled=false"])
    with pytest.raises(TrainSetupError, match=message):
        build_trainer(cfg, tmp_path)


def test_an_interactive_job_is_not_treated_as_a_slurm_task(no_slurm):
    no_slurm.setenv("SLURM_NTASKS", "1")
    no_slurm.setenv("SLURM_JOB_NAME", "interactive")
    assert not slurm.in_slurm_job()
    no_slurm.setenv("SLURM_JOB_NAME", "proofzero-train")
    assert slurm.in_slurm_job()


def test_the_warning_signal_is_a_flag_not_the_end_of_the_process(no_slurm):
    before = signal.getsignal(slurm.REQUEUE_SIGNAL)
    try:
        assert not slurm.catch_requeue_signal()  # not a Slurm task: SIGUSR1 is left alone
        assert signal.getsignal(slurm.REQUEUE_SIGNAL) is before
        no_slurm.setenv("SLURM_NTASKS", "1")
        no_slurm.setenv("SLURM_ARRAY_JOB_ID", "41")
        no_slurm.setenv("SLURM_ARRAY_TASK_ID", "3")
        assert slurm.catch_requeue_signal()
        slurm.clear()
        os.kill(os.getpid(), signal.SIGUSR1)  # the default action would end this process
        assert slurm.signalled()
        assert slurm.job_id() == "41_3"  # an array task is requeued as ARRAY_TASK
    finally:
        slurm.clear()
        signal.signal(slurm.REQUEUE_SIGNAL, before)

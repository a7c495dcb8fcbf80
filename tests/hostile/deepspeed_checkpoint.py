"""Write, or resume from, a real DeepSpeed ZeRO checkpoint of a very small ProofNetModule, on the CPU.

    python deepspeed_checkpoint.py save OUT_DIR PRECISION STAGE     # PRECISION: fp32 | bf16 | fp16
    python deepspeed_checkpoint.py resume OUT_DIR PRECISION STAGE

`save` takes one ZeRO step and saves in Lightning's layout (`tag="checkpoint"`, the hyper-parameters as
client state), so the optimizer states hold what DeepSpeed pickles for that precision and stage (its loss
scaler, ZeroStageEnum, fragment_address). `resume` loads it back as Lightning's DeepSpeed strategy does
(`engine.load_checkpoint`), inside `train.checkpoint.weights_only_loads`, and prints one JSON line.
Runs in its own process: it initialises torch.distributed (gloo, world size 1).
"""

import dataclasses
import json
import os
import sys

import torch


def engine_for(precision: str, stage: int):
    import deepspeed

    from model.config import ProofNetConfig
    from train.config import TrainConfig
    from train.module import ProofNetModule

    torch.manual_seed(0)
    config = ProofNetConfig.preset("tiny", d_model=16, d_kv=4, d_ff=16, num_layers=1, num_decoder_layers=1,
                                   num_heads=2, value_hidden=8, value_bins=4, num_sentinels=4)
    module = ProofNetModule(dataclasses.asdict(config), dataclasses.asdict(TrainConfig(stage="sft")))
    ds_config = {"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": stage},
                 "steps_per_print": 10**9}
    if precision != "fp32":
        ds_config[precision] = {"enabled": True}
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    if precision == "fp16":
        # DeepSpeed's CPU accelerator refuses fp16 unless oneDNN has fast fp16 kernels (AVX512-FP16/AMX: some
        # CPUs, not others; CI machines vary). torch computes fp16 on any CPU, only slower, and this script
        # needs DeepSpeed's fp16 checkpoint layout, not speed.
        from deepspeed.accelerator import get_accelerator

        get_accelerator().is_fp16_supported = lambda: True
    engine, *_ = deepspeed.initialize(model=module, optimizer=optimizer, config=ds_config)
    return engine, module


def save(out: str, precision: str, stage: int) -> None:
    engine, module = engine_for(precision, stage)
    tok = module.model_config.tokenizer()
    ids = torch.tensor([tok.encode("n : nat |- n + 0 = n") + [tok.eos_id]] * 2)
    labels = torch.tensor([tok.encode("intros.") + [tok.eos_id]] * 2)
    loss = engine.module.net(ids, torch.ones_like(ids), labels).loss
    engine.backward(loss)
    engine.step()
    client = {"hyper_parameters": dict(module.hparams), "global_step": 1, "epoch": 0}
    engine.save_checkpoint(out, client_state=client, tag="checkpoint")


def resume(out: str, precision: str, stage: int) -> None:
    from train.checkpoint import weights_only_loads, zero_safe_globals

    engine, _ = engine_for(precision, stage)
    try:
        with weights_only_loads(zero_safe_globals()):
            _, client = engine.load_checkpoint(out, load_optimizer_states=True, load_lr_scheduler_states=False)
    except Exception as e:  # noqa: BLE001 - reported to the test, which decides
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    print(json.dumps({"global_step": client["global_step"]}))


if __name__ == "__main__":
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ.get("MASTER_PORT", "29571"),
                      RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    import deepspeed

    deepspeed.init_distributed(dist_backend="gloo")
    {"save": save, "resume": resume}[sys.argv[1]](sys.argv[2], sys.argv[3], int(sys.argv[4]))

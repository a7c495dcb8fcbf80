"""Write a DeepSpeed ZeRO checkpoint of a ProofNetModule in Lightning's layout, on the CPU.

    python zero_checkpoint.py LIGHTNING_CKPT OUT_DIR REFERENCE_PT STAGE

Loads the module from a Lightning checkpoint, hands it to `deepspeed.initialize` as Lightning 2.6's
DeepSpeed strategy does (the LightningModule itself), takes one ZeRO optimizer step so the shards
differ from the input, saves with `tag="checkpoint"` and the hyper-parameters as client state
(what `DeepSpeedStrategy.save_checkpoint` does), and saves the engine's outputs on a probe batch.
Runs in its own process: it initialises torch.distributed (gloo, world size 1).
"""

import os
import sys

import torch

from tests.train.test_export import _batch


def main(src: str, out: str, ref: str, stage: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ.get("MASTER_PORT", "29561"),
                      RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
    import deepspeed

    from train.module import ProofNetModule

    deepspeed.init_distributed(dist_backend="gloo")
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    module = ProofNetModule(**ckpt["hyper_parameters"])
    module.load_state_dict(ckpt["state_dict"])
    config = {"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": stage}, "steps_per_print": 10**9}
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    engine, *_ = deepspeed.initialize(model=module, optimizer=optimizer, config=config)
    ids, mask, labels = _batch(module.net)
    loss = engine.module.net(ids, mask, labels).loss
    engine.backward(loss)
    engine.step()
    engine.eval()
    with torch.no_grad():
        probe = engine.module.net(ids, mask, labels)
    torch.save({"logits": probe.logits, "values": probe.value}, ref)
    client = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer_states")}
    client["global_step"] = ckpt["global_step"] + 1
    engine.save_checkpoint(out, client_state=client, tag="checkpoint")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))

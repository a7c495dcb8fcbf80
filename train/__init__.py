"""Training the proof network: Lightning modules and data modules for pretraining and SFT, the trainer
built from a config (DDP on CPU, DeepSpeed ZeRO on GPUs), and reading checkpoints back for export."""

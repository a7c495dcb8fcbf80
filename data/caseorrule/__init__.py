"""Case-Based or Rule-Based (Hu et al., ICML 2024): the arithmetic tasks, leave-square-out splits and the
plain / scratchpad / Rule-Following Fine-Tuning formats, in the upstream record format."""

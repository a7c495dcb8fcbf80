"""Training data: traced proofs, state-tactic records, datasets with deterministic splits, corpora."""

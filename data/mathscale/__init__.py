"""MathScale (Tang et al., arXiv:2403.02884): concept extraction, the concept graph and its random walks,
few-shot generation prompts, and a formal realisation of concept walks as Coq problems for RL."""

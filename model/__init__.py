"""The proof network: a T5 encoder-decoder with a value head, and batched policy/value inference.

Importing this package costs nothing; torch is imported by `model.proofnet` and `model.inference`.
"""

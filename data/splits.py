"""Deterministic train/val/test assignment by hashing, shared by the SFT datasets and the corpora.

A unit (a theorem, or a whole file) goes to a split by the SHA-256 of a seed string and its key, so
the assignment is the same on every run and machine, needs no global view of the data (a stream
can be split one record at a time), and does not move when other units are added or removed.
Python's `hash()` is salted per process and never used here.

Schemes:
- `random`: the unit is the theorem (key: file path + full name); all its tactics stay together.
- `novel_files`: the unit is the source file (key: file path), so val/test hold whole unseen files.
  The corpus builder splits by file with this same key, so a held-out file's text never reaches
  pretraining through another split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SPLITS = ("train", "val", "test")
SCHEMES = ("random", "novel_files")


@dataclass(frozen=True)
class SplitConfig:
    """Fractions of val and test (train gets the rest) and the seed string that salts the hash."""

    seed: str = "proofzero-splits-v1"
    val: float = 0.05
    test: float = 0.05

    def __post_init__(self) -> None:
        if not (0 <= self.val and 0 <= self.test and self.val + self.test < 1):
            raise ValueError(f"split fractions need 0 <= val, test and val + test < 1 (got {self.val}, {self.test})")


def unit_interval(seed: str, key: str) -> float:
    """A number in [0, 1) determined by (seed, key) alone: the first 8 bytes of their SHA-256."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(key: str, cfg: SplitConfig) -> str:
    """The split of the unit named `key`: val below `val`, test up to `val + test`, train above."""
    x = unit_interval(cfg.seed, key)
    if x < cfg.val:
        return "val"
    if x < cfg.val + cfg.test:
        return "test"
    return "train"


def split_key(scheme: str, full_name: str, file_path: str) -> str:
    """The hashed key of a theorem under a scheme (file path first, so names in two files differ)."""
    if scheme == "random":
        return f"{file_path}\0{full_name}"
    if scheme == "novel_files":
        return file_path
    raise ValueError(f"unknown split scheme {scheme!r}; expected one of {SCHEMES}")


def theorem_split(scheme: str, full_name: str, file_path: str, cfg: SplitConfig) -> str:
    return assign_split(split_key(scheme, full_name, file_path), cfg)

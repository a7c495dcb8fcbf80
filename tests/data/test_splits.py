"""Split assignment: a pure function of (seed, key), the same on every machine and run."""

import hashlib

import pytest

from data.splits import SplitConfig, assign_split, split_key, theorem_split, unit_interval


def test_unit_interval_is_sha256_of_seed_and_key():
    digest = hashlib.sha256(b"seed\0lib/A.v").digest()
    assert unit_interval("seed", "lib/A.v") == int.from_bytes(digest[:8], "big") / 2**64


def test_fractions_are_respected_and_the_seed_matters():
    cfg = SplitConfig(seed="s", val=0.1, test=0.2)
    splits = [assign_split(f"key{i}", cfg) for i in range(20000)]
    assert abs(splits.count("val") / 20000 - 0.1) < 0.01
    assert abs(splits.count("test") / 20000 - 0.2) < 0.01
    other = [assign_split(f"key{i}", SplitConfig(seed="t", val=0.1, test=0.2)) for i in range(20000)]
    assert other != splits


def test_schemes_key_theorems_and_files():
    assert split_key("random", "T.x", "a/T.v") == "a/T.v\0T.x"
    assert split_key("novel_files", "T.x", "a/T.v") == "a/T.v"
    cfg = SplitConfig(val=0.3, test=0.3)
    # novel_files: every theorem of a file goes where the file goes
    assert len({theorem_split("novel_files", f"T.{i}", "a/T.v", cfg) for i in range(50)}) == 1
    assert len({theorem_split("random", f"T.{i}", "a/T.v", cfg) for i in range(50)}) == 3
    with pytest.raises(ValueError):
        split_key("by_author", "T.x", "a/T.v")


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError):
        SplitConfig(val=0.5, test=0.5)

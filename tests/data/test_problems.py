"""Problem pools: the name-hash split, and decontamination against the held-out statements."""

from __future__ import annotations

from data.problems import PoolConfig, build_pools, decontaminate, split_by_hash
from formal.theorem import Theorem
from tests.conftest import REPO


def test_the_split_is_a_fixed_function_of_name_and_salt():
    names = [f"thm_{i}" for i in range(2000)]
    rl, held = split_by_hash(names, 0.6, "s")
    assert set(rl) | set(held) == set(names) and not set(rl) & set(held)
    assert 0.55 < len(rl) / len(names) < 0.65
    assert split_by_hash(reversed(names), 0.6, "s") == (rl, held)
    rl2, _ = split_by_hash(names + ["new_one"], 0.6, "s")  # adding a name moves no other name
    assert set(rl2) - {"new_one"} == set(rl)
    assert split_by_hash(names, 0.6, "other")[0] != rl


def test_decontamination_catches_the_same_statement_under_another_name():
    held = [Theorem("h", "forall n : nat, n + 0 = n")]
    pool = [Theorem("copy", "forall  n : nat,\n  n+0 = n"), Theorem("binders", "n + 0 = n", binders="(n : nat)"),
            Theorem("fine", "forall n : nat, 0 + n = n")]
    kept, removed = decontaminate(pool, held, "heldout")
    assert [t.name for t in kept] == ["fine"]
    assert removed == {"copy": "heldout/h", "binders": "heldout/h"}


def test_the_bundled_suite_pools_are_disjoint_and_say_where_every_name_is():
    pools = build_pools(PoolConfig(), root=REPO)
    d = pools.describe()
    names = set(pools.suite.files)
    assert set(d["rl"]) | set(d["heldout"]) <= names and not set(d["rl"]) & set(d["heldout"])
    assert len(d["heldout"]) + len(d["rl"]) + len(pools.removed) + len(set(pools.suite.invalid) & set(
        n for n in names if n not in d["heldout"])) == len(names)
    assert d["overlap"] == []
    assert not set(d["rl"]) & set(pools.suite.invalid)  # statements that do not elaborate are not attempted
    assert 0.5 < len(d["rl"]) / len(names) < 0.65

"""Problem pools: the name-hash split, and decontamination against the held-out statements."""

from __future__ import annotations

from data.problems import PoolConfig, build_pools, decontaminate, split_by_hash
from formal.theorem import Theorem
from tests.conftest import REPO, requires_coq


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


@requires_coq
def test_a_traced_library_gives_closed_statements_that_elaborate(tmp_path):
    """Real trace of two stdlib files -> TracedSource -> games on real Coq: most statements elaborate
    standalone under their library's import (a section's variables become binders)."""
    import collections

    from data.problems import TracedSource
    from data.trace_run import trace_files
    from data.trace_sources import TraceConfig, find_sources
    from eval.attempts import candidate_policies
    from eval.config import EvalConfig, PolicyConfig
    from eval.games import play
    from proofzero.config import load_config

    cfg = load_config(TraceConfig, "trace/stdlib.yaml")
    root = cfg.root("stdlib").directory()
    trace_files(find_sources([str(root / "Bool" / "Bool.v"), str(root / "Arith" / "Between.v")], cfg), cfg,
                tmp_path / "trace", progress=False)
    problems = TracedSource(tmp_path / "trace", limit=24).problems()
    assert len(problems) == 24 and len({t.name for t in problems}) == 24
    assert problems == TracedSource(tmp_path / "trace", limit=24).problems()  # the same choice every time
    for t in problems:
        assert t.header.startswith("Require Import Coq.Lists.List.") and "Proof" not in t.declaration()
        assert t.name.startswith("lib_Coq_")
    between = [t for t in problems if "Between" in t.name]
    assert between and all(t.binders.startswith("(P Q : nat -> Prop)") for t in between)  # the section's variables
    ecfg = EvalConfig(prover="andor", workers=1, records=False, trees="none",
                      policy=PolicyConfig(kind="candidates", candidates=["intros", "auto", "reflexivity"]))
    policies = candidate_policies(ecfg, "coq")
    statuses = collections.Counter(play(t, "prove", 3, ecfg, policies, None, "g").status for t in problems)
    assert statuses["invalid_statement"] <= 8, statuses  # the rest elaborate standalone
    assert statuses["proved"] >= 3, statuses


def test_library_header_finds_the_library_inside_the_name():
    from data.problems import library_header

    assert library_header("Coq.Bool.Bool.eqb_spec", "stdlib/Bool/Bool.v").splitlines()[-1] == "Require Import Coq.Bool.Bool."
    assert library_header("Coq.Arith.PeanoNat.Nat.add_comm", "stdlib/Arith/PeanoNat.v").splitlines()[-2:] == [
        "Require Import Coq.Arith.PeanoNat.", "Import Coq.Arith.PeanoNat.Nat."]
    assert library_header("x.y", "a/b.v") == ""


def test_traced_statements_join_the_rl_pool_and_are_decontaminated(tmp_path):
    """A traced theorem whose opening goal is a held-out statement never enters the RL pool."""
    import dataclasses

    from data.problems import goal_theorem
    from formal.goal import Goal, Hypothesis
    from tests.data.traced_fixtures import theorem, write_shard

    t = goal_theorem("g", Goal((Hypothesis(("n", "m"), "nat"), Hypothesis(("k",), "nat", "n + m")), "k = m + n"))
    assert t.binders == "(n m : nat) (k : nat := n + m)" and t.statement == "k = m + n"

    base = build_pools(PoolConfig(), root=REPO)
    held = next(h for h in base.heldout.theorems if not h.binders)
    leak = theorem("Coq.Foo.Leak.copy", "stdlib/Foo/Leak.v", [(held.statement, "auto")])
    leak = dataclasses.replace(leak, traced_tactics=(dataclasses.replace(
        leak.traced_tactics[0], goals_before=(Goal((), held.statement),)),))
    fresh = theorem("Coq.Foo.Leak.fresh", "stdlib/Foo/Leak.v", [("n + 0 = n", "auto")])
    (tmp_path / "trace" / "shards").mkdir(parents=True)
    write_shard(tmp_path / "trace" / "shards" / "leak.jsonl", [leak, fresh])
    pools = build_pools(PoolConfig(traced=(str(tmp_path / "trace"),)), root=REPO)
    names = {t.name for t in pools.rl}
    assert "lib_Coq_Foo_Leak_fresh" in names and "lib_Coq_Foo_Leak_copy" not in names
    assert pools.removed["lib_Coq_Foo_Leak_copy"].endswith(f"/{held.name}")
    d = pools.describe()
    assert d["overlap"] == [] and d["rl_sources"][f"traced:{tmp_path / 'trace'}"] == 2
    assert len(pools.rl) == len(base.rl) + 1

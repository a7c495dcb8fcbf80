"""The programmatic variant strategies: what each one writes, on statements of the bundled suite's shape."""

import numpy as np
import pytest

from data.decontaminate import proposition_key
from data.statement import parse, split_top
from data.variants import STRATEGIES, generate, lemma_variants, similarity, variant_name
from formal.goal import Goal, Hypothesis
from formal.suite import load_suite
from formal.theorem import Theorem
from tests.conftest import REPO

R = "Require Import Reals.\nOpen Scope R_scope."
AB = Theorem("ab", "forall a b : R,\n  0 < a -> 0 < b ->\n  a * b = 512 /\\ a <= b", header=R)


def rng():
    return np.random.default_rng(0)


def statements(name: str, theorem: Theorem = AB) -> dict[str, str]:
    return {v.note: v.theorem.statement for v in generate(theorem, [name], rng())}


def test_parse_reads_variables_hypotheses_and_conclusion():
    shape = parse(AB)
    assert shape.variables == (("a", "R"), ("b", "R"))
    assert shape.hypotheses == ("0 < a", "0 < b")
    assert shape.conclusion == "a * b = 512 /\\ a <= b"
    assert shape.proposition() == "forall (a b : R), 0 < a -> 0 < b -> a * b = 512 /\\ a <= b"


def test_parse_keeps_a_binder_after_a_hypothesis_in_the_conclusion():
    t = Theorem("t", "forall n : nat, 0 < n -> forall m, m < n -> exists k, k + m = n")
    shape = parse(t)
    assert shape.hypotheses == ("0 < n",)
    assert shape.conclusion == "forall m, m < n -> exists k, k + m = n"


def test_parse_separates_named_hypotheses_in_binders_from_variables():
    t = Theorem("t", "x + y = 3", binders="(x y : nat) (h0 : x = 1) (h1 : y = 2)")
    shape = parse(t)
    assert shape.variables == (("x", "nat"), ("y", "nat"))
    assert shape.hypotheses == ("x = 1", "y = 2")


def test_iff_arrows_are_not_split():
    assert split_top("A <-> B -> C", "->", "<-", "") == ["A <-> B", "C"]


def test_every_statement_of_the_bundled_suite_parses():
    suite = load_suite(REPO / "benchmarks" / "minif2f-rocq-valid")
    assert all(parse(t) is not None for t in suite.theorems)


def test_specialise_sets_one_variable_to_small_values_of_its_type():
    out = statements("specialise")
    assert out["a := 2"] == "forall (b : R), 0 < 2%R -> 0 < b -> 2%R * b = 512 /\\ 2%R <= b"
    assert "a := 1/2" in out and "b := -1" in out
    nat = statements("specialise", Theorem("n", "forall n : nat, n * 0 = 0"))
    assert sorted(nat) == [f"n := {k}" for k in range(6)] and nat["n := 3"] == "3%nat * 0 = 0"


def test_specialise_skips_a_variable_bound_again_inside():
    t = Theorem("t", "forall n : nat, (forall n : nat, n >= 0) -> n = n")
    assert statements("specialise", t) == {}


def test_fix_substitutes_a_pinned_variable_and_drops_its_hypothesis():
    t = Theorem("t", "forall x y : nat, x = 3 -> x + y = y + 3")
    assert statements("fix", t) == {"x := 3 (from hypothesis 1)": "forall (y : nat), (3) + y = y + 3"}


def test_generalise_replaces_a_constant_with_a_fresh_variable_and_its_hypothesis():
    out = statements("generalise")
    assert out["512 -> c, the same statement"] == "forall (a b c : R), 0 < a -> 0 < b -> c = 512%R -> a * b = c /\\ a <= b"
    assert out["512 -> c, any positive value"].endswith("0%R < c -> a * b = c /\\ a <= b")


def test_weaken_drops_hypotheses_and_weakens_a_comparison():
    out = statements("weaken")
    assert out["drop hypothesis 1"] == "forall (a b : R), 0 < b -> a * b = 512 /\\ a <= b"
    t = Theorem("t", "forall x : nat, (x * 2 = 4)%nat")
    out = statements("weaken", t)
    assert out["= -> <="] == "forall (x : nat), (x * 2 <= 4)%nat"
    assert out["= -> >="] == "forall (x : nat), (4 <= x * 2)%nat"
    assert statements("weaken", Theorem("t", "forall x : R, x < 1 -> x < 2", header=R))["< -> <="].endswith("x <= 2")


def test_a_conjunction_is_not_weakened_as_a_comparison():
    assert not any("<=" in k for k in statements("weaken"))


def test_strengthen_hypotheses():
    t = Theorem("t", "forall x : R, 0 <= x -> (x = 1 \\/ x = 2) -> x * x >= 0", header=R)
    out = statements("strengthen", t)
    assert out["hypothesis 1: <= -> <"] == "forall (x : R), 0 < x -> (x = 1 \\/ x = 2) -> x * x >= 0"
    assert out["hypothesis 2: keep disjunct 1"] == "forall (x : R), 0 <= x -> x = 1 -> x * x >= 0"


def test_decompose_splits_conjunctions_into_parts_and_lemma_steps():
    out = statements("decompose")
    assert out["conjunct 1 of 2"] == "forall (a b : R), 0 < a -> 0 < b -> a * b = 512"
    assert out["conjunct 2 of 2"] == "forall (a b : R), 0 < a -> 0 < b -> a <= b"
    assert out["step 2: conjuncts 1..1 given"] == "forall (a b : R), 0 < a -> 0 < b -> a * b = 512 -> a <= b"
    iff = statements("decompose", Theorem("t", "forall x : nat, x = 0 <-> x + x = 0"))
    assert iff == {"iff: ->": "forall (x : nat), x = 0 -> x + x = 0", "iff: <-": "forall (x : nat), x + x = 0 -> x = 0"}


def test_a_disjunction_goal_is_not_split():
    assert statements("decompose", Theorem("t", "forall x : nat, x = 0 /\\ x = 1 \\/ x > 1")) == {}


def test_variants_carry_provenance_and_stable_valid_names():
    variants = generate(AB, sorted(STRATEGIES), rng(), round_=3)
    assert {v.strategy for v in variants} == set(STRATEGIES) - {"fix", "strengthen"}
    for v in variants:
        assert v.parent == "ab" and v.round == 3 and v.theorem.header == R
        assert v.theorem.name == variant_name("ab", v.strategy, v.theorem)
        assert v.theorem.name.startswith(f"ab__{v.strategy}_")
    again = generate(AB, sorted(STRATEGIES), rng(), round_=3)
    assert [v.theorem.name for v in again] == [v.theorem.name for v in variants]
    assert len({proposition_key(v.theorem) for v in variants}) == len(variants)  # no repeats, none = the parent
    assert proposition_key(AB) not in {proposition_key(v.theorem) for v in variants}


def test_a_variant_of_a_variant_keeps_the_root_name():
    v = generate(AB, ["specialise"], rng())[0]
    w = generate(v.theorem, ["weaken"], rng(), round_=1)[0]
    assert w.parent == v.theorem.name and w.theorem.name.startswith("ab__weaken_")


def test_per_strategy_samples_a_seeded_subset():
    a = generate(AB, ["specialise"], np.random.default_rng(1), per_strategy=3)
    b = generate(AB, ["specialise"], np.random.default_rng(1), per_strategy=3)
    assert len(a) == 3 and [v.theorem.name for v in a] == [v.theorem.name for v in b]


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown variant strategy 'simplfy'"):
        generate(AB, ["simplfy"], rng())


def test_lemmas_from_open_goals_skip_evars_and_repeats():
    g = Goal((Hypothesis(("a", "b"), "R"), Hypothesis(("H",), "0 < a")), "a * b > 0")
    evar = Goal((), "?x = 1")
    lemmas = lemma_variants(AB, [g, g, evar], round_=2)
    assert len(lemmas) == 1
    t = lemmas[0].theorem
    assert (t.binders, t.statement, t.header) == ("", "forall (a b : R), 0 < a -> a * b > 0", R)
    assert lemmas[0].strategy == "lemma" and lemmas[0].round == 2 and t.name.startswith("ab__lemma_")


def test_similarity_prefers_the_closer_statement():
    near, far = generate(AB, ["weaken"], rng())[0].theorem, Theorem("f", "forall n : nat, n = n")
    assert 1.0 >= similarity(near, AB) > similarity(far, AB) >= 0.0


def test_a_lemma_that_is_the_parent_after_intros_compares_equal_to_it():
    parent = Theorem("p", "forall n : nat, 2 <= n -> n * n >= 2 * n")
    g = Goal((Hypothesis(("n",), "nat"), Hypothesis(("H",), "2 <= n")), "n * n >= 2 * n")
    (lemma,) = lemma_variants(parent, [g])
    assert proposition_key(lemma.theorem) == proposition_key(parent)


def test_a_negated_comparison_is_not_weakened():
    """`~ x * x = 0` is `~ (x * x = 0)`: `~ x * x <= 0` would be no weakening of it."""
    t = Theorem("t", "forall x : R, x <> 0 -> ~ x * x = 0", header=R)
    assert statements("weaken", t) == {"drop hypothesis 1": "forall (x : R), ~ x * x = 0"}


def test_a_hypothesis_used_by_name_gets_no_variants():
    """The canonical form drops hypothesis names: a statement that uses one cannot be rewritten."""
    t = Theorem("t", "sqrt_pos x h = 1", binders="(x : R) (h : 0 < x)", header=R)
    assert parse(t) is None and generate(t, ["specialise", "weaken"], rng()) == []

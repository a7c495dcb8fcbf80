"""The programmatic variant strategies on Lean 4 statements (textual: Lean cannot run here).

The statements marked "miniF2F" are copied verbatim from yangky11/miniF2F-lean4 @ 5746b7d6 (MIT,
© Meta Platforms; the suite is in ../shared/benchmarks/minif2f-lean4, see configs/suites/); the others are
written for one point each. What a variant means is Lean's business (the filters elaborate it); these
tests pin what the strategies write.
"""

import dataclasses

import numpy as np
import pytest

from data.decontaminate import proposition_key
from data.filters import FilterConfig, StatementFilter
from data.statement import Shape, parse
from data.variants import STRATEGIES, generate, lemma_variants, variant_name
from formal.lean.goals import parse_goal
from formal.lean.session import LeanSession
from formal.lean.suite import parse_lean_source
from formal.suite import load_suite
from formal.theorem import Theorem
from formal.verdict import Verdict
from tests.formal.lean.transcripts import replay_children, replay_config

HEADER = "import Mathlib\nset_option maxHeartbeats 0\nopen BigOperators Real Nat Topology Rat"
REWRITES = ("specialise", "fix", "generalise", "weaken", "strengthen", "decompose")


def lean(source: str) -> Theorem:
    return parse_lean_source(f"{HEADER}\n\n{source} := by sorry")


# miniF2F
ALGEBRA_547 = lean("theorem mathd_algebra_547 (x y : ℝ) (h₀ : x = 5) (h₁ : y = 2) : Real.sqrt (x ^ 3 - 2 ^ y) = 11")
ALGEBRA_123 = lean("theorem mathd_algebra_123 (a b : ℕ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a + b = 20) (h₂ : a = 3 * b) :\n"
                   "  a - b = 10")
ALGEBRA_101 = lean("theorem mathd_algebra_101 (x : ℝ) (h₀ : x ^ 2 - 5 * x - 4 ≤ 10) : x ≥ -2 ∧ x ≤ 7")
ALGEBRA_478 = lean("theorem mathd_algebra_478\n  (b h v : ℝ)\n  (h₀ : 0 < b ∧ 0 < h ∧ 0 < v)\n  (h₁ : v = 1 / 3 * (b * h))\n"
                   "  (h₂ : b = 30)\n  (h₃ : h = 13 / 2) :\n  v = 65")
NUMBERTHEORY_530 = lean("theorem mathd_numbertheory_530 (n k : ℕ) (h₀ : 0 < n ∧ 0 < k) (h₀ : (n : ℝ) / k < 6)\n"
                        "  (h₁ : (5 : ℝ) < n / k) : 22 ≤ Nat.lcm n k / Nat.gcd n k")
LINEAR_EQ = lean("theorem algebra_2varlineareq_xpeeq7_2xpeeq3_eeq11_xeqn4 (x e : ℂ) (h₀ : x + e = 7)\n"
                 "  (h₁ : 2 * x + e = 3) : e = 11 ∧ x = -4")
IMO_2019_P1 = lean("theorem imo_2019_p1\n  (f : ℤ → ℤ) :\n  ((∀ a b, f (2 * a) + (2 * f b) = f (f (a + b))) ↔ "
                   "(∀ z, f z = 0 \\/ ∃ c, ∀ z, f z = 2 * z + c))")
SEQ_MUL2PNP1 = lean("theorem induction_seq_mul2pnp1 (n : ℕ) (u : ℕ → ℕ) (h₀ : u 0 = 0)\n"
                    "  (h₁ : ∀ n, u (n + 1) = 2 * u n + (n + 1)) : u n = 2 ^ (n + 1) - (n + 2)")
AIME_1990_P2 = lean("theorem aime_1990_p2 :\n  (52 + 6 * Real.sqrt 43) ^ ((3 : ℝ) / 2) - (52 - 6 * Real.sqrt 43) ^ ((3 : ℝ) / 2) = 828")


def rng():
    return np.random.default_rng(0)


def written(name: str, theorem: Theorem) -> dict[str, tuple[str, str]]:
    """note -> (binders, statement) of each variant the strategy writes."""
    return {v.note: (v.theorem.binders, v.theorem.statement) for v in generate(theorem, [name], rng())}


def test_parse_reads_lean_binders_as_variables_and_hypotheses():
    assert parse(ALGEBRA_547) == Shape((("x", "ℝ"), ("y", "ℝ")), ("x = 5", "y = 2"), "Real.sqrt (x ^ 3 - 2 ^ y) = 11", "lean")
    shape = parse(LINEAR_EQ)
    assert shape.variables == (("x", "ℂ"), ("e", "ℂ")) and shape.conclusion == "e = 11 ∧ x = -4"


def test_a_leading_forall_and_arrows_are_read_like_coqs():
    t = Theorem("t", "∀ (x : ℝ) (n : ℕ), 0 < x → x ^ n > 0", backend="lean")
    assert parse(t) == Shape((("x", "ℝ"), ("n", "ℕ")), ("0 < x",), "x ^ n > 0", "lean")
    ascii_ = Theorem("t", "forall x y : Int, x = 2 -> x + y = y + 2", backend="lean")
    assert parse(ascii_) == Shape((("x", "Int"), ("y", "Int")), ("x = 2",), "x + y = y + 2", "lean")


def test_an_iff_takes_the_arrow_into_its_side():
    """`p ↔ q → r` is `p ↔ (q → r)` in Lean (in Coq `(p <-> q) -> r`): no hypothesis `p ↔ q`."""
    t = Theorem("t", "p ↔ q → r", binders="(p q r : Prop)", backend="lean")
    assert parse(t).hypotheses == () and parse(t).conclusion == "p ↔ q → r"
    assert written("decompose", t) == {"iff: ->": ("(p q r : Prop) (h₀ : p)", "q → r"),
                                       "iff: <-": ("(p q r : Prop) (h₀ : q → r)", "p")}


def test_rendering_renames_hypotheses_and_round_trips():
    """miniF2F's mathd_numbertheory_530 names two hypotheses h₀: the canonical form numbers them afresh."""
    shape = parse(NUMBERTHEORY_530)
    again = shape.theorem(NUMBERTHEORY_530, "t")
    assert again.binders == "(n k : ℕ) (h₀ : 0 < n ∧ 0 < k) (h₁ : (n : ℝ) / k < 6) (h₂ : (5 : ℝ) < n / k)"
    assert again.declaration() == (f"theorem t {again.binders} :\n    22 ≤ Nat.lcm n k / Nat.gcd n k := by")
    assert parse(again) == shape and again.header == HEADER and again.backend == "lean"
    assert again.proposition == f"∀ {again.binders}, 22 ≤ Nat.lcm n k / Nat.gcd n k" == shape.proposition()


def test_hypothesis_names_avoid_the_statements_own_names():
    t = Theorem("t", "h₀ * h₀ > 0", binders="(h₀ : ℝ) (h₁ : 0 < h₀)", backend="lean")
    shape = parse(t)
    assert shape.variables == (("h₀", "ℝ"),) and shape.hypotheses == ("0 < h₀",)
    assert shape.theorem(t, "t").binders == "(h₀ : ℝ) (hv₀ : 0 < h₀)"
    assert parse(shape.theorem(t, "t")) == shape


def test_specialise_writes_values_of_the_variables_type():
    out = written("specialise", ALGEBRA_547)
    assert out["x := 2"] == ("(y : ℝ) (h₀ : (2 : ℝ) = 5) (h₁ : y = 2)", "Real.sqrt ((2 : ℝ) ^ 3 - 2 ^ y) = 11")
    assert out["y := 1/2"] == ("(x : ℝ) (h₀ : x = 5) (h₁ : (1/2 : ℝ) = 2)", "Real.sqrt (x ^ 3 - 2 ^ (1/2 : ℝ)) = 11")
    assert sorted(out) == sorted(f"{v} := {k}" for v in "xy" for k in ("0", "1", "2", "-1", "1/2"))
    nat = written("specialise", ALGEBRA_123)
    assert sorted(nat) == sorted(f"{v} := {k}" for v in "ab" for k in range(6))
    assert nat["b := 3"] == ("(a : ℕ) (h₀ : 0 < a ∧ 0 < (3 : ℕ)) (h₁ : a + (3 : ℕ) = 20) (h₂ : a = 3 * (3 : ℕ))",
                             "a - (3 : ℕ) = 10")
    cast = written("specialise", NUMBERTHEORY_530)["n := 0"]  # a cast of the variable stays a cast
    assert cast[0] == "(k : ℕ) (h₀ : 0 < (0 : ℕ) ∧ 0 < k) (h₁ : ((0 : ℕ) : ℝ) / k < 6) (h₂ : (5 : ℝ) < (0 : ℕ) / k)"
    assert written("specialise", LINEAR_EQ) == {}  # ℂ: no small values
    ascii_ = Theorem("t", "n * 0 = 0", binders="(n : Nat)", backend="lean")
    assert written("specialise", ascii_)["n := 4"] == ("", "(4 : Nat) * 0 = 0")


def test_fix_substitutes_a_pinned_variable_with_its_type():
    assert written("fix", ALGEBRA_547) == {
        "x := 5 (from hypothesis 1)": ("(y : ℝ) (h₀ : y = 2)", "Real.sqrt ((5 : ℝ) ^ 3 - 2 ^ y) = 11"),
        "y := 2 (from hypothesis 2)": ("(x : ℝ) (h₀ : x = 5)", "Real.sqrt (x ^ 3 - 2 ^ (2 : ℝ)) = 11"),
    }
    # a variable named h beside hypotheses h₀..h₃: only `h` itself is replaced
    assert written("fix", ALGEBRA_478) == {"b := 30 (from hypothesis 3)": (
        "(h v : ℝ) (h₀ : 0 < (30 : ℝ) ∧ 0 < h ∧ 0 < v) (h₁ : v = 1 / 3 * ((30 : ℝ) * h)) (h₂ : h = 13 / 2)", "v = 65")}


def test_subscripted_names_are_whole_names():
    t = Theorem("t", "x₁₀ = x₂ - 1", binders="(x₁ x₂ x₁₀ : ℤ) (h₀ : x₁ + x₂ = 3) (h₁ : x₁ = 1)", backend="lean")
    assert written("fix", t) == {
        "x₁ := 1 (from hypothesis 2)": ("(x₂ x₁₀ : ℤ) (h₀ : (1 : ℤ) + x₂ = 3)", "x₁₀ = x₂ - 1")}


def test_generalise_a_literal_of_the_conclusion():
    out = written("generalise", ALGEBRA_547)
    assert out["11 -> c, the same statement"] == (
        "(x y c : ℝ) (h₀ : x = 5) (h₁ : y = 2) (h₂ : c = (11 : ℝ))", "Real.sqrt (x ^ 3 - 2 ^ y) = c")
    assert out["2 -> c, any positive value"] == (
        "(x y c : ℝ) (h₀ : x = 5) (h₁ : y = 2) (h₂ : (0 : ℝ) < c)", "Real.sqrt (x ^ 3 - c ^ y) = 11")
    assert not any(k.startswith("3 ") for k in out)  # the exponent of `x ^ 3` is a ℕ, not a real
    # the type written with the literal; without variables or ascription the type is unknown: none
    aime = written("generalise", AIME_1990_P2)
    assert set(aime) == {"3 -> c, the same statement", "3 -> c, any positive value"}
    assert aime["3 -> c, the same statement"] == (
        "(c : ℝ) (h₀ : c = (3 : ℝ))",
        "(52 + 6 * Real.sqrt 43) ^ ((c : ℝ) / 2) - (52 - 6 * Real.sqrt 43) ^ ((c : ℝ) / 2) = 828")
    assert written("generalise", LINEAR_EQ) == {}  # ℂ


def test_weaken_drops_hypotheses_and_weakens_the_comparison():
    out = written("weaken", ALGEBRA_123)
    assert out == {
        "drop hypothesis 1": ("(a b : ℕ) (h₀ : a + b = 20) (h₁ : a = 3 * b)", "a - b = 10"),
        "drop hypothesis 2": ("(a b : ℕ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a = 3 * b)", "a - b = 10"),
        "drop hypothesis 3": ("(a b : ℕ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a + b = 20)", "a - b = 10"),
        "= -> ≤": ("(a b : ℕ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a + b = 20) (h₂ : a = 3 * b)", "a - b ≤ 10"),
        "= -> ≥": ("(a b : ℕ) (h₀ : 0 < a ∧ 0 < b) (h₁ : a + b = 20) (h₂ : a = 3 * b)", "10 ≤ a - b"),
    }
    strict = Theorem("t", "x > 2", binders="(x : ℝ) (h₀ : 3 < x)", backend="lean")
    assert written("weaken", strict)["> -> ≥"] == ("(x : ℝ) (h₀ : 3 < x)", "x ≥ 2")
    ascii_ = Theorem("t", "x < 2", binders="(x : ℝ) (h₀ : x <= 1)", backend="lean")
    assert written("weaken", ascii_)["< -> ≤"] == ("(x : ℝ) (h₀ : x <= 1)", "x ≤ 2")


def test_a_negated_comparison_is_not_weakened():
    t = Theorem("t", "¬x = 0", binders="(x : ℝ) (h₀ : 0 < x)", backend="lean")
    assert written("weaken", t) == {"drop hypothesis 1": ("(x : ℝ)", "¬x = 0")}


def test_strengthen_hypotheses():
    assert written("strengthen", ALGEBRA_101) == {
        "hypothesis 1: ≤ -> <": ("(x : ℝ) (h₀ : x ^ 2 - 5 * x - 4 < 10)", "x ≥ -2 ∧ x ≤ 7")}
    t = Theorem("t", "x * x ≥ 0", binders="(x : ℝ) (h₀ : 0 ≤ x) (h₁ : x = 1 ∨ x = 2)", backend="lean")
    out = written("strengthen", t)
    assert out["hypothesis 2: keep disjunct 2"] == ("(x : ℝ) (h₀ : 0 ≤ x) (h₁ : x = 2)", "x * x ≥ 0")
    ascii_ = Theorem("t", "x * x >= 0", binders="(x : ℝ) (h₀ : x >= 1 \\/ x = 0)", backend="lean")
    assert written("strengthen", ascii_)["hypothesis 1: keep disjunct 1"] == ("(x : ℝ) (h₀ : x >= 1)", "x * x >= 0")


def test_decompose_conjunctions_iffs_and_conjunctive_hypotheses():
    assert written("decompose", LINEAR_EQ) == {
        "conjunct 1 of 2": ("(x e : ℂ) (h₀ : x + e = 7) (h₁ : 2 * x + e = 3)", "e = 11"),
        "conjunct 2 of 2": ("(x e : ℂ) (h₀ : x + e = 7) (h₁ : 2 * x + e = 3)", "x = -4"),
        "step 2: conjuncts 1..1 given": ("(x e : ℂ) (h₀ : x + e = 7) (h₁ : 2 * x + e = 3) (h₂ : e = 11)", "x = -4"),
    }
    assert written("decompose", ALGEBRA_123) == {"hypothesis 1 split": (
        "(a b : ℕ) (h₀ : 0 < a) (h₁ : 0 < b) (h₂ : a + b = 20) (h₃ : a = 3 * b)", "a - b = 10")}
    iff = written("decompose", IMO_2019_P1)
    assert iff["iff: ->"] == ("(f : ℤ → ℤ) (h₀ : (∀ a b, f (2 * a) + (2 * f b) = f (f (a + b))))",
                              "(∀ z, f z = 0 \\/ ∃ c, ∀ z, f z = 2 * z + c)")
    assert set(iff) == {"iff: ->", "iff: <-"}
    disjunction = lean("theorem numbertheory_sqmod3in01d (a : ℤ) : a ^ 2 % 3 = 0 ∨ a ^ 2 % 3 = 1")  # miniF2F
    assert written("decompose", disjunction) == {} and written("weaken", disjunction) == {}


@pytest.mark.parametrize("binders, statement", [
    ("{n : ℕ} (h₀ : 0 < n)", "n ^ 2 > 0"),  # implicit
    ("(p : ℕ) [Fact p.Prime]", "p ≥ 2"),  # instance
    ("(x : ℝ) ⦃y : ℝ⦄ (h₀ : x < y)", "x ≤ y"),  # strict implicit
    ("(x : ℝ := 2) (h₀ : 0 < x)", "x ^ 2 > 0"),  # default value
    ("(x : ℝ) (hx : 0 ≤ x)", "NNReal.sqrt ⟨x, hx⟩ = 2"),  # a hypothesis used by name: renaming would break it
    ("(x y)", "x = y"),  # no type
    ("(x : ℝ) (x : ℕ)", "x = 0"),  # shadowing
])
def test_what_the_parse_cannot_read_gets_no_variants(binders, statement):
    t = Theorem("t", statement, binders=binders, header=HEADER, backend="lean")
    assert parse(t) is None
    assert generate(t, REWRITES, rng()) == []
    assert [v.strategy for v in generate(t, ["negation"], rng())] == ["negation"]


@pytest.mark.parametrize("theorem", [
    SEQ_MUL2PNP1,  # miniF2F: n is bound again by `∀ n` in h₁
    Theorem("t", "(∑ k ∈ Finset.range 4, k) = 6 ∧ k = 1", binders="(k : ℕ) (h₀ : k = 1)", backend="lean"),
    Theorem("t", "Finset.card (Finset.filter (fun n => 6 ∣ n) (Finset.range 12)) = n", binders="(n : ℕ) (h₀ : n = 2)",
            backend="lean"),
    Theorem("t", "IsLeast { n : ℕ | 2 < n } n", binders="(n : ℕ) (h₀ : n = 3)", backend="lean"),
    Theorem("t", "(fun ⟨m, n⟩ => m + n : ℕ × ℕ → ℕ) (1, 2) = n", binders="(n : ℕ) (h₀ : n = 3)", backend="lean"),
])
def test_a_variable_bound_again_inside_is_not_substituted(theorem):
    assert written("specialise", theorem) == {} and written("fix", theorem) == {}


def test_lean_variants_carry_provenance_distinct_keys_and_valid_declarations():
    variants = generate(ALGEBRA_478, sorted(STRATEGIES), rng(), round_=2)
    assert {v.strategy for v in variants} == set(STRATEGIES) - {"strengthen"}
    keys = [proposition_key(v.theorem) for v in variants]
    assert len(set(keys)) == len(keys)
    assert proposition_key(parse(ALGEBRA_478).theorem(ALGEBRA_478, "p")) not in keys
    for v in variants:
        assert v.parent == "mathd_algebra_478" and v.round == 2 and v.theorem.backend == "lean"
        assert v.theorem.header == HEADER and v.theorem.name == variant_name("mathd_algebra_478", v.strategy, v.theorem)
        if v.strategy != "negation":
            assert parse(v.theorem).theorem(v.theorem, v.theorem.name) == v.theorem  # already canonical
            assert v.theorem.declaration().startswith(f"theorem {v.theorem.name} (")


def test_two_variants_that_say_the_same_thing_compare_equal():
    """Hypothesis names are the rendering's, not the source's: the same proposition reached by two
    routes, or written with other names, renders to one text."""
    named = Theorem("a", "x ^ 2 < 9", binders="(x : ℝ) (hx : 0 < x) (hx' : x < 3) (h : x ≠ 1)", backend="lean")
    numbered = Theorem("b", "x ^ 2 < 9", binders="(x : ℝ) (h₀ : 0 < x) (h₁ : x < 3) (h₂ : x ≠ 1)", backend="lean")
    assert parse(named) == parse(numbered)

    def drop(t, k):
        return next(v.theorem for v in generate(t, ["weaken"], rng()) if v.note == f"drop hypothesis {k}")

    one_then_two, two_then_one = drop(drop(named, 1), 1), drop(drop(numbered, 2), 1)
    assert one_then_two.binders == two_then_one.binders == "(x : ℝ) (h₀ : x ≠ 1)"
    assert proposition_key(one_then_two) == proposition_key(two_then_one)


def test_a_lemma_from_a_lean_goal_is_the_parent_in_canonical_form():
    """The goal text is the recorded REPL's answer to `theorem aa (x : Nat) (h1 : x  = 2) : x = 2`
    (tests/fixtures/lean-repl/assumption_proof)."""
    parent = parse_lean_source("theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry")
    (lemma,) = lemma_variants(parent, [parse_goal("x : Nat\nh1 : x = 2\n⊢ x = 2")])
    assert (lemma.theorem.binders, lemma.theorem.statement, lemma.theorem.backend) == ("(x : Nat) (h₀ : x = 2)", "x = 2", "lean")
    assert proposition_key(lemma.theorem) == proposition_key(parse(parent).theorem(parent, "aa"))
    (unnamed,) = lemma_variants(parent, [parse_goal("x✝ : Nat\n⊢ x✝ = x✝")])  # inaccessible name: kept as printed
    assert unnamed.theorem.binders == "(x✝ : Nat)" and parse(unnamed.theorem) is None


def test_replay_the_filters_ask_lean_in_lean_syntax(tmp_path):
    """The filters on a Lean statement, against the recorded REPL (`assumption_proof`: it elaborates
    `aa` and closes it by `assumption`; every other request is unrecorded and answered with the REPL's
    error shape). The contradictory-hypotheses check, which needs the parse, now sends Lean's binder
    form; the checker is a double that accepts nothing (no Lean here), so nothing is closed."""
    log = tmp_path / "requests.jsonl"
    config = replay_config("assumption_proof", "--log", str(log))
    parent = parse_lean_source("theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry")
    no_checker = lambda t, script: Verdict(False, "compile_error", "no Lean checker here")  # noqa: E731
    f = StatementFilter(FilterConfig(portfolio=("assumption",), workers=1), lambda t: LeanSession(t, config), no_checker)
    report = f.run([parent])
    assert [(r.name, r.reason) for r in report.results] == [("aa", "kept")]
    commands = [req["cmd"] for req in map(_json, log.read_text(encoding="utf-8").splitlines()) if "cmd" in req]
    assert "theorem aa_absurd (x : Nat) (h₀ : x  = 2) :\n    False := by sorry" in commands  # types as written
    assert "theorem aa_negation :\n    ¬ (∀ (x : Nat) (h1 : x  = 2), x = 2) := by sorry" in commands
    # a variant equal to one before it is a duplicate without a session
    (weaker,) = [v.theorem for v in generate(parent, ["weaken"], rng()) if v.note == "drop hypothesis 1"]
    same = dataclasses.replace(weaker, name="again", binders="(x:Nat)", statement="x=2")
    report = f.run([same], pool=[weaker])
    assert [(r.reason, r.detail) for r in report.results] == [("duplicate", weaker.name)]
    assert not replay_children()


def _json(line: str) -> dict:
    import json

    return json.loads(line, strict=False)


def test_every_lean_minif2f_statement_parses_and_its_variants_round_trip(shared_dir):
    theorems = []
    for split in ("Valid", "Test"):
        theorems += load_suite(shared_dir / "benchmarks" / "minif2f-lean4" / "MiniF2F" / split).theorems
    assert len(theorems) == 488
    made = 0
    for t in theorems:
        shape = parse(t)
        assert shape is not None, t.name
        assert parse(shape.theorem(t, t.name)) == shape, t.name
        for v in generate(t, REWRITES, rng()):
            made += 1
            assert parse(v.theorem).theorem(v.theorem, v.theorem.name) == v.theorem, v.theorem.name
    assert made > 4000

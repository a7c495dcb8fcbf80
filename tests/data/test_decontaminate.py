"""Normalized statements: binder and forall forms of one proposition compare equal."""

from pathlib import Path

import pytest

from data.decontaminate import benchmark_keys, proposition_key, statement_key
from formal.suite import load_suite
from formal.theorem import Theorem

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "minif2f-rocq-valid"
KEY = "forall(a:R)(b:R),3*a+2*b=12->a=4->b=0"


@pytest.mark.parametrize(
    "text",
    [
        " (a b : R) :\n  3 * a + 2 * b = 12 ->\n  a = 4 ->\n  b = 0.",  # binders, as after the name
        ": forall a b : R, 3 * a + 2 * b = 12 -> a = 4 -> b = 0.",  # forall, bare binders
        ": forall (a : R) (b : R), 3*a + 2*b = 12 -> a = 4 -> b = 0",
        "(a : R) : forall ( b : R ), (* a comment *) 3 * a + 2 * b = 12 -> a = 4 -> b = 0",  # split and merged
        "Lemma renamed (a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0.",  # a whole declaration
        "Goal forall a b : R, 3 * a + 2 * b = 12 -> a = 4 -> b = 0.",
    ],
)
def test_forms_of_one_statement_are_equal(text):
    assert statement_key(text) == KEY


def test_different_statements_differ():
    assert statement_key("(a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 1.") != KEY
    assert statement_key("(a b : nat) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0.") != KEY
    assert statement_key(": forall a b, 3 * a + 2 * b = 12 -> a = 4 -> b = 0.") != KEY  # untyped binders


def test_suite_theorems_in_both_forms():
    t = Theorem(name="mathd_algebra_109", binders="(a b : R)", statement="3 * a + 2 * b = 12 ->\n  a = 4 ->\n  b = 0")
    assert proposition_key(t) == KEY
    # a suite theorem stated with forall matches a traced theorem stated with binders
    f = Theorem(name="x", statement="forall (f : C -> C) (r : list C), (forall x, f x = 0) -> NoDup r")
    assert proposition_key(f) == statement_key("(f : C -> C) (r : list C) : (forall x, f x = 0) -> NoDup r.")


def test_lean_binders_and_forall():
    lean = Theorem(name="t", binders="(x y : ℝ) (h₀ : x ≠ 0)", statement="x * y = y * x", backend="lean")
    forall_form = ": ∀ (x y : ℝ) (h₀ : x ≠ 0), x * y = y * x := by ring"
    declaration = "theorem t (x y : ℝ) (h₀ : x ≠ 0) : x * y = y * x := by\n  ring"
    assert proposition_key(lean) == statement_key(forall_form, "lean") == statement_key(declaration, "lean")


def test_benchmark_keys_cover_the_suite():
    keys = benchmark_keys([SUITE])
    suite = load_suite(SUITE)
    assert len(keys) == len(suite.theorems)
    assert keys[KEY] == "minif2f-rocq-valid/mathd_algebra_109"

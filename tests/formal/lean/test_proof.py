"""Rendering a ProofStep tree as a Lean 4 tactic script."""

from formal.lean.proof import proof_source, render_proof
from formal.lean.sandbox import check_script, check_tactic
from formal.lean.suite import parse_lean_source
from formal.proof import ProofStep as P


def test_linear_proof():
    """intro h ─ exact h.symm"""
    assert render_proof(P("intro h", (P("exact h.symm"),))) == "intro h\nexact h.symm"


def test_and_node_gets_one_bullet_per_state_in_goal_order():
    """
    apply And.intro
    ├── exact h1.left
    └── apply h2 ─ exact h1.right
    """
    proof = P("apply And.intro", (P("exact h1.left"), P("apply h2", (P("exact h1.right"),))))
    assert render_proof(proof) == "apply And.intro\n· exact h1.left\n· apply h2\n  exact h1.right"


def test_nested_bullets_and_indent():
    """
    constructor
    ├── constructor
    │   ├── rfl
    │   └── rfl
    └── simp
    """
    proof = P("constructor", (P("constructor", (P("rfl"), P("rfl"))), P("simp")))
    assert render_proof(proof, indent=1) == (
        "  constructor\n"
        "  · constructor\n"
        "    · rfl\n"
        "    · rfl\n"
        "  · simp"
    )


def test_multiline_tactics_keep_their_layout():
    """
    induction n with | zero | succ   (one tactic, three lines)
    └── have (two lines) ─ omega     under a bullet
    """
    induction = "induction n with\n| zero => simp\n| succ n ih => simp [ih]"
    have = "have h : 0 < 2 := by\n  norm_num"
    proof = P("constructor", (P(induction), P(have, (P("omega"),))))
    assert render_proof(proof) == (
        "constructor\n"
        "· induction n with\n"
        "  | zero => simp\n"
        "  | succ n ih => simp [ih]\n"
        "· have h : 0 < 2 := by\n"
        "    norm_num\n"
        "  omega"
    )


def test_rendered_scripts_pass_the_sandbox():
    proof = P("apply And.intro", (P("exact h1.left"), P("apply h2", (P("exact h1.right"),))))
    script = render_proof(proof)
    assert check_script(script) is None and check_tactic(script) is None


def test_whole_file():
    theorem = parse_lean_source("import Mathlib\nopen Real\n\ntheorem t (x : ℝ) (h : x = 1) : x + 1 = 2 := by sorry")
    source = proof_source(theorem, P("rw [h]", (P("norm_num"),)))
    assert source == (
        "import Mathlib\nopen Real\n\n"
        "theorem t (x : ℝ) (h : x = 1) :\n    x + 1 = 2 := by\n"
        "  rw [h]\n"
        "  norm_num\n"
    )

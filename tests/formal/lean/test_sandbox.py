"""The Lean tactic sandbox: what may reach the REPL, and the text it is sent as."""

import pytest

from formal.lean.sandbox import check_script, check_tactic, normalize_tactic

ACCEPTED = [
    "rfl",
    "exact h1.left",
    "apply And.intro",
    "intro x hx",
    "nlinarith [sq_nonneg (x - 1), sq_nonneg (x + 1)]",
    "norm_num [Nat.factorial] at h ⊢",
    "simp only [Finset.sum_range_succ, h₀] at *",
    "rw [← sub_eq_zero, show (2:ℝ) = 1 + 1 by norm_num]",
    "constructor <;> linarith",
    "all_goals positivity",
    "refine ⟨?_, ?_⟩",
    "obtain ⟨k, hk⟩ := h",
    "rcases h with ⟨x, rfl⟩ | h",
    "induction n with\n| zero => simp\n| succ n ih => omega",
    "have h : (3 : ℕ) ∣ 9 := by\n  norm_num",
    "calc a = b := by ring\n  _ = c := h",
    "case pos => exact h",
    "next => rfl",
    "exact fun x => x",
    "exact (Finset.card_le_card h).trans (by simp)",
    "have : #s = 3 := hs",  # Finset.card notation, not a command
    "exact #[1, 2].size_pos",
    "exact List.head?_cons",
    "simp [List.get?]",
    "exact h' x'",
    "exact Set.image_subset f '' s",
    "show f '' s ⊆ t",
    "decide",
    "exact (by decide : 2 + 2 = 4)",
    "trace \"sorry is only a word in a string\"",
    "exact h -- sorry in a comment does nothing",
    "/- admit -/ exact h",
    "exact 'a'",
    "exact ⟨'a', 'b'⟩",
    "simp\nexact h",  # two tactics: the sandbox lets it pass, the REPL (which parses one) refuses it
]

REJECTED = {
    "sorry": "gives up a goal",
    "exact sorry": "gives up a goal",
    "admit": "gives up a goal",
    "stop": "gives up a goal",
    "exact sorryAx _ false": "gives up a goal",
    "exact _root_.sorryAx _ false": "gives up a goal",
    "exact ⟨1, sorry⟩": "gives up a goal",
    "refine (by sorry)": "gives up a goal",
    "exact?": "library search",
    "apply?": "library search",
    "rw?": "library search",
    "simp?": "library search",
    "simp_all? [h]": "library search",
    "norm_num? [h]": "library search",
    "hint": "library search",
    "polyrith": "library search",
    "native_decide": "skips the kernel",
    "decide +native": "skips the kernel",
    "decide (config := {native := true})": "skips the kernel",
    "exact Lean.ofReduceBool _ _ rfl": "skips the kernel",
    "run_tac Lean.Elab.Tactic.evalTactic": "skips the kernel",
    "exact by_elab pure (Lean.mkConst ``True.intro)": "skips the kernel",
    "exact eval% 2 + 2": "elaboration time",
    "exact unsafe (unsafeCast 0)": "skips the kernel",
    "bv_decide": "skips the kernel",
    "set_option maxHeartbeats 0 in nlinarith": "command",
    "set_option debug.skipKernelTC true in exact h": "command",
    "open Classical in exact em p": "command",
    "open Foo in sorry": "command",  # either word is enough
    "exact h\ntheorem t : False := by simp": "command",
    "exact h\naxiom cheat : False": "command",
    "exact h\nimport Mathlib": "command",
    "exact h\nend": "command",
    "macro \"x\" : tactic => `(tactic| rfl)": "command",
    "elab \"x\" : tactic => pure ()": "command",
    "exact h\ntermination_by 0": "command",
    "attribute [simp] foo in simp": "command",
    "exact h\n#exit": "commands",
    "#eval 1": "commands",
    "exact h #print axioms": "command",
    "@[simp] rfl": "attributes",
    "exact `(1)": "quotations",
    "exact ``Nat": "quotations",
    "exact «sorryAx» _ false": "gives up",  # the word is found inside the guillemets
    "exact «x y»": "escaped",
    'exact s!"{sorry}"': "interpolated",
    'trace r"x"': "interpolated",
    'trace "unterminated': "unterminated string",
    "exact h /- open": "unterminated comment",
    "ｓｏｒｒｙ": "gives up a goal",  # full-width letters, caught after NFKC
    "exact h\u200b": "ZERO WIDTH SPACE",
    "exact h\u202e": "category Cf",
    "exact\u00a0h": "NO-BREAK SPACE",
    "exact h\u2028sorry": "LINE SEPARATOR",
    "exact\th": "tabs",
    "exact h\0": "NUL",
    "· exact h": "bullets",
    ". exact h": "bullets",
    "| zero => rfl": "cannot start",
    "": "empty",
    "   -- only a comment": "empty",
    "x" * 5000: "longer than",
}


@pytest.mark.parametrize("tactic", ACCEPTED)
def test_accepted(tactic):
    assert check_tactic(tactic) is None, tactic


@pytest.mark.parametrize("tactic,why", REJECTED.items(), ids=[repr(k[:30]) for k in REJECTED])
def test_rejected(tactic, why):
    reason = check_tactic(tactic)
    assert reason is not None and why in reason, (tactic, reason)


def test_non_string_is_rejected():
    assert "must be a string" in check_tactic(None)


def test_cyrillic_lookalike_is_another_identifier_for_lean_too():
    # `ѕorry` (Cyrillic dze) is not the keyword for Lean either: Lean reports an unknown identifier.
    assert check_tactic("exact \u0455orry") is None


def test_theorem_name_cannot_be_used():
    assert "theorem being proved" in check_tactic("exact mathd_algebra_1 x", "mathd_algebra_1")
    assert "theorem being proved" in check_tactic("apply Foo.bar", "Foo.bar")
    assert check_tactic("exact mathd_algebra_10 x", "mathd_algebra_1") is None
    assert check_tactic("-- mathd_algebra_1\nrfl", "mathd_algebra_1") is None


def test_normalized_text():
    assert normalize_tactic("  exact h  -- done\n") == "exact h"
    assert normalize_tactic("/- a\nb -/ exact h") == "exact h"
    assert normalize_tactic("  have h : P := by\n\n    simp -- why\n    ring  ") == "have h : P := by\n  simp\n  ring"
    assert normalize_tactic('trace "a -- b"') == 'trace "a -- b"'
    assert normalize_tactic("induction n with\n| zero => rfl") == "induction n with\n| zero => rfl"
    with pytest.raises(ValueError):
        normalize_tactic("sorry")


def test_whole_scripts_may_have_bullets_but_not_the_rest():
    script = "constructor\n· exact h1.left\n· apply h2\n  exact h1.right"
    assert check_script(script) is None
    assert check_tactic(script) is None  # the renderer's scripts start with a tactic
    assert "gives up" in check_script("constructor\n· sorry\n· rfl")
    assert "command" in check_script("rfl\n\ntheorem x : False := by simp")

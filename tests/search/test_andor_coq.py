"""The AND-OR prover on real Coq: a scripted policy proposes the tactics of known proofs (in a
seeded random order, among distractors) at every state; the search must find which goes where,
split goals into AND nodes, and the trusted checker must accept the rendered proof."""

import re

import pytest

from formal import Theorem
from formal.coq.checker import verify_proof
from formal.coq.session import CoqSession
from search.andor import AndOrConfig, AndOrProver
from search.attempt import Status
from search.node import Kind
from search.policy import ScriptedPolicy
from tests.conftest import FIXTURES, requires_coq

pytestmark = requires_coq

SAMPLES = FIXTURES / "coq" / "minif2f_test_samples.v"
DISTRACTORS = ["auto", "reflexivity", "intros", "lia", "simpl"]

# The sample file's proofs, one tactic expression per search step (bullets and `;` dropped where the
# search can find the structure itself: `split` makes an AND node).
KNOWN = {
    "mathd_algebra_478": ["intros b h v _ H1 H2 H3", "subst", "lra"],
    "mathd_algebra_44": ["intros s t H0 H1", "split", "lra"],
    "mathd_numbertheory_3": ["reflexivity"],
    "mathd_numbertheory_247": [
        "intros n H",
        "pose proof (Nat.div_mod n 11 ltac:(lia)) as E1; pose proof (Nat.mod_upper_bound n 11 ltac:(lia)) as B1",
        "pose proof (Nat.div_mod (3 * n) 11 ltac:(lia)) as E2",
        "rewrite H in E2",
        "lia",
    ],
    "amc12a_2013_p4": [
        "replace 2014%nat with (2012 + 2)%nat by reflexivity; rewrite pow_add",
        "assert (Hp : (2 ^ 2012 <> 0)%R) by (apply pow_nonzero; lra)",
        "field",
    ],
    "amc12a_2002_p6": ["intros n _", "exists (S n)", "split", "lia", "exists 0"],
    "aime_1983_p2": [
        "intros x p f [Hp1 Hp2] [Hx1 Hx2] Hf",
        "rewrite Hf; rewrite (Rabs_right (x - p)) by lra",
        "rewrite (Rabs_left1 (x - 15)) by lra; rewrite (Rabs_left (x - p - 15)) by lra",
        "lra",
    ],
    "imo_1959_p1": [
        "intros n _",
        "rewrite Nat.gcd_comm; replace (21 * n + 4) with ((7 * n + 1) + 1 * (14 * n + 3)) by lia",
        "rewrite Nat.gcd_add_mult_diag_r; rewrite Nat.gcd_comm",
        "replace (14 * n + 3) with (1 + 2 * (7 * n + 1)) by lia; rewrite Nat.gcd_add_mult_diag_r",
        "apply Nat.gcd_1_r",
    ],
    "induction_12dvd4expnp1p20": [
        "induction n as [| n [k Hk]]",
        "exists 2",
        "exists (4 * k - 5)",
        "replace (S n + 1) with (S (n + 1)) by lia; rewrite Nat.pow_succ_r'",
        "assert (4 ^ (n + 1) >= 4) by (replace (n + 1) with (S n) by lia; rewrite Nat.pow_succ_r'; "
        "pose proof (Nat.pow_nonzero 4 n); lia)",
    ],
    "algebra_sqineq_at2malt1": ["intro a", "pose proof (pow2_ge_0 (a - 1))", "nra"],
    "numbertheory_x5neqy2p4": [
        "intros x y H",
        "apply (x5_y2p4_mod11 (x mod 11) (y mod 11)); try (apply Z.mod_pos_bound; lia)",
        "rewrite <- Zpower_mod by lia; rewrite Z.add_mod, <- Zpower_mod, <- Z.add_mod by lia",
        "now rewrite H",
    ],
}


def sample_theorems() -> dict[str, Theorem]:
    """Each sample theorem with the file's imports (and the auxiliary lemma) as its header."""
    text = SAMPLES.read_text()
    prelude = text[: text.index("(* ---------------- mathd_algebra")]
    aux = re.search(r"Lemma x5_y2p4_mod11.*?Qed\.", text, re.S).group(0)
    out = {}
    for m in re.finditer(r"Theorem (\w+)\s*:(.*?)\.\s*\nProof\.", text, re.S):
        name, statement = m.group(1), m.group(2).strip()
        header = prelude + (aux if name == "numbertheory_x5neqy2p4" else "")
        out[name] = Theorem(name, statement, header=header)
    return out


@pytest.fixture(scope="module")
def theorems():
    found = sample_theorems()
    assert sorted(found) == sorted(KNOWN)
    return found


def prove(theorem: Theorem, tactics: list[str], **config):
    def verify(script):
        v = verify_proof(theorem, script)
        return v.verified, v.message

    policy = ScriptedPolicy([*tactics, "reflexivity", "lia", "auto"] + DISTRACTORS, seed=1)
    prover = AndOrProver(policy, AndOrConfig(**{"k": 16, "max_expansions": 200, **config}))
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, verify)
    return attempt, prover.last_tree


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_the_search_proves_each_sample_with_a_scripted_policy(theorems, name):
    attempt, tree = prove(theorems[name], KNOWN[name])
    assert attempt.status is Status.PROVED, attempt.message
    assert attempt.proof and "verified" in attempt.message
    tree.root.check_invariants()
    if name in ("amc12a_2002_p6", "induction_12dvd4expnp1p20"):
        # split / induction leave two independent goals: the proof goes through an AND node
        assert any(n.kind is Kind.AND and n.proved for n in tree.root.iter_nodes())
        assert "{" in attempt.proof


def test_a_spent_budget_is_a_failure_with_its_budget_stated(theorems):
    attempt, tree = prove(theorems["imo_1959_p1"], ["intros n _", "auto"], max_expansions=3)
    assert attempt.status is Status.FAILED
    assert "3 expansions" in attempt.message and attempt.env["expansions"] == 3


def test_a_dead_root_costs_one_expansion_not_the_budget():
    """Every proposed tactic fails at the root, and progressive sampling (C = 0.01, alpha = 0.6) asks
    for no second round: the search is exhausted after one expansion, whatever the budget."""
    theorem = Theorem("one_is_two", "1 = 2")
    policy = ScriptedPolicy(["reflexivity", "exact I", "lia"], seed=0)
    prover = AndOrProver(policy, AndOrConfig(k=3, max_expansions=200))
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, lambda script: (False, "unused"))
    assert attempt.status is Status.FAILED
    assert attempt.env["expansions"] == 1 and attempt.env["stopped_by"] == "exhausted"
    assert attempt.tactics_used == 3


@pytest.mark.parametrize("prover_name", ["andor", "bestfirst", "htps"])
@pytest.mark.parametrize(
    "statement, split",
    [
        ("(exists n : nat, n = 0 /\\ n + 0 = 0) /\\ True", "split; [eexists; split |]"),
        ("True /\\ (exists n : nat, n = 0 /\\ n + 0 = 0)", "split; [| eexists; split]"),
    ],
)
def test_a_proof_through_goals_that_share_an_evar_renders_as_the_session_ran_it(statement, split, prover_name):
    """The split leaves a goal of its own and two goals sharing ?n: an AND node whose second state has
    two goals. The rendered script must address that group as the session did (unfocused, after the
    one-goal state's block), or the checker answers `No such goal`."""
    from search.bestfirst import BestFirstConfig, BestFirstProver
    from search.htps import HTPSConfig, HTPSProver

    theorem = Theorem("shared_evar", statement)
    checked = []

    def verify(script):
        v = verify_proof(theorem, script)
        checked.append((script, v.message))
        return v.verified, v.message

    policy = ScriptedPolicy([split, "exact I", "reflexivity"], seed=0)
    prover = {"andor": lambda: AndOrProver(policy, AndOrConfig(k=3, max_expansions=20)),
              "bestfirst": lambda: BestFirstProver(policy, BestFirstConfig(k=3, max_expansions=20)),
              "htps": lambda: HTPSProver(policy, HTPSConfig(k=3, max_expansions=20))}[prover_name]()
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, verify)
    assert attempt.status is Status.PROVED, checked
    assert ": {" in attempt.proof


def test_a_tactic_written_with_its_final_period_renders_as_one_sentence():
    """The session accepts `lia.` (the sandbox strips the '.'); the rendered script must not say `lia..`."""
    theorem = Theorem("add_zero_dot", "forall n : nat, n + 0 = n", header="Require Import Lia.")

    def verify(script):
        v = verify_proof(theorem, script)
        return v.verified, v.message

    prover = AndOrProver(ScriptedPolicy(["intros.", "lia."], seed=0), AndOrConfig(k=2, max_expansions=6))
    with CoqSession(theorem) as session:
        attempt = prover.prove(theorem.name, session, verify)
    assert attempt.status is Status.PROVED, attempt.message
    assert ".." not in attempt.proof

"""The search and `proofzero eval` on the Lean backend, driven by replays of recorded Lean outputs.

Lean cannot run here. The REPL is the replay double (tests/formal/lean/replay.py: a real subprocess
that answers each recorded command with the real REPL's recorded answer, and anything else with an
error answer), so these tests follow recorded paths only: they pin the wiring -- LeanSession under
the provers, Lean-printed states as the policy's input, Lean proof scripts, checker verdicts into
rows -- not Lean's behaviour on anything unrecorded. The trusted checker either has no `lake` (the
row must then be env_error, never proved) or runs a STAND-IN `lake` that prints a successful
compile and `#print axioms` report in Lean's formats (tests/formal/lean/stand_in_lake.py: not Lean).

The recorded proof (transcript `proof_branching`):

    p q r : Prop, h1 : p ∧ q, h2 : q → r ⊢ p ∧ r
      └ apply And.intro -> case left ⊢ p, case right ⊢ r   (one state: `all_goals sorry` unrecorded)
          └ exact h1.left -> case right ⊢ r
              └ apply h2 -> case right ⊢ q
                  └ exact h1.right -> proof complete
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from formal.lean import repl as repl_module
from formal.lean.proof import render_proof
from formal.lean.sandbox import check_script
from formal.lean.session import LeanSession
from formal.lean.suite import parse_lean_source
from formal.result import TacticError, TacticOk
from search.andor import AndOrConfig, AndOrProver
from search.attempt import Status
from search.bestfirst import BestFirstConfig, BestFirstProver
from search.htps import HTPSConfig, HTPSProver
from search.mcts import MCTS, Expansion, TacticOutcome
from search.node import Kind
from search.policy import ScriptedPolicy
from search.proof import extract_proof
from tests.conftest import REPO
from tests.formal.lean.stand_in_lake import write_stand_in_lake
from tests.formal.lean.transcripts import replay_argv, replay_children, replay_config

COMPLEX_AND = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry\n"
BY_CASES = "theorem foo (x : Int) : x = x := by sorry\n"
# Lean rejects this statement (an unknown identifier); the double answers it with its error shape.
BROKEN = "theorem broken : undefined_function 3 = 3 := by sorry\n"
PROOF = ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]
DISTRACTORS = ["simp", "omega", "rfl", "exact h1", "constructor"]
SCRIPT = "apply And.intro\nexact h1.left\napply h2\nexact h1.right"


@pytest.fixture(autouse=True)
def no_leaked_repl_processes():
    yield
    assert not repl_module.live_processes() and not replay_children()


class Recording(ScriptedPolicy):
    """The scripted policy, keeping every state it was asked about (what a network would read)."""

    def evaluate(self, states, k):
        self.seen = [*getattr(self, "seen", []), *states]
        return super().evaluate(states, k)


def _accept(scripts):
    def verify(script):
        scripts.append(script)
        return True, "accepted by the test (no checker here)"

    return verify


# -- the provers over a LeanSession ---------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda p: AndOrProver(p, AndOrConfig(k=9, max_expansions=20), render=render_proof),
    lambda p: HTPSProver(p, HTPSConfig(k=9, max_expansions=20, batch_size=2), render=render_proof),
    lambda p: BestFirstProver(p, BestFirstConfig(k=9, max_expansions=20), render=render_proof),
], ids=["andor", "htps", "bestfirst"])
def test_replay_provers_find_the_recorded_proof_among_distractors(make):
    theorem = parse_lean_source(COMPLEX_AND)
    policy = Recording([*DISTRACTORS, *PROOF], seed=3)
    prover, scripts = make(policy), []
    with LeanSession(theorem, replay_config("proof_branching")) as session:
        attempt = prover.prove(theorem.name, session, _accept(scripts))
    assert attempt.status is Status.PROVED and attempt.proof == SCRIPT, attempt.message
    assert scripts == [SCRIPT] and check_script(SCRIPT) is None
    # The policy read states as Lean prints them: `h : T` lines, `⊢`, case tags.
    hyps = "p q r : Prop\nh1 : p ∧ q\nh2 : q → r"
    assert policy.seen[0] == f"{hyps}\n⊢ p ∧ r"
    both = f"case left\n{hyps}\n⊢ p\n\ncase right\n{hyps}\n⊢ r"  # both goals in one state
    assert both in policy.seen
    assert all("====" not in s for s in policy.seen)
    proof = prover.last_proof
    assert proof.state == policy.seen[0] and proof.subproofs[0].state.startswith("case left\n")


def test_replay_by_cases_makes_an_and_node_of_lean_printed_goals():
    """`by_cases` leaves two goals; `all_goals sorry` (recorded) isolates them: an AND node. No
    tactic on an isolated goal was recorded, so every one is an error answer and no proof is claimed.

        x : Int ⊢ x = x
          └ by_cases h : x < 0 -> AND ┬ case pos, h : x < 0 ⊢ x = x    (rfl, omega: error answers)
                                      └ case neg, h : ¬x < 0 ⊢ x = x
    """
    theorem = parse_lean_source(BY_CASES)
    prover, scripts = AndOrProver(ScriptedPolicy(["by_cases h : x < 0", "rfl", "omega"], seed=1),
                                  AndOrConfig(k=3, max_expansions=6), render=render_proof), []
    with LeanSession(theorem, replay_config("by_cases")) as session:
        attempt = prover.prove(theorem.name, session, _accept(scripts))
    assert attempt.status is Status.FAILED and not scripts
    (split,) = [c for c in prover.last_tree.root.children if c.kind is Kind.AND]
    assert split.tactic == "by_cases h : x < 0"
    assert [c.state.printed for c in split.children] == [
        "case pos\nx : Int\nh : x < 0\n⊢ x = x",
        "case neg\nx : Int\nh : ¬x < 0\n⊢ x = x",
    ]


def test_replay_split_renders_with_bullets():
    """The real AND split of the by_cases recording, then two closing tactics FED BY HAND (none was
    recorded on the isolated goals): the extracted proof renders with one `·` bullet per goal, and
    its steps carry the Lean-printed states (what a search record stores)."""
    theorem = parse_lean_source(BY_CASES)
    with LeanSession(theorem, replay_config("by_cases")) as session:
        split = session.run_tactic(session.root, "by_cases h : x < 0")
        assert isinstance(split, TacticOk) and len(split.states) == 2
        assert isinstance(session.run_tactic(split.states[0], "omega"), TacticError)  # unrecorded
        tree = MCTS(session.root)
        tree.expand([tree.root], Expansion(-2.0, (TacticOutcome("by_cases h : x < 0", 0.0, split.states),)))
        and_node = tree.root.children[0]
        for child, closing in zip(and_node.children, ("omega", "rfl")):  # by hand, not run
            tree.expand([tree.root, and_node, child], Expansion(-1.0, (TacticOutcome(closing, 0.0, ()),)))
    assert tree.done
    proof = extract_proof(tree.root)
    assert render_proof(proof) == "by_cases h : x < 0\n· omega\n· rfl"
    assert [s.state for s in proof.subproofs] == [s.printed for s in split.states]
    assert proof.subproofs[1].state == "case neg\nx : Int\nh : ¬x < 0\n⊢ x = x"


# -- `proofzero eval` on a Lean suite ---------------------------------------------------------------


def _suite(tmp_path: Path) -> Path:
    d = tmp_path / "suite"
    d.mkdir()
    (d / "complex_and.lean").write_text(COMPLEX_AND)
    (d / "broken.lean").write_text(BROKEN)
    return d


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "checks"\n')
    return project


LEAN = [
    "policy.kind=scripted", "policy.tactics=" + json.dumps([*DISTRACTORS, *PROOF]), "workers=1",
    "lean.repl_argv=" + json.dumps(list(replay_argv("proof_branching"))),
    "lean.tactic_timeout_s=5", "lean.command_timeout_s=5", "lean.start_timeout_s=10", "lean.memory_mb=4096",
]


def _eval(*args, env=None, check=True):
    environment = {k: v for k, v in os.environ.items() if k != "PROOFZERO_LEAN_PROJECT"}
    p = subprocess.run([sys.executable, "-m", "proofzero.cli", "eval", "--no-progress", *map(str, args)],
                       capture_output=True, text=True, cwd=REPO, timeout=300, env={**environment, **(env or {})})
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


def _rows(out: Path, prover: str) -> dict:
    data = json.loads((out / prover / "results.json").read_text())
    return {r["name"]: r for r in data["results"]}


def test_replay_eval_without_lake_is_an_env_error_never_proved(tmp_path):
    """The search finds the recorded proof; the checker cannot run (no lake): env_error, and it says so."""
    out = tmp_path / "out"
    _eval("--suite", _suite(tmp_path), "--out", out, "--prover", "eval/andor", *LEAN,
          "andor.k=9", "andor.max_expansions=20",
          f"lean_checker.project={_project(tmp_path)}", "lean_checker.lake=/nonexistent/lake")
    rows = _rows(out, "andor")
    assert rows["complex_and"]["status"] == "env_error" and rows["complex_and"]["proof"] is None
    message = rows["complex_and"]["message"]
    assert "the search found a proof" in message and "could not check" in message and "lake" in message
    assert rows["broken"]["status"] == "invalid_statement"
    assert not (out / "andor" / "records.jsonl").exists()
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["theorems"]["complex_and"] == {"andor": "env_error"}
    assert (out / "comparison.txt").is_file()


def test_replay_eval_from_a_suite_config_with_a_stand_in_lake(tmp_path):
    """A suite config (statements, Lean project) plus the STAND-IN lake: the rows are proved, with a
    tree view and a search record whose states are Lean-printed."""
    project = _project(tmp_path)
    suite_config = tmp_path / "lean_suite.yaml"
    suite_config.write_text(
        f"name: replayed-lean\nbackend: lean\nformat: lean4\nstatements: {_suite(tmp_path)}\n"
        f"lean:\n  project: {project}\n  toolchain: leanprover/lean4:v4.24.0\n"
        "checker:\n  timeout_s: 30\n  memory_mb: null\n")
    lake, log = write_stand_in_lake(tmp_path / "bin" / "lake"), tmp_path / "lake.json"
    out = tmp_path / "out"
    p = _eval("--suite", suite_config, "--out", out, "--prover", "eval/andor", "--prover", "eval/htps", *LEAN,
              "andor.k=9", "andor.max_expansions=20", "htps.k=9", "htps.max_expansions=20", "htps.batch_size=2",
              f"lean_checker.lake={lake}", env={"FAKE_LEAN": "no_axioms", "FAKE_LEAN_LOG": str(log)})
    for prover in ("andor", "htps"):
        rows = _rows(out, prover)
        assert rows["complex_and"]["status"] == "proved" and rows["complex_and"]["message"] == "verified"
        assert rows["complex_and"]["proof"] == SCRIPT
        assert rows["broken"]["status"] == "invalid_statement"
        assert (out / prover / "trees" / "complex_and.0.html").is_file()
    results = json.loads((out / "andor" / "results.json").read_text())
    assert results["suite"] == "replayed-lean" and results["format"] == "lean4"
    assert results["config"]["lean_checker"]["project"] == str(project)  # from the suite config
    checked = json.loads(log.read_text())
    assert checked["cwd"] == str(project) and "  apply And.intro\n  exact h1.left\n" in checked["text"]
    (record,) = [json.loads(line) for line in (out / "andor" / "records.jsonl").read_text().splitlines()]
    assert record["full_name"] == "complex_and" and record["backend"] == "lean"
    states = [t["state_before"] for t in record["traced_tactics"]]
    assert [t["tactic"] for t in record["traced_tactics"]] == PROOF
    assert states[0] == "p q r : Prop\nh1 : p ∧ q\nh2 : q → r\n⊢ p ∧ r"
    assert all("⊢" in s and "====" not in s for s in states)
    assert "replayed-lean" in p.stdout


def test_replay_eval_refuses_the_coq_automation_baseline_on_lean(tmp_path):
    p = _eval("--suite", _suite(tmp_path), "--out", tmp_path / "out", "--prover", "eval/automation", check=False)
    assert p.returncode == 2 and "Coq scripts" in p.stderr and "Traceback" not in p.stderr


def test_the_minif2f_lean_suite_config_by_name(shared_dir, monkeypatch):
    """`--suite suites/minif2f_lean4_valid`: the statements its env-var defaults name, and its Lean
    project and checker limits as config settings under the command line's own."""
    from proofzero.config import load_config
    from proofzero.eval import EvalConfig, load_suite_arg

    monkeypatch.setenv("PROOFZERO_BENCHMARKS", str(shared_dir / "benchmarks"))
    monkeypatch.setenv("PROOFZERO_LEAN_PROJECT", "/cluster/lean/minif2f")
    suite, overrides = load_suite_arg("suites/minif2f_lean4_valid")
    assert (suite.name, suite.format, len(suite.theorems), len(suite.informal)) == ("minif2f-lean4-valid", "lean4",
                                                                                    244, 244)
    cfg = load_config(EvalConfig, "eval/andor", [*overrides, "lean_checker.timeout_s=60"])
    assert cfg.lean.lean_project == cfg.lean_checker.project == "/cluster/lean/minif2f"
    assert cfg.lean_checker.allowed_axioms == ("propext", "Classical.choice", "Quot.sound")
    assert cfg.lean_checker.memory_mb == 32768 and cfg.lean_checker.timeout_s == 60  # the command line wins

"""Tracing Coq files on real Coq: exact records and value targets, the proof tree, time limits,
resume after a kill, and a slice of the standard library."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data.records import NO_GOALS, TracedTheorem, traced_theorem_from_json
from data.trace import (
    Role,
    TreeStep,
    proof_values,
    sentence_role,
    trace_file,
)
from data.trace_run import trace_files
from data.trace_sources import TraceConfig, find_sources, locate
from formal.coq.document import DocumentConfig
from formal.coq.sentences import split_sentences
from proofzero.config import load_config
from tests.conftest import REPO, requires_coq

# ---------------------------------------------------------------- the proof tree, by hand


def test_values_follow_the_longest_branch():
    """
    a ─t0─► b ─t1─┬─► c ─t2─► ∎
                  ├─► d ─t3 (try: nothing)─► d ─t4─► e ─t5─► ∎
                  └─► x   (shelved evar, solved by unification when t5 ran)

    t5 = −1, t4 = −2, t3 = value of d = −2 (a no-op is not a step), t2 = −1,
    t1 = −1 + min(c −1, d −2, x 0) = −3, t0 = −4.
    """
    steps = [
        TreeStep(("a",), ("b",), "a"),
        TreeStep(("b",), ("c", "d", "x"), "b"),
        TreeStep(("c",), (), "c"),
        TreeStep((), (), "d"),
        TreeStep(("d",), ("e",), "d"),
        TreeStep(("e",), (), "e"),
    ]
    assert proof_values(steps) == [-4, -3, -1, -2, -2, -1]


def test_an_unfinished_branch_has_no_value_nor_anything_above_it():
    """The same tree cut before t5: e is still open, so d, b and a have no value; c does."""
    steps = [
        TreeStep(("a",), ("b",), "a"),
        TreeStep(("b",), ("c", "d", "x"), "b"),
        TreeStep(("c",), (), "c"),
        TreeStep((), (), "d"),
        TreeStep(("d",), ("e",), "d"),
    ]
    assert proof_values(steps, open_goals=frozenset({"e", "x"})) == [None, None, -1, None, None]


def test_a_tactic_on_several_goals_gives_each_all_its_children():
    """
    a ─t0─► b, c ─t1 (all: split)─► b1 b2 c1 c2 ─t2 (all: exact I)─► ∎

    t2 = −1, t1 = −2 for both b and c, t0 = −3.
    """
    steps = [
        TreeStep(("a",), ("b", "c"), "a"),
        TreeStep(("b", "c"), ("b1", "b2", "c1", "c2"), "b"),
        TreeStep(("b1", "b2", "c1", "c2"), (), "b1"),
    ]
    assert proof_values(steps) == [-3, -2, -1]


# ---------------------------------------------------------------- reading sentences


@pytest.mark.parametrize(
    "text, role",
    [("-", Role.FOCUS), ("++", Role.FOCUS), ("{", Role.FOCUS), ("}", Role.FOCUS), ("2: {", Role.FOCUS),
     ("[h]: {", Role.FOCUS), ("2: exact I.", Role.TACTIC), ("all: auto.", Role.TACTIC), ("intros.", Role.TACTIC),
     ("Proof using n.", Role.COMMAND), ("Proof with auto.", Role.COMMAND), ("Unshelve.", Role.COMMAND),
     ("Fail reflexivity.", Role.COMMAND), ("Qed.", Role.END), ("Time Qed.", Role.END), ("Admitted.", Role.END),
     ("Abort.", Role.END)],
)
def test_sentence_roles(text, role):
    (s,) = split_sentences(text)
    assert sentence_role(s) is role


def test_an_ellipsis_ends_a_sentence():
    text = "Proof with auto.\n  split... - exact I.\nQed."
    assert [s.body for s in split_sentences(text)] == ["Proof with auto", "split...", "-", "exact I", "Qed"]
    assert [s.line for s in split_sentences(text)] == [1, 2, 2, 2, 3]


# ---------------------------------------------------------------- a small file, exactly

DEMO = """\
Require Import Arith Program.

Lemma and_swap : forall A B : Prop, A /\\ B -> B /\\ A.
Proof.
  intros A B H. destruct H as [HA HB].
  split.
  - exact HB.
  - exact HA.
Qed.

Lemma lopsided : forall n : nat, n + 0 = n /\\ True.
Proof.
  intro n. split.
  2: { exact I. }
  induction n as [|n IH].
  - reflexivity.
  - simpl. rewrite IH. reflexivity.
Qed.

Theorem no_proof_keyword : True /\\ 1 = 1.
  split.
  { exact I. }
  try discriminate. reflexivity.
Defined.

Lemma selectors : 0 = 0 /\\ 1 = 1 /\\ True.
Proof with auto.
  split; [|split].
  all: try exact I.
  all: reflexivity.
Qed.

Lemma witness : exists n : nat, n = 2.
Proof. eexists. reflexivity. Qed.

Lemma admitted_one : 1 + 1 = 2.
Proof. simpl. Admitted.

Lemma broken : 2 + 2 = 5.
Proof. simpl. reflexivity. Qed.

Definition oops := not_defined.

Lemma uses_broken : 2 + 2 = 5.
Proof. exact broken. Qed.

Module M.
Section S.
Variable n : nat.
Lemma in_section : n = n.
Proof using n. reflexivity. Qed.
End S.
End M.

Local Obligation Tactic := idtac.
Program Definition half (n : nat) : {m : nat | m + m = n + n} := n.
Next Obligation. intro n. reflexivity. Qed.

Goal 3 = 3.
Proof. reflexivity. Qed.
"""

# name, kind, complete, [(tactic, value target)]
EXPECTED = [
    ("demo.and_swap", "Lemma", True,
     [("intros A B H", -4), ("destruct H as [HA HB]", -3), ("split", -2), ("exact HB", -1), ("exact HA", -1)]),
    ("demo.lopsided", "Lemma", True,
     [("intro n", -6), ("split", -5), ("exact I", -1), ("induction n as [|n IH]", -4), ("reflexivity", -1),
      ("simpl", -3), ("rewrite IH", -2), ("reflexivity", -1)]),
    ("demo.no_proof_keyword", "Theorem", True,
     [("split", -2), ("exact I", -1), ("try discriminate", -1), ("reflexivity", -1)]),
    ("demo.selectors", "Lemma", True,
     [("split; [|split]", -2), ("all: try exact I", -1), ("all: reflexivity", -1)]),
    ("demo.witness", "Lemma", True, [("eexists", -2), ("reflexivity", -1)]),
    ("demo.broken", "Lemma", False, [("simpl", None)]),
    ("demo.uses_broken", "Lemma", True, [("exact broken", -1)]),
    ("demo.M.in_section", "Lemma", True, [("reflexivity", -1)]),
    ("demo.half_obligation_1", "Next Obligation", True, [("intro n", -2), ("reflexivity", -1)]),
    ("demo.Unnamed_thm", "Goal", True, [("reflexivity", -1)]),
]

UNIFIED = "unification"


def tree_of(theorem: TracedTheorem) -> dict[int, set]:
    """Tactic index -> indices of the tactics that acted on the goals it created (or UNIFIED for a
    goal no tactic acted on), read from the goal ids alone."""
    acted_by = {g: k for k, t in enumerate(theorem.traced_tactics) for g in t.goal_ids}
    return {k: {acted_by.get(c, UNIFIED) for c in t.children} for k, t in enumerate(theorem.traced_tactics)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "demo.v"
    path.write_text(DEMO)
    return trace_file(path, TraceConfig())


@requires_coq
def test_small_file_gives_the_expected_records(demo):
    got = [(t.full_name, t.kind, t.complete, [(x.tactic, x.value_target) for x in t.traced_tactics])
           for t in demo.theorems]
    assert got == EXPECTED  # admitted_one is not training data: dropped
    assert [(e.line, e.sentence, e.cause, e.theorem) for e in demo.errors] == [
        (40, "reflexivity", "tactic_error", "demo.broken"),
        (42, "Definition oops := not_defined", "command_error", ""),
    ]
    s = demo.stats
    assert (s.proofs, s.complete, s.incomplete, s.admitted, s.qed, s.qed_complete) == (11, 9, 1, 1, 9, 8)
    assert s.steps == sum(len(e[3]) for e in EXPECTED)


@requires_coq
def test_the_proof_tree_comes_from_goal_ids(demo):
    """
    lopsided:  0 intro n ─► 1 split ─┬─► 2 exact I               (inside `2: { }`)
                                     └─► 3 induction ─┬─► 4 reflexivity
                                                      └─► 5 simpl ─► 6 rewrite IH ─► 7 reflexivity
    selectors: 0 split; [|split] ─► {1 all: try exact I (True), 2 all: reflexivity (both equations)}
    witness:   0 eexists ─► {1 reflexivity, the shelved ?n that reflexivity's unification solved}
    """
    by_name = {t.full_name: t for t in demo.theorems}
    assert tree_of(by_name["demo.lopsided"]) == {0: {1}, 1: {2, 3}, 2: set(), 3: {4, 5}, 4: set(), 5: {6},
                                                6: {7}, 7: set()}
    assert tree_of(by_name["demo.selectors"]) == {0: {1, 2}, 1: set(), 2: set()}
    assert len(by_name["demo.selectors"].traced_tactics[2].goal_ids) == 2
    assert tree_of(by_name["demo.witness"]) == {0: {1, UNIFIED}, 1: set()}
    noop = by_name["demo.no_proof_keyword"].traced_tactics[2]
    assert (noop.goal_ids, noop.children, noop.state_before == noop.state_after) == ((), (), True)


@requires_coq
def test_states_are_printed_like_coq_and_structured(demo):
    swap = demo.theorems[0]
    assert (swap.start, swap.end, swap.file_path) == ((3, 1), (9, 5), "demo.v")
    assert swap.statement == "Lemma and_swap : forall A B : Prop, A /\\ B -> B /\\ A"
    ctx = "A, B : Prop\nHA : A\nHB : B\n============================\n"
    split = swap.traced_tactics[2]
    assert split.state_after == f"{ctx}B\n\n{ctx}A"
    assert [g.conclusion for g in split.goals_after] == ["B", "A"]
    assert [h.names for h in split.goals_before[0].hypotheses] == [("A", "B"), ("HA",), ("HB",)]
    assert swap.traced_tactics[3].state_before == f"{ctx}B"
    assert swap.traced_tactics[-1].state_after == NO_GOALS
    assert [t.line for t in swap.traced_tactics] == [5, 5, 6, 7, 8]
    # the obligation's statement is its goal; a `Proof`-less Theorem's is its declaration
    half = demo.theorems[-2]
    assert half.statement.startswith("============================\nforall n : nat")


@requires_coq
def test_a_sentence_past_its_time_limit_is_interrupted(tmp_path):
    path = tmp_path / "slow.v"
    path.write_text("Lemma loops : True.\nProof. do 1000000000 idtac. exact I. Qed.\n\n"
                    "Lemma after : True.\nProof. exact I. Qed.\n")
    trace = trace_file(path, TraceConfig(document=DocumentConfig(sentence_timeout_s=2)))
    assert [(t.full_name, t.complete) for t in trace.theorems] == [("slow.loops", False), ("slow.after", True)]
    assert [(e.line, e.cause) for e in trace.errors] == [(2, "tactic_timeout")]
    assert trace.stats.restarts == 0  # the interrupt was enough


# ---------------------------------------------------------------- many files: resume, stdlib


def _lemma_files(folder: Path, n_files: int = 6, n_lemmas: int = 25) -> None:
    folder.mkdir()
    for k in range(n_files):
        lemmas = [f"Lemma l{k}_{j} : forall n m : nat, n + m + {j} = {j} + m + n.\nProof. intros n m. lia. Qed."
                  for j in range(n_lemmas)]
        (folder / f"f{k}.v").write_text("Require Import Arith Lia.\n\n" + "\n\n".join(lemmas) + "\n")


def _trace_cli(src: Path, out: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "proofzero.cli", "trace", str(src), "--out", str(out),
         "--workers", str(workers), "--no-progress", "document.sentence_timeout_s=60"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(d.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def _output(out: Path) -> dict[str, str]:
    """What a trace leaves that must not depend on how it was run (timings aside)."""
    files = {p.name: p.read_text() for p in sorted((out / "shards").iterdir()) if not p.name.startswith(".")}
    files["errors.jsonl"] = (out / "errors.jsonl").read_text()
    summary = json.loads((out / "summary.json").read_text())
    for timing in ("files_traced_this_run", "wall_time_s", "steps_per_second", "file_seconds_sum", "workers"):
        summary.pop(timing)
    files["summary.json"] = json.dumps(summary, sort_keys=True)
    return files


@requires_coq
def test_a_killed_trace_resumes_to_the_same_output(tmp_path):
    src = tmp_path / "lemmas"
    _lemma_files(src)
    clean = _trace_cli(src, tmp_path / "clean", workers=2)
    assert clean.wait(timeout=120) == 0, clean.stderr.read()

    out = tmp_path / "killed"
    run = _trace_cli(src, out, workers=1)
    deadline = time.monotonic() + 60
    log = out / "files.jsonl"
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):  # the key and two files
        assert time.monotonic() < deadline and run.poll() is None, "the trace ended before it could be killed"
        time.sleep(0.02)
    family = _descendants(run.pid)
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in family if _alive(p)], "workers or coqidetops outlived the killed trace"
    assert len(list((out / "shards").glob("*.jsonl"))) < 6

    resumed = _trace_cli(src, out, workers=2)
    _, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert "resuming" in stderr
    assert json.loads((out / "summary.json").read_text())["files_traced_this_run"] < 6
    assert _output(out) == _output(tmp_path / "clean")
    assert len([k for k in _output(out) if k.endswith(".jsonl") and k != "errors.jsonl"]) == 6


@requires_coq
def test_a_slice_of_the_standard_library_traces_end_to_end(tmp_path):
    cfg = load_config(TraceConfig, "trace/stdlib.yaml")
    root = cfg.root("stdlib").directory()
    files = [root / f for f in ("Init/Peano.v", "Bool/Bool.v", "Logic/Decidable.v")]
    sources = find_sources([str(f) for f in files], cfg)
    assert [s.file_path for s in sources] == ["stdlib/Bool/Bool.v", "stdlib/Init/Peano.v", "stdlib/Logic/Decidable.v"]
    assert "-noinit" in locate(files[0], cfg).flags  # Init/ builds the prelude: it runs without it
    summary = trace_files(sources, cfg, tmp_path / "out", progress=False)
    assert summary["files"] == 3 and summary["files_lost"] == 0
    assert summary["qed_complete_fraction"] >= 0.9
    assert summary["tactic_steps"] > 100
    theorems = [traced_theorem_from_json(json.loads(line))
                for shard in sorted((tmp_path / "out" / "shards").glob("*.jsonl"))
                for line in shard.read_text().splitlines()]
    names = {t.full_name for t in theorems}
    assert {"Coq.Init.Peano.plus_n_O", "Coq.Bool.Bool.negb_involutive", "Coq.Logic.Decidable.dec_not_not"} <= names
    assert all(t.commit.startswith("coq-8.") and t.url == "stdlib" for t in theorems)
    complete = [t for t in theorems if t.complete]
    assert all(x.value_target is not None and x.value_target < 0 for t in complete for x in t.traced_tactics)

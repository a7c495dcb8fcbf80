"""The Coq session on real Coq: branching in any order, timeouts, crash recovery, AND structure."""

import os
import re
import signal

import pytest

from formal import TacticError, TacticOk, TacticTimeout, Theorem
from formal.coq.sentences import split_sentences
from formal.coq.session import CoqConfig, CoqSession
from formal.session import InvalidStatement
from tests.conftest import FIXTURES, requires_coq

pytestmark = requires_coq

NAT = "Require Import Arith Lia."
REALS = "Require Import Reals Lra.\nOpen Scope R_scope."


def test_root_goal_is_structured():
    th = Theorem("t", "x < y -> y > x", header=REALS, binders="(x y : R)")
    with CoqSession(th) as s:
        (goal,) = s.root.goals
        assert [h.names for h in goal.hypotheses] == [("x", "y")]
        assert goal.hypotheses[0].type == "R"
        assert goal.conclusion == "x < y -> y > x"
        assert goal.printed.endswith("============================\nx < y -> y > x")


def test_split_makes_independent_states_and_siblings_in_any_order():
    th = Theorem("t", "forall n : nat, n + 0 = n /\\ 0 + n = n /\\ n = n", header=NAT)
    with CoqSession(th) as s:
        (a,) = s.run_tactic(s.root, "intro n").states
        left, right = s.run_tactic(a, "split").states
        r1, r2 = s.run_tactic(right, "split").states  # the right branch first
        assert s.run_tactic(left, "lia") == TacticOk(())  # then back to the left one
        assert s.run_tactic(r2, "reflexivity").proved
        assert s.run_tactic(r1, "simpl; reflexivity").proved
        assert s.stats.switches >= 2 and s.stats.replayed >= 2


def test_goals_sharing_an_evar_stay_together():
    """
    n <= p  --eapply le_trans-->  [n <= ?m, ?m <= p]   (one state: they share ?m)
            --exact H-->          [p <= p]             (?m := p)
    """
    th = Theorem("t", "forall n p : nat, n <= p -> n <= p", header=NAT)
    with CoqSession(th) as s:
        (a,) = s.run_tactic(s.root, "intros n p H").states
        (both,) = s.run_tactic(a, "eapply Nat.le_trans").states
        assert len(both.goals) == 2
        assert both.goals[0].evars() & both.goals[1].evars()
        (last,) = s.run_tactic(both, "exact H").states
        assert [g.conclusion for g in last.goals] == ["p <= p"]
        assert s.run_tactic(last, "apply le_n").proved


def test_tactic_errors_are_values_and_cached():
    th = Theorem("t", "1 + 1 = 3", header=NAT)
    with CoqSession(th) as s:
        r = s.run_tactic(s.root, "reflexivity")
        assert isinstance(r, TacticError) and not r.rejected
        assert s.run_tactic(s.root, "reflexivity.") == r  # normalised, answered from the cache
        assert s.stats.cache_hits == 1 and s.stats.tactics == 1


def test_rejected_tactics_never_reach_coq():
    th = Theorem("t", "1 + 1 = 2", header=NAT)
    with CoqSession(th) as s:
        for bad in ["admit", "Admitted", "reflexivity. Qed", "all: lia", "Abort", "idtac (* "]:
            r = s.run_tactic(s.root, bad)
            assert isinstance(r, TacticError) and r.rejected, bad
        assert s.stats.tactics == 0 and s.stats.rejected == 6
        assert s.run_tactic(s.root, "reflexivity").proved


def test_each_tactic_text_is_checked_once_with_the_sandbox_verdict(monkeypatch):
    from formal.coq import sandbox
    from formal.coq import session as session_module

    checked = []
    monkeypatch.setattr(session_module, "check_tactic", lambda t: checked.append(t) or sandbox.check_tactic(t))
    th = Theorem("t", "forall n : nat, n = n /\\ n = n", header=NAT)
    with CoqSession(th) as s:
        (a,) = s.run_tactic(s.root, "intro n").states
        left, right = s.run_tactic(a, "split").states
        assert s.run_tactic(left, "reflexivity").proved and s.run_tactic(right, "reflexivity").proved
        for state in (left, right):  # refused the same way each time, and counted each time
            r = s.run_tactic(state, "admit")
            assert isinstance(r, TacticError) and r.rejected and "forbidden tactic 'admit'" in r.message
        assert s.stats.rejected == 2
        assert s.run_tactic(left, None).rejected  # not a string: refused, never remembered
        assert checked == ["intro n", "split", "reflexivity", "admit", None]


def test_a_tactic_is_one_round_trip_and_a_closing_one_two(monkeypatch):
    """Add and Subgoals go out in one write; a failed tactic's Edit_at goes out with the next write;
    only a tactic that empties its focus is followed by the checks (Guarded and the open goals, one
    more write). A cache hit or a refusal writes nothing."""
    from formal.coq.process import CoqProcess

    writes = []
    send = CoqProcess._send
    monkeypatch.setattr(CoqProcess, "_send", lambda self, payload: writes.append(payload) or send(self, payload))
    th = Theorem("t", "forall n : nat, n + 0 = n", header=NAT)
    with CoqSession(th) as s:
        writes.clear()
        (a,) = s.run_tactic(s.root, "intro n").states
        assert len(writes) == 1 and b'"Add"' in writes[0] and b'"Subgoals"' in writes[0]
        assert isinstance(s.run_tactic(a, "reflexivity"), TacticError) and len(writes) == 2  # Coq's error
        (edit,) = s._proc._deferred  # taking the failed sentence back out waits for the next write
        assert edit.startswith(b'<call val="Edit_at">')
        s.run_tactic(a, "reflexivity.")
        s.run_tactic(a, "admit")
        assert len(writes) == 2 and s.stats.cache_hits == 1  # the cache answered, the sandbox refused
        assert s.run_tactic(a, "lia").proved
        assert len(writes) == 4 and b"lia." in writes[2] and not s._proc._deferred
        assert b"Guarded." in writes[3] and writes[3].count(b"<call") == 2
        assert [t for t, _ in s._proc.doc][len(s._prelude):] == list(s._tip_path)


def test_a_replay_gives_each_tactic_more_time_and_keeps_the_document_canonical(monkeypatch):
    """Coq's Timeout is wall-clock: a tactic that once ran just inside it may not on replay. Replayed
    sentences go out with REPLAY_SLACK times the limit; the document still records the sentence the
    path holds, so the next move compares equal and replays nothing more."""
    from formal.coq import session as session_module
    from formal.coq.process import CoqProcess

    writes = []
    send = CoqProcess._send
    monkeypatch.setattr(CoqProcess, "_send", lambda self, payload: writes.append(payload) or send(self, payload))
    th = Theorem("t", "forall n : nat, n + 0 = n /\\ 0 + n = n", header=NAT)
    with CoqSession(th, CoqConfig(tactic_timeout_s=5)) as s:
        (a,) = s.run_tactic(s.root, "intro n").states
        b, c = s.run_tactic(a, "split").states
        os.kill(s._proc.proc.pid, signal.SIGKILL)  # a restart replays the whole path to c
        s._proc.proc.wait()
        writes.clear()
        assert s.run_tactic(c, "reflexivity").proved and s.stats.restarts == 1
        replayed = b"".join(writes)
        relaxed = f"Timeout {5 * session_module.REPLAY_SLACK} split.".encode()
        assert relaxed in replayed
        texts = [t for t, _ in s._proc.doc][len(s._prelude):]
        assert all(t.startswith(("Timeout 5 ", "2: {", "1: {")) or t in "{}" for t in texts), texts
        switches = s.stats.switches
        assert s.run_tactic(c, "reflexivity").proved and s.stats.switches == switches  # cached, no move


def test_timeout_then_the_session_goes_on():
    th = Theorem("t", "forall n : nat, n + 0 = n", header=NAT)
    with CoqSession(th, CoqConfig(tactic_timeout_s=1, grace_s=3)) as s:
        (a,) = s.run_tactic(s.root, "intro n").states
        r = s.run_tactic(a, "let rec loop := idtac; loop in loop")
        assert isinstance(r, TacticTimeout)
        assert s.stats.timeouts == 1 and s.stats.restarts == 0
        assert s.run_tactic(a, "lia").proved


def test_killed_coq_process_is_restarted_and_states_survive():
    th = Theorem("t", "forall n m : nat, n + m = m + n /\\ n * 1 = n", header=NAT)
    with CoqSession(th) as s:
        (a,) = s.run_tactic(s.root, "intros n m").states
        left, right = s.run_tactic(a, "split").states
        os.kill(s._proc.proc.pid, signal.SIGKILL)
        assert s.run_tactic(right, "lia").proved  # replayed on a fresh process
        assert s.stats.restarts == 1
        assert s.run_tactic(left, "apply Nat.add_comm").proved


def test_statement_that_does_not_elaborate():
    with pytest.raises(InvalidStatement, match="not found|was not found|Unknown|unbound"):
        CoqSession(Theorem("t", "undefined_thing 3", header=NAT))


def test_disproof_through_the_negation():
    th = Theorem("t", "n + 0 = 1", header=NAT, binders="(n : nat)")
    neg = th.negation()
    assert neg.statement == "~ (forall (n : nat), n + 0 = 1)"
    with CoqSession(neg) as s:
        (a,) = s.run_tactic(s.root, "intro H").states
        (b,) = s.run_tactic(a, "specialize (H 0)").states
        assert s.run_tactic(b, "discriminate").proved


# -- the eleven miniF2F samples with their real proofs ------------------------------------------

DECL = re.compile(r"(?:Theorem|Lemma)\s+(\w+)\s*:\s*(.*)\.\s*$", re.S)


def _samples(text):
    """(theorem, proof sentences) for each proof in the file; earlier ones join the header."""
    sents = split_sentences(text)
    out = []
    for i, s in enumerate(sents):
        m = DECL.match(s.text)
        if not m:
            continue
        j = i + 1
        assert sents[j].text == "Proof."
        k = next(k for k in range(j, len(sents)) if sents[k].text == "Qed.")
        header = text[: s.start]
        out.append((Theorem(m.group(1), m.group(2), header=header), [x.text for x in sents[j + 1 : k]]))
    return out


def _replay_linear(session, script):
    """Run the script as Coq would (each tactic on the first open goal); return the proof tree."""
    tree, open_states = {}, [session.root]
    for sentence in script:
        if sentence in ("{", "}") or set(sentence) <= set("-+*"):
            continue
        state = open_states.pop(0)
        result = session.run_tactic(state, sentence)
        assert isinstance(result, TacticOk), (sentence, result)
        tree[state.id] = (sentence, result.states)
        open_states[:0] = list(result.states)
    assert not open_states
    return tree


def _replay_reversed(session, tree, old_root):
    """Walk the same tree, last sibling first, checking every state against the first run."""
    count, todo = 0, [(old_root, session.root)]
    while todo:
        old, new = todo.pop(0)
        tactic, old_children = tree[old.id]
        result = session.run_tactic(new, tactic)
        assert isinstance(result, TacticOk)
        assert [st.goals for st in result.states] == [st.goals for st in old_children]
        todo.extend(reversed(list(zip(old_children, result.states))))
        count += 1
    return count


def _script(tree, state):
    """One linear proof: each tactic, then its subgoals in order, braced when there are several."""
    tactic, children = tree[state.id]
    lines = [tactic]
    for child in children:
        sub = _script(tree, child)
        lines += ["{", *sub, "}"] if len(children) > 1 else sub
    return lines


@pytest.mark.slow
def test_eleven_samples_step_through_interleaved_then_verify():
    from formal.coq.checker import verify_proof

    text = (FIXTURES / "coq/minif2f_test_samples.v").read_text()
    samples = _samples(text)
    assert len(samples) == 12  # eleven problems and the lemma one of them uses
    for theorem, script in samples:
        with CoqSession(theorem) as s:
            tree = _replay_linear(s, script)
        with CoqSession(theorem) as s:  # a fresh session, branches in another order
            assert _replay_reversed(s, tree, _root_of(tree)) == len(tree)
        proof = "\n".join(_script(tree, _root_of(tree)))
        verdict = verify_proof(theorem, proof)
        assert verdict.verified, (theorem.name, proof, verdict)


def _root_of(tree):
    from formal.goal import GoalState

    return GoalState(0, ())


def test_pool_reuses_a_warm_process_without_leaking_state():
    from formal.coq.pool import ProcessPool

    cfg = CoqConfig()
    with ProcessPool(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s, max_idle=1) as pool:
        first = Theorem("a", "secret = 1", header=NAT + "\nDefinition secret := 1.")
        with CoqSession(first, cfg, pool) as s:
            assert s.run_tactic(s.root, "reflexivity").proved
        other = Theorem("b", "2 + 2 = 4", header=NAT)
        with CoqSession(other, cfg, pool) as s:  # same process, rewound to the shared `Require`
            assert isinstance(s.run_tactic(s.root, "unfold secret"), TacticError)
            assert s.run_tactic(s.root, "reflexivity").proved
        assert pool.started == 1 and pool.reused == 1
        with pytest.raises(InvalidStatement):
            CoqSession(Theorem("c", "nope", header=NAT), cfg, pool)
        with CoqSession(first, cfg, pool) as s:  # a failed open does not poison the pool
            assert s.run_tactic(s.root, "reflexivity").proved


def test_a_failed_tactic_taken_back_with_the_next_call_even_in_the_next_session():
    """The Edit_at that takes a failed tactic back out goes with the next write, whoever makes it:
    here the next session on the same warm process."""
    from formal.coq.pool import ProcessPool

    cfg = CoqConfig()
    with ProcessPool(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s, max_idle=1) as pool:
        th = Theorem("a", "forall n : nat, n + 0 = n", header=NAT)
        with CoqSession(th, cfg, pool) as s:
            (a,) = s.run_tactic(s.root, "intro n").states
            assert isinstance(s.run_tactic(a, "reflexivity"), TacticError)  # the last thing it did
            assert s._proc._deferred
        with CoqSession(th, cfg, pool) as s:
            assert pool.reused == 1 and not s._proc._deferred
            (a,) = s.run_tactic(s.root, "intro n").states
            assert s.run_tactic(a, "lia").proved


def test_a_deferred_call_that_coq_refuses_is_a_protocol_error():
    from formal.coq import xml
    from formal.coq.process import CoqProcess

    cfg = CoqConfig()
    proc = CoqProcess(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s)
    try:
        assert proc.add("Goal True.", 30).good
        proc._deferred.append(xml.edit_at_call(9999))  # a state Coq never made
        with pytest.raises(xml.ProtocolError, match="deferred call was refused"):
            proc.goals(30)
    finally:
        proc.close()


@pytest.mark.parametrize("how", ["exit_without_close", "sigkill"])
def test_no_coq_process_outlives_its_program(how):
    """A program that forgets close() or is killed outright leaves no coqidetop behind."""
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    code = (
        "import os, sys\n"
        "from formal import Theorem\n"
        "from formal.coq.session import CoqSession\n"
        "s = CoqSession(Theorem('t', '1 = 1', header='Require Import Arith.'))\n"
        "print(s._proc.proc.pid, flush=True)\n"
        + ("sys.exit(0)\n" if how == "exit_without_close" else "sys.stdin.read()\n")
    )
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    coq_pid = int(child.stdout.readline())
    assert os.path.exists(f"/proc/{coq_pid}")
    if how == "sigkill":
        child.kill()
    child.wait(timeout=30)
    deadline = time.time() + 10
    while time.time() < deadline and _alive(coq_pid):
        time.sleep(0.1)
    assert not _alive(coq_pid), f"coqidetop {coq_pid} outlived its program ({how})"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False

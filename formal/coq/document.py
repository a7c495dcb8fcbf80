"""Run a Coq file linearly, one sentence at a time, and say what each sentence did.

The tracer needs, after every sentence: did it fail (and why), is a proof open, and which goals
exist, focused (printed in full, with Coq's ids) and unfocused (ids only: background, shelved,
given up), so that it can tell a goal a tactic closed from one that only left the focus.

A failing sentence is rewound (``Edit_at``), so the document always holds only sentences that
ran. Coq's own ``Timeout`` cannot wrap every command (``Qed``, ``Require``, ``End`` ...), so a
sentence's time limit is the read deadline: past it the process is interrupted, and killed if the
interrupt does not help; a killed or crashed process is restarted and the document replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

from formal.coq import xml
from formal.coq.process import CoqDied, CoqProcess, CoqUnresponsive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentConfig:
    sentence_timeout_s: float = 120.0  # wall-clock limit per sentence (Qed of a big proof included)
    grace_s: float = 5.0  # wait for an interrupted sentence to give up before killing the process
    start_timeout_s: float = 60.0
    replay_timeout_s: float = 900.0  # re-running the document after a restart
    memory_mb: int = 8192  # address-space limit per coqidetop process
    max_restarts: int = 2  # per document; past it the document is given up
    coqidetop: str = "coqidetop.opt"

    def __post_init__(self) -> None:
        if min(self.sentence_timeout_s, self.grace_s, self.start_timeout_s, self.replay_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if self.memory_mb < 256:
            raise ValueError("memory_mb below 256 cannot run Coq")
        if self.max_restarts < 0:  # a negative count would give up every document at its first crash
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts}")

    def argv(self, flags: Sequence[str] = ()) -> list[str]:
        """`flags`: ``-Q DIR Name``/``-R DIR Name`` pairs, ``-noinit``, ``-topfile FILE``."""
        return [self.coqidetop, "-main-channel", "stdfds", "-async-proofs", "off", "-q", *flags]


@dataclass(frozen=True)
class SentenceResult:
    """What one sentence did. `goals` is None when no proof is open after it (or it failed)."""

    ok: bool
    error: str = ""
    timed_out: bool = False
    crashed: bool = False  # the process died or had to be killed; the document was replayed
    goals: xml.Goals | None = None

    @property
    def proof_open(self) -> bool:
        return self.goals is not None


class DocumentLost(RuntimeError):
    """The process could not be restarted, or the document could not be replayed."""


class CoqDocument:
    """One coqidetop process holding a file's sentences that ran; use as a context manager."""

    def __init__(self, config: DocumentConfig, flags: Sequence[str] = ()) -> None:
        self.config = config
        self.argv = config.argv(flags)
        self.restarts = 0
        self._proc = self._spawn()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._proc is not None:
            self._proc.close()
            self._proc = None

    def _spawn(self) -> CoqProcess:
        try:
            return CoqProcess(self.argv, self.config.memory_mb, self.config.start_timeout_s)
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            raise DocumentLost(f"cannot start coqidetop: {e}") from None

    # -- running ------------------------------------------------------------------------------

    def run(self, sentence: str, unfocused: bool = True) -> SentenceResult:
        """Run one more sentence. With `unfocused`, an open proof's other goal ids are asked too
        (in the same round trip)."""
        proc, limit = self._proc, self.config.sentence_timeout_s
        before = len(proc.doc)
        queries = [xml.goal_call(), xml.unfocused_goal_call()] if unfocused else [xml.goal_call()]
        try:
            added, answers = proc.add_and_query(sentence, queries, limit)
            if not added.good:
                return SentenceResult(False, error=added.message or "syntax error")
            ran = answers[0]
            if not ran.good:  # it parsed but failed to run: take it back out
                proc.rewind(before, limit)
                return SentenceResult(False, error=ran.message or "error")
            goals = xml.parse_goals(ran)
            if goals is not None and unfocused:
                goals = xml.parse_unfocused(answers[1], goals)
            return SentenceResult(True, goals=goals)
        except CoqUnresponsive:
            return self._interrupt(before)
        except (CoqDied, xml.ProtocolError) as e:
            log.warning("coqidetop failed on %r: %s; restarting", sentence[:80], e)
            self._restart(before)
            return SentenceResult(False, error=f"coqidetop died: {e}", crashed=True)

    def goals(self) -> xml.Goals | None:
        """The goals at the document's tip (None: no proof open)."""
        limit = self.config.sentence_timeout_s
        try:
            answer = self._proc.goals(limit)
            goals = xml.parse_goals(answer) if answer.good else None
            if goals is not None:
                goals = xml.parse_unfocused(self._proc.query(xml.unfocused_goal_call(), limit), goals)
            return goals
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            raise DocumentLost(f"goals unavailable: {e}") from None

    def status(self) -> xml.Status:
        try:
            return xml.parse_status(self._proc.query(xml.status_call(), self.config.sentence_timeout_s))
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            raise DocumentLost(f"status unavailable: {e}") from None

    # -- recovery -----------------------------------------------------------------------------

    def _interrupt(self, keep: int) -> SentenceResult:
        """The sentence ran past its limit: interrupt it and take it back out, or kill and replay.

        Once interrupted, the run and the queries queued behind it all answer at once; an Add
        that never answered (it cannot hang in practice) leaves Coq's document unknown: kill.
        """
        proc = self._proc
        timeout = f"timeout after {self.config.sentence_timeout_s:g}s"
        added = len(proc.doc) > keep
        proc.interrupt()
        if added and all(proc.discard_pending(self.config.grace_s) for _ in range(proc.pending)):
            try:
                proc.rewind(keep, self.config.grace_s)
                return SentenceResult(False, error=timeout, timed_out=True)
            except (CoqDied, CoqUnresponsive, xml.ProtocolError):
                pass
        log.warning("coqidetop ignored an interrupt; killing it and replaying %d sentences", keep)
        self._restart(keep)
        return SentenceResult(False, error=timeout, timed_out=True, crashed=True)

    def _restart(self, keep: int) -> None:
        """A fresh process with the first `keep` sentences of the document run again."""
        replay = [s for s, _ in self._proc.doc[:keep]]
        self._proc.kill()
        self.restarts += 1
        if self.restarts > self.config.max_restarts:
            raise DocumentLost(f"coqidetop restarted {self.restarts - 1} times; giving up the document")
        self._proc = self._spawn()
        try:
            for sentence in replay:
                answer = self._proc.add(sentence, self.config.sentence_timeout_s)
                if not answer.good:
                    raise DocumentLost(f"replay refused {sentence[:80]!r}: {answer.message}")
            answer = self._proc.goals(self.config.replay_timeout_s)
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            raise DocumentLost(f"replay failed: {e}") from None
        if not answer.good:
            raise DocumentLost(f"replay failed: {answer.message}")

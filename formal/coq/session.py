"""A Coq proof attempt with arbitrary branching over Coq's linear document.

Each search state remembers the sentences that reach it from ``Proof.``. Applying a tactic moves
the coqidetop document there (rewind to the common prefix, replay the rest) and runs one more
sentence. A state of one goal among several is focused with ``N: {`` so its new goals are exactly
the block's goals; a state of several goals that share existential variables is addressed with a
selector ``N: tac`` instead (braces cannot focus several goals). Results are cached per
(state, tactic); a crashed or hung process is restarted and the path replayed, and so is one that
dies while the session opens.

A tactic that empties the focus has not necessarily proved anything: it may have shelved goals
(``shelve``, or an ``eexists`` whose witness nothing fixed) or built a fixpoint that breaks the guard
condition. Only then, the session asks Coq (`Guarded`, and the shelf) before it reports the state
closed. A state is the object the session returned: another session's state, even with an id that
exists here, is refused.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

from formal.coq import xml
from formal.coq.allowlist import find_forbidden
from formal.coq.pool import ProcessPool
from formal.coq.process import CoqDied, CoqProcess, CoqUnresponsive
from formal.coq.sandbox import TacticRejected, check_tactic, unsendable
from formal.coq.sentences import CoqSyntaxError, split_sentences
from formal.goal import GoalState, independent_groups
from formal.result import EnvError, TacticError, TacticOk, TacticResult, TacticTimeout
from formal.session import EnvironmentCrash, InvalidStatement, SessionStats, cached_run
from formal.theorem import Theorem

log = logging.getLogger(__name__)

# Sent after the header: the goal record then names each goal's evar as goals print it (`n` for
# `?n`), so a shelved goal can be matched with the goals that mention it. It changes no goal's text.
# (An option set with SetOptions would not do: Coq restores the tip's own options to answer.)
GOAL_NAMES = "Set Printing Goal Names."
_CHECKED_MAX = 4096  # sandbox verdicts remembered per session
_OPEN_GOALS_CALL = xml.open_goals_call()


REPLAY_SLACK = 4
_TIMEOUT_PREFIX = re.compile(r"^Timeout (\d+) ")


def _relaxed(sentence: str) -> str:
    """`sentence` with its `Timeout N` prefix (the session's own) raised to REPLAY_SLACK * N."""
    return _TIMEOUT_PREFIX.sub(lambda m: f"Timeout {int(m.group(1)) * REPLAY_SLACK} ", sentence, count=1)


@dataclass(frozen=True)
class CoqConfig:
    tactic_timeout_s: float = 5.0  # Coq's own `Timeout` on every tactic
    grace_s: float = 5.0  # extra wait before interrupting, then killing, a process that hangs
    start_timeout_s: float = 120.0  # loading the header (Require Import Reals ...)
    memory_mb: int = 4096  # address-space limit per coqidetop process
    max_retries: int = 1  # restarts tried for one tactic before it counts as env_error
    coqidetop: str = "coqidetop.opt"
    load_paths: tuple[str, ...] = ()  # extra "-Q dir Lib" / "-R dir Lib" pairs, as "DIR=Lib"

    def __post_init__(self) -> None:
        if self.tactic_timeout_s <= 0 or self.grace_s <= 0 or self.start_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if self.memory_mb < 256:
            raise ValueError("memory_mb below 256 cannot run Coq")
        for lp in self.load_paths:
            if "=" not in lp:
                raise ValueError(f"load path {lp!r} must be DIR=LogicalName")

    def argv(self) -> list[str]:
        args = [self.coqidetop, "-main-channel", "stdfds", "-async-proofs", "off", "-q"]
        for lp in self.load_paths:
            d, name = lp.split("=", 1)
            args += ["-Q", d, name]
        return args


class _Path:
    """The sentences after `Proof.` that reach a Coq state, as a chain of links: one more sentence is
    one more link, so a tactic costs the same at any depth. The tuple is built only when the
    document has to move there (and kept)."""

    __slots__ = ("parent", "sentence", "length", "_sentences")

    def __init__(self, parent: _Path | None = None, sentence: str = "") -> None:
        self.parent, self.sentence = parent, sentence
        self.length = 0 if parent is None else parent.length + 1
        self._sentences: tuple[str, ...] | None = () if parent is None else None

    def then(self, sentence: str) -> _Path:
        return _Path(self, sentence)

    def sentences(self) -> tuple[str, ...]:
        if self._sentences is None:
            tail, link = [], self
            while link._sentences is None:
                tail.append(link.sentence)
                link = link.parent
            self._sentences = (*link._sentences, *reversed(tail))
        return self._sentences

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter(self.sentences())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Path) and (
            self is other or (self.length == other.length and self.sentences() == other.sentences()))

    __hash__ = None  # type: ignore[assignment]


@dataclass(slots=True)
class _Node:
    """Where a search state lives in Coq's document."""

    state: GoalState  # the object handed out for it: a state is accepted back only if it is this one
    path: _Path  # sentences after `Proof.` that reach the Coq state holding the goals
    positions: tuple[int, ...]  # indices of this state's goals among the focused goals there
    focus_size: int  # number of focused goals there
    children: dict[str, TacticResult] = field(default_factory=dict)  # cache per normalised tactic
    focus: _Path | None = None  # path + `N: {`, once made (a one-goal state among several)


class CoqSession:
    """Open with `CoqSession(theorem, config)`; use as a context manager or call `close()`."""

    def __init__(self, theorem: Theorem, config: CoqConfig | None = None, pool: ProcessPool | None = None) -> None:
        if theorem.backend != "coq":
            raise ValueError(f"CoqSession needs a coq theorem, got backend {theorem.backend!r}")
        self.theorem = theorem
        self.config = config or CoqConfig()
        self.stats = SessionStats()
        self._pool = pool
        for text in (theorem.header, theorem.declaration()):
            if (problem := unsendable(text)) is not None:
                raise InvalidStatement(f"{theorem.name}: the statement {problem}")
        try:
            header_sentences = split_sentences(theorem.header)
            decl_sentences = split_sentences(theorem.declaration())
        except CoqSyntaxError as e:
            raise InvalidStatement(f"{theorem.name}: {e}") from None
        # Statements are untrusted (suites, generated variants): Coq runs the header, so it passes
        # the checker's command allowlist, and the statement must stay one declaration.
        if found := find_forbidden([*header_sentences, *decl_sentences]):
            where = "header" if found[0] in header_sentences else "statement"
            raise InvalidStatement(f"{theorem.name}: forbidden in the {where}: {found[1]}")
        if len(decl_sentences) != 1:
            raise InvalidStatement(f"{theorem.name}: the statement is not a single declaration")
        header = [s.text for s in header_sentences]
        decl = [s.text for s in decl_sentences]
        self._prelude = (*header, GOAL_NAMES, *decl, "Proof.")
        self._timeout = f"Timeout {max(1, round(self.config.tactic_timeout_s))} "
        self._checked: dict[str, str | TacticRejected] = {}  # sandbox verdicts by tactic text
        self._nodes: dict[int, _Node] = {}
        self._proc: CoqProcess | None = None
        self._focused: tuple[str, ...] = ()  # Coq goal ids focused at the process tip
        self._tip_path: _Path | None = None  # the path the document holds now, if known
        self._root_path = _Path()
        goals = self._open()
        if goals is None or not goals.focused:
            self.close()
            raise InvalidStatement(f"{theorem.name}: no goal after the statement")
        root_goals = tuple(g for _, g in goals.focused)
        self.root = self._new_state(root_goals, self._root_path, tuple(range(len(root_goals))), len(root_goals))

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> CoqSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the session; a healthy process goes back to the pool (if any) for the next one."""
        self._drop_process(reusable=True)

    def _drop_process(self, reusable: bool) -> None:
        proc, self._proc = self._proc, None
        self._tip_path = None
        if proc is None:
            return
        if reusable and self._pool is not None and proc.alive:
            self._pool.release(proc)
        else:
            proc.close()

    def __del__(self) -> None:  # last resort; close() is the contract
        try:
            self.close()
        except Exception:
            pass

    def _start(self) -> xml.Goals | None:
        """A fresh process with the prelude loaded. Statement errors are InvalidStatement."""
        cfg = self.config
        try:
            if self._pool is not None:
                proc = self._pool.acquire(self._prelude)
            else:
                proc = CoqProcess(cfg.argv(), cfg.memory_mb, cfg.start_timeout_s)
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            raise EnvironmentCrash(f"cannot start coqidetop: {e}") from None
        self._proc = proc
        try:
            keep = 0
            for (have, _), want in zip(proc.doc, self._prelude):
                if have != want:
                    break
                keep += 1
            proc.rewind(keep, cfg.start_timeout_s)
            for sentence in self._prelude[keep:]:
                answer = proc.add(sentence, cfg.start_timeout_s)
                if not answer.good:
                    raise InvalidStatement(f"{self.theorem.name}: {answer.message}")
            answer = proc.goals(cfg.start_timeout_s)
        except (CoqDied, CoqUnresponsive, xml.ProtocolError) as e:
            self._drop_process(reusable=False)
            raise EnvironmentCrash(f"coqidetop failed while loading {self.theorem.name}: {e}") from None
        except BaseException:  # InvalidStatement, or anything unforeseen: never leak the process
            self._drop_process(reusable=False)
            raise
        if not answer.good:
            self._drop_process(reusable=False)
            raise InvalidStatement(f"{self.theorem.name}: {answer.message}")
        goals = xml.parse_goals(answer)
        self._focused = tuple(gid for gid, _ in goals.focused) if goals else ()
        self._tip_path = self._root_path
        return goals

    def _open(self) -> xml.Goals | None:
        """`_start`, retried like any crash: a process killed while it loads the header says nothing
        about the theorem, so it gets the same `max_retries` restarts as a crash during a tactic."""
        for attempt in range(self.config.max_retries):
            try:
                return self._start()
            except EnvironmentCrash as e:
                self.stats.restarts += 1
                log.warning("%s: %s (attempt %d); restarting", self.theorem.name, e, attempt + 1)
        return self._start()

    def _restart(self) -> None:
        self.stats.restarts += 1
        log.warning("%s: restarting coqidetop", self.theorem.name)
        self._drop_process(reusable=False)
        self._start()

    # -- states ---------------------------------------------------------------------------------

    def _new_state(self, goals, path, positions, focus_size, slots=()) -> GoalState:
        state = GoalState(id=len(self._nodes), goals=tuple(goals), slots=tuple(slots))
        self._nodes[state.id] = _Node(state, path, tuple(positions), focus_size)
        return state

    def path_of(self, state: GoalState) -> tuple[str, ...]:
        """The sentences after `Proof.` that reach `state` (selectors and braces included)."""
        return self._node(state).path.sentences()

    def _node(self, state: GoalState) -> _Node:
        """The node of a state this session returned. Checked by identity, not by id: ids count from 0
        in every session, so another session's state would otherwise address whichever state here
        has its id (GoalState equality stays by value, for the search's own bookkeeping)."""
        node = self._nodes.get(state.id) if isinstance(state, GoalState) else None
        if node is None or node.state is not state:
            raise ValueError(f"state {getattr(state, 'id', state)!r} belongs to another session: "
                             "pass a state this session returned")
        return node

    # -- moving the document --------------------------------------------------------------------

    def _goto(self, path: _Path) -> None:
        """Make the document exactly prelude + path, replaying what is missing."""
        if self._proc is None:
            self._restart()
        elif self._tip_path is path:  # the common case, stepping down one branch: nothing to move
            return
        proc = self._proc
        target = (*self._prelude, *path.sentences())
        have = [s for s, _ in proc.doc]
        if have == list(target):
            self._tip_path = path
            return
        t0 = time.perf_counter()
        keep = 0
        while keep < min(len(have), len(target)) and have[keep] == target[keep]:
            keep += 1
        keep = max(keep, len(self._prelude))  # never rewind into the header
        limit = self.config.tactic_timeout_s + self.config.grace_s
        proc.rewind(keep, limit)
        for sentence in target[keep:]:
            # A tactic that ran just inside its time limit once may not the second time (Coq's Timeout
            # is wall-clock): replays get REPLAY_SLACK times the limit, or a busy machine turns a state
            # the search already has into an environment failure.
            answer = proc.add(sentence, limit, sent=_relaxed(sentence))
            if not answer.good:
                raise xml.ProtocolError(f"replay refused {sentence!r}: {answer.message}")
        replay = len(target) - keep
        answer = proc.goals(limit * REPLAY_SLACK * max(1, replay))
        if not answer.good:
            raise xml.ProtocolError(f"replay failed: {answer.message}")
        goals = xml.parse_goals(answer)
        self._focused = tuple(gid for gid, _ in goals.focused) if goals else ()
        self._tip_path = path
        self.stats.switches += 1
        self.stats.replayed += replay
        self.stats.switch_ms += (time.perf_counter() - t0) * 1000

    # -- the one operation the search needs ----------------------------------------------------

    def run_tactic(self, state: GoalState, tactic: str) -> TacticResult:
        node = self._node(state)
        tac = self._check(tactic)
        if isinstance(tac, TacticRejected):
            self.stats.rejected += 1
            return TacticError(f"rejected: {tac}", rejected=True)
        return cached_run(self.stats, node.children, tac, lambda t: self._run_with_recovery(node, t))

    def _check(self, tactic: str) -> str | TacticRejected:
        """The sandbox's verdict on a tactic text: normalised, or why not. A search proposes the same
        texts at many states, and the check is a function of the text alone: each is checked once."""
        if type(tactic) is not str:
            try:
                return check_tactic(tactic)
            except TacticRejected as e:
                return e
        verdict = self._checked.get(tactic)
        if verdict is None:
            try:
                verdict = check_tactic(tactic)
            except TacticRejected as e:
                verdict = e
            if len(self._checked) >= _CHECKED_MAX:
                self._checked.clear()
            self._checked[tactic] = verdict
        return verdict

    def _plan(self, node: _Node, tac: str) -> tuple[_Path, str, bool]:
        """(path to stand on, sentence to run, whether the new focus holds only our goals)."""
        timeout = self._timeout
        if len(node.positions) == node.focus_size:
            return node.path, f"{timeout}{tac}.", True
        first = node.positions[0] + 1
        if len(node.positions) == 1:
            if node.focus is None:
                node.focus = node.path.then(f"{first}: {{")
            return node.focus, f"{timeout}{tac}.", True
        return node.path, f"{timeout}{first}: {tac}.", False

    def _run_with_recovery(self, node: _Node, tac: str) -> TacticResult:
        last = ""
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._run(node, tac)
            except (CoqDied, xml.ProtocolError, EnvironmentCrash) as e:
                last = str(e)
                log.warning("%s: %s (attempt %d)", self.theorem.name, e, attempt + 1)
                try:
                    self._restart()
                except (EnvironmentCrash, InvalidStatement) as e2:
                    last = f"{last}; restart failed: {e2}"
                    break
        self.stats.env_errors += 1
        return EnvError(last)

    def _run(self, node: _Node, tac: str) -> TacticResult:
        base, sentence, whole = self._plan(node, tac)
        self._goto(base)
        proc = self._proc
        others = set()
        if not whole:
            mine = {self._focused[p] for p in node.positions}
            others = set(self._focused) - mine
        self.stats.tactics += 1
        limit = self.config.tactic_timeout_s + self.config.grace_s
        try:
            answer = proc.add_and_run(sentence, limit)
        except CoqUnresponsive:
            return self._hung(proc)
        if not answer.good:
            proc.rewind_later(len(self._prelude) + len(base))  # with the next call: no round trip
            self._tip_path = base
            if "User interrupt" in answer.message:
                # An interrupt meant for an earlier, hung tactic arrived late: not this tactic's fault.
                raise xml.ProtocolError("stale interrupt")
            if "Out of memory" in answer.message:
                # The tactic hit the address-space limit: a property of the tactic, like a timeout,
                # but the heap it left behind is not worth keeping.
                self._drop_process(reusable=False)
                return TacticError(f"out of memory (limit {self.config.memory_mb} MiB)")
            if answer.message.strip().rstrip(".") in ("Timeout!", "Timeout"):
                self.stats.timeouts += 1
                return TacticTimeout(self.config.tactic_timeout_s)
            return TacticError(answer.message)
        goals = xml.parse_goals(answer)
        if goals is None:
            raise xml.ProtocolError("no proof open after a tactic")
        self._focused = tuple([gid for gid, _ in goals.focused])
        fresh = [(i, g) for i, (gid, g) in enumerate(goals.focused) if gid not in others]
        path = base.then(sentence)
        self._tip_path = path
        if not fresh and (problem := self._unfinished(proc)) is not None:
            return TacticError(problem)
        if len(fresh) == 1:  # the common case: one new goal, one state
            ((i, g),) = fresh
            return TacticOk((self._new_state((g,), path, (i,), len(goals.focused), (0,)),))
        states = []
        for group in independent_groups([g for _, g in fresh]):
            states.append(
                self._new_state(
                    [fresh[k][1] for k in group],
                    path,
                    [fresh[k][0] for k in group],
                    len(goals.focused),
                    group,
                )
            )
        return TacticOk(tuple(states))

    def _unfinished(self, proc: CoqProcess) -> str | None:
        """Why a tactic that emptied its focus has not finished its goals, or None.

        Coq counts a goal done once it leaves the focus, so a shelved goal that nothing can
        instantiate any more, or a fixpoint that breaks the guard condition, empties it as a proof
        would; Qed refuses both. Asked only here, where a state would be reported closed: a
        `Guarded` query (outside the document, unlike a sentence) and one print of the open goals,
        written together (one round trip).
        """
        limit = self.config.tactic_timeout_s + self.config.grace_s
        try:
            guard = proc.query(xml.query_call("Guarded.", proc.tip) + _OPEN_GOALS_CALL, limit)
            goals = proc.next_answer(limit)
        except CoqUnresponsive as e:
            self._drop_process(reusable=False)
            raise xml.ProtocolError(f"no answer to the checks after a closing tactic: {e}") from None
        if not guard.good:
            return f"the proof term violates the guard condition: {guard.message}"
        if not goals.good:
            raise xml.ProtocolError(f"the open goals could not be read: {goals.message}")
        return _left_behind(xml.parse_open_goals(goals))

    def _hung(self, proc: CoqProcess) -> TacticResult:
        """Coq ignored its own Timeout: interrupt, and kill if that does not help."""
        self.stats.timeouts += 1
        proc.interrupt()
        if not proc.discard_pending(self.config.grace_s):
            log.warning("%s: coqidetop ignored an interrupt; killing it", self.theorem.name)
            self._drop_process(reusable=False)  # the next tactic restarts and replays
            return TacticTimeout(self.config.tactic_timeout_s)
        # The interrupted sentence failed; drop it from the document.
        self._tip_path = None
        try:
            proc.rewind(len(proc.doc) - 1, self.config.grace_s)
        except (CoqDied, CoqUnresponsive, xml.ProtocolError):
            self._drop_process(reusable=False)
        return TacticTimeout(self.config.tactic_timeout_s)


def _left_behind(goals: xml.OpenGoals) -> str | None:
    """Given-up goals, or shelved goals that no live goal reaches (through the evars it mentions, or
    those of shelved goals it reaches): nothing will instantiate those, so the proof cannot end.

    A shelved evar that a goal still open mentions is fine: `eexists; split` shelves the witness,
    and the branch that fixes it may be another than the one just closed.
    """
    if goals.given_up:
        return f"the tactic leaves {len(goals.given_up)} given-up goal(s): the proof would not be complete"
    reached = set().union(*(g.evars() for _, g in goals.live))
    pending = list(goals.shelved)
    while reachable := [(n, g) for n, g in pending if n is not None and f"?{n}" in reached]:
        for n, g in reachable:
            reached |= g.evars()
            pending.remove((n, g))
    if not pending:
        return None
    shown = ", ".join(f"?{n} : {g.conclusion}" if n else g.conclusion for n, g in pending)
    return (f"the tactic leaves shelved goals that no open goal mentions ({shown}): "
            "nothing can instantiate them, so the proof would not be complete")

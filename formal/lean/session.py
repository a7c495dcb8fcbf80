"""A Lean 4 proof attempt over the Lean REPL: goal-level states with free branching.

Opening: the header runs once per process (see `pool.py`) and the statement is sent as
`theorem NAME BINDERS : STATEMENT := by sorry` on top of the header's environment; the REPL's
proof state at that `sorry` is the root. Every tactic is `{"tactic", "proofState"}` on the state
it is applied to and answers with a new proof-state id, so branching costs nothing: any state seen
so far can be built on, in any order (ReProver-style replay is needed only after a restart).

How search states map to REPL proof states. A REPL proof state holds all the goals left in it, and
a tactic acts on its first goal. When a tactic leaves several goals and none of them shows a
metavariable, each goal becomes its own search state (an AND node): the session sends
`all_goals sorry` to that REPL state once, and the REPL answers with one fresh proof state per
admitted goal, in goal order, whose only goal is that goal. A state then is exactly one REPL proof
state and all its goals are its own, so any tactic (`all_goals`, `<;>`, `case`, `swap`) means the
same in the search as in the rendered proof, where the same goal is focused by a `·` bullet
(`proof.py`). Goals that show a metavariable (`?w`, `?m.12`) may share it with another goal or be
the metavariable's own goal (`case w`); which goal is which is not exposed reliably, so then all
goals stay together in one state (one OR node), as they do when `all_goals sorry` does not answer
one proof state per goal. `formal.goal.independent_groups` is not used: its variable pattern does
not read Lean's `?m.12`, and a goal never shows its own metavariable, so it would split goals that
are linked. Goals are read by `goals.py` and keep the text the REPL printed, so `state.printed` (the
policy's input, the search's node key) is exactly what Lean showed, case tags included.

Verdicts. A tactic's error messages make a TacticError even if the REPL also returns a state (it
does, with the failing part admitted). No goals left is a proof when the REPL's `proofStatus`
says "Completed" (kernel-checked term, no sorry, no metavariable). In a state made by
`all_goals sorry` the status speaks for the whole theorem, whose other goals are admitted there,
so it can never say "Completed": there an empty goal list counts as closed unless the status is a
kernel error, and a tactic that leaves an unassigned metavariable behind (`simpa using h _`) is
caught only by the trusted checker, which re-checks every proof from scratch anyway (DESIGN 3).

Failures. The REPL has no time limit: a tactic past `tactic_timeout_s` gets its process group
killed (TacticTimeout; the search's other states survive). A dead or killed process is replaced
lazily: header, statement, then each needed state's path is replayed (tactics, and `all_goals
sorry` for isolated goals), checked against the goals recorded the first time. A crash is retried
`max_retries` times, then EnvError (DESIGN 2: not a failed proof). Lean dying of its memory limit
is the tactic's doing: TacticError.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from dataclasses import dataclass, field

from formal.goal import GoalState
from formal.lean.goals import judge, mentions_metavariable, parse_goal
from formal.lean.pool import HeaderError, REPLPool, WarmREPL, start_warm
from formal.lean.repl import (
    CommandResponse,
    ErrorResponse,
    REPLDied,
    REPLError,
    REPLTimeout,
    Response,
    TacticResponse,
)
from formal.lean.sandbox import check_tactic, normalize_tactic
from formal.result import EnvError, TacticError, TacticOk, TacticResult, TacticTimeout
from formal.session import EnvironmentCrash, InvalidStatement, SessionStats, cached_run
from formal.theorem import Theorem

log = logging.getLogger(__name__)

PROJECT_ENV = "PROOFZERO_LEAN_PROJECT"
ISOLATE = "all_goals sorry"  # the session's own tactic; the sandbox never lets a policy send it


@dataclass(frozen=True)
class LeanConfig:
    """Where the REPL runs and its limits. `lean_project` empty: `$PROOFZERO_LEAN_PROJECT`, else
    the current directory (`lake exe repl` must work there: a Lake project requiring the REPL)."""

    repl_argv: tuple[str, ...] = ("lake", "exe", "repl")
    lean_project: str = ""
    tactic_timeout_s: float = 10.0  # wall clock per tactic; the REPL has no limit of its own
    command_timeout_s: float = 120.0  # elaborating the statement
    start_timeout_s: float = 600.0  # the header (`import Mathlib` on a cold page cache)
    # Address space of the process group (lake and repl). Lean maps every imported .olean, so
    # this is far above the resident size. None: no limit.
    memory_mb: int | None = 32768
    max_retries: int = 1  # restarts tried for one tactic before it counts as env_error
    split_goals: bool = True  # False: every state keeps all its goals (no AND nodes)

    def __post_init__(self) -> None:
        object.__setattr__(self, "repl_argv", tuple(self.repl_argv))
        if not self.repl_argv or not all(isinstance(a, str) and a for a in self.repl_argv):
            raise ValueError(f"repl_argv must be a non-empty command, got {self.repl_argv!r}")
        for name in ("tactic_timeout_s", "command_timeout_s", "start_timeout_s"):
            t = getattr(self, name)
            if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {t!r}")
        if self.memory_mb is not None and (not isinstance(self.memory_mb, int) or self.memory_mb < 256):
            raise ValueError(f"memory_mb must be an integer >= 256 or None, got {self.memory_mb!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")

    def project_dir(self) -> str | None:
        """The directory the REPL runs in (None: the current one)."""
        return self.lean_project or os.environ.get(PROJECT_ENV) or None

    def make_pool(self, **kwargs: int) -> REPLPool:
        """A pool of warm processes with this config's command and limits."""
        return REPLPool(self.repl_argv, self.project_dir(), self.memory_mb, self.start_timeout_s, **kwargs)


# -- the session --------------------------------------------------------------------------------


class _ReplayFailed(REPLError):
    """A state could not be rebuilt in a fresh process as it was first made."""


_TACTIC_KILLED_IT = re.compile(r"out of memory|stack overflow|bad_alloc", re.IGNORECASE)


@dataclass
class _Node:
    """Where a search state lives: a REPL proof state, and how to make it again in a new process."""

    goals: tuple[str, ...]  # the REPL's goal strings, exactly as first printed
    parent: int | None  # the state the recipe starts from (None: the root)
    tactic: str | None  # tactic run on the parent's REPL state
    branch: int | None  # which goal `all_goals sorry` isolated after it (None: no isolation)
    exact_status: bool  # False once isolated: proofStatus then speaks for other goals too
    depth: int
    ps: int | None = None  # REPL proof state, valid in process generation `gen`
    gen: int = -1
    siblings: tuple[int, ...] = ()  # an isolated state's fellow states from the same split
    children: dict[str, TacticResult] = field(default_factory=dict)  # cache per normalised tactic
    state: GoalState | None = None  # the object handed out: a state is accepted back only if it is this one


class LeanSession:
    """Open with `LeanSession(theorem, config, pool)`; use as a context manager or call `close()`.

    Stats: `tactics` counts tactics sent (replays and `all_goals sorry` not included), `switches`
    the rebuilds of states after a restart and `replayed` the tactics they re-ran; `isolations`
    counts `all_goals sorry` calls (made once per AND node, and again when one is rebuilt).
    """

    def __init__(self, theorem: Theorem, config: LeanConfig | None = None, pool: REPLPool | None = None) -> None:
        if theorem.backend != "lean":
            raise ValueError(f"LeanSession needs a lean theorem, got backend {theorem.backend!r}")
        self.theorem = theorem
        self.config = config or LeanConfig()
        self.stats = SessionStats()
        self.isolations = 0  # `all_goals sorry` calls that turned goals into separate states
        self._pool = pool
        self._warm: WarmREPL | None = None
        self._gen = 0
        self._nodes: dict[int, _Node] = {}
        self._command = f"{theorem.declaration()} sorry"
        goal, ps = self._open()
        self.root = self._new_state((goal,), parent=None, tactic=None, branch=None, exact=True, depth=0, ps=ps)

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> LeanSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the session; a healthy process goes back to the pool (if any) for the next one."""
        self._drop(reusable=True)

    def __del__(self) -> None:  # last resort; close() is the contract
        try:
            self.close()
        except Exception:
            pass

    def _drop(self, reusable: bool) -> None:
        warm, self._warm = self._warm, None
        if warm is None:
            return
        if reusable and self._pool is not None and warm.alive:
            self._pool.release(warm)
        else:
            warm.repl.close()

    def _open(self) -> tuple[str, int]:
        """A process with the header loaded and the statement elaborated: (root goal, its proof state).

        InvalidStatement if Lean rejects the header or statement; EnvironmentCrash if no process works.
        """
        cfg = self.config
        try:
            if self._pool is not None:
                warm = self._pool.acquire(self.theorem.header)
            else:
                warm = start_warm(cfg.repl_argv, self.theorem.header, cfg.project_dir(), cfg.memory_mb,
                                  cfg.start_timeout_s, cfg.tactic_timeout_s)
        except HeaderError as e:
            raise InvalidStatement(f"{self.theorem.name}: the header does not elaborate: {e}") from None
        except (REPLError, OSError) as e:
            raise EnvironmentCrash(f"cannot start the Lean REPL: {e}") from None
        self._warm = warm
        self._gen += 1
        try:
            resp = warm.repl.run_command(self._command, env=warm.header_env, timeout=cfg.command_timeout_s)
        except REPLError as e:
            self._drop(reusable=False)
            raise EnvironmentCrash(f"the REPL failed on the statement of {self.theorem.name}: {e}") from None
        problem = self._statement_problem(resp)
        if problem is not None:
            self._drop(reusable=isinstance(resp, CommandResponse))
            raise InvalidStatement(f"{self.theorem.name}: {problem}")
        assert isinstance(resp, CommandResponse)
        sorry = resp.sorries[0]
        assert sorry.proof_state is not None
        return sorry.goal, sorry.proof_state

    @staticmethod
    def _statement_problem(resp: Response) -> str | None:
        if isinstance(resp, ErrorResponse):
            return resp.message
        if not isinstance(resp, CommandResponse):
            return "the REPL answered the statement with a proof state"
        if resp.errors:
            return "; ".join(m.data for m in resp.errors)[:2000]
        if len(resp.sorries) != 1 or resp.sorries[0].proof_state is None:
            return f"expected one `sorry` with a proof state, got {len(resp.sorries)}"
        return None

    def _restart(self) -> None:
        self.stats.restarts += 1
        log.warning("%s: restarting the Lean REPL", self.theorem.name)
        self._drop(reusable=False)
        try:
            goal, ps = self._open()
        except InvalidStatement as e:  # it elaborated before: the environment is what changed
            raise EnvironmentCrash(str(e)) from None
        root = self._nodes[self.root.id]
        if (goal,) != root.goals:
            raise _ReplayFailed(f"the statement's goal changed on restart: {goal!r}")
        root.ps, root.gen = ps, self._gen

    # -- states ---------------------------------------------------------------------------------

    def _new_state(self, goals, *, parent, tactic, branch, exact, depth, ps) -> GoalState:
        state = GoalState(id=len(self._nodes), goals=tuple(parse_goal(g) for g in goals))
        self._nodes[state.id] = _Node(tuple(goals), parent, tactic, branch, exact, depth, ps, self._gen,
                                       state=state)
        return state

    def _node(self, state: GoalState) -> _Node:
        """The node of a state this session returned. Checked by identity, not by id: ids count from 0
        in every session, so another session's state would otherwise address whichever state here
        has its id (GoalState equality stays by value, for the search's own bookkeeping)."""
        node = self._nodes.get(state.id) if isinstance(state, GoalState) else None
        if node is None or node.state is not state:
            raise ValueError(f"state {getattr(state, 'id', state)!r} belongs to another session: "
                             "pass a state this session returned")
        return node

    def printed(self, state: GoalState) -> str:
        """The state exactly as Lean printed it (case tags included), goals separated by blank lines;
        the same text as `state.printed`."""
        return "\n\n".join(self._node(state).goals)

    def raw_goals(self, state: GoalState) -> tuple[str, ...]:
        return self._node(state).goals

    def path_of(self, state: GoalState) -> tuple[str, ...]:
        """The tactics from the root that made `state` (goal isolation is not a tactic and not listed)."""
        node, path = self._node(state), []
        while node.parent is not None:
            path.append(node.tactic)
            node = self._nodes[node.parent]
        return tuple(reversed(path))

    # -- the one operation the search needs -----------------------------------------------------

    def run_tactic(self, state: GoalState, tactic: str) -> TacticResult:
        node = self._node(state)
        reason = check_tactic(tactic, self.theorem.name)
        if reason is not None:
            self.stats.rejected += 1
            return TacticError(f"rejected: {reason}", rejected=True)
        tac = normalize_tactic(tactic)
        return cached_run(self.stats, node.children, tac, lambda t: self._run_with_recovery(state.id, t))

    def _run_with_recovery(self, node_id: int, tac: str) -> TacticResult:
        last = ""
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._run(node_id, tac)
            except REPLDied as e:
                last = str(e)
                self._drop(reusable=False)
                if _TACTIC_KILLED_IT.search(last):
                    return TacticError(f"Lean died running the tactic ({last[-300:]})")
            except (REPLError, EnvironmentCrash) as e:
                last = str(e)
                self._drop(reusable=False)
            log.warning("%s: %s (attempt %d)", self.theorem.name, last[:300], attempt + 1)
        self.stats.env_errors += 1
        return EnvError(last)

    def _run(self, node_id: int, tac: str) -> TacticResult:
        node = self._nodes[node_id]
        ps = self._ensure(node)
        assert self._warm is not None
        self.stats.tactics += 1
        try:
            resp = self._warm.repl.run_tactic(tac, ps, timeout=self.config.tactic_timeout_s)
        except REPLTimeout:
            self.stats.timeouts += 1
            self._drop(reusable=False)  # the client killed it; the next tactic starts a new one
            return TacticTimeout(self.config.tactic_timeout_s)
        return self._verdict(node_id, tac, resp)

    def _verdict(self, node_id: int, tac: str, resp: Response) -> TacticResult:
        node = self._nodes[node_id]
        if isinstance(resp, ErrorResponse) and resp.message.startswith("Unknown proof state"):
            raise _ReplayFailed(f"the REPL lost proof state {node.ps}")
        if isinstance(resp, CommandResponse):
            raise REPLDied("the REPL answered a tactic with an environment")
        result = judge(resp, node.exact_status)
        if result is not None:
            return result
        assert isinstance(resp, TacticResponse)
        return TacticOk(self._children(node_id, tac, resp))

    def _children(self, node_id: int, tac: str, resp: TacticResponse) -> tuple[GoalState, ...]:
        node = self._nodes[node_id]
        goals = resp.goals
        if self.config.split_goals and len(goals) > 1 and not any(map(mentions_metavariable, goals)):
            isolated = self._isolate(resp.proof_state, goals)
            if isolated is not None:
                states = [
                    self._new_state((g,), parent=node_id, tactic=tac, branch=i, exact=False,
                                    depth=node.depth + 1, ps=ps)
                    for i, (g, ps) in enumerate(zip(goals, isolated))
                ]
                ids = tuple(s.id for s in states)
                for s in states:
                    self._nodes[s.id].siblings = ids
                return tuple(states)
            log.warning("%s: could not isolate %d goals; keeping them in one state", self.theorem.name, len(goals))
        state = self._new_state(goals, parent=node_id, tactic=tac, branch=None, exact=node.exact_status,
                                depth=node.depth + 1, ps=resp.proof_state)
        return (state,)

    def _isolate(self, ps: int, goals: tuple[str, ...]) -> list[int] | None:
        """One proof state per goal of REPL state `ps` (by `all_goals sorry`), or None."""
        assert self._warm is not None
        resp = self._warm.repl.run_tactic(ISOLATE, ps, timeout=self.config.tactic_timeout_s)
        self.isolations += 1
        if not isinstance(resp, TacticResponse) or resp.errors or resp.goals:
            return None
        found = [s.proof_state for s in resp.sorries]
        if len(found) != len(goals) or None in found or tuple(s.goal for s in resp.sorries) != tuple(goals):
            return None
        return found  # type: ignore[return-value]

    # -- rebuilding after a restart -------------------------------------------------------------

    def _ensure(self, node: _Node) -> int:
        """`node`'s proof state in the current process, restarting and replaying as needed."""
        if self._warm is None or not self._warm.alive:
            self._restart()
        if node.gen == self._gen:
            assert node.ps is not None
            return node.ps
        chain = []
        n = node
        while n.gen != self._gen:
            chain.append(n)
            assert n.parent is not None, "the root is rebuilt by every restart"
            n = self._nodes[n.parent]
        t0 = time.perf_counter()
        for n in reversed(chain):
            if n.gen != self._gen:  # an earlier sibling's replay may have rebuilt it already
                self._replay(n)
        self.stats.switches += 1
        self.stats.switch_ms += (time.perf_counter() - t0) * 1000
        assert node.ps is not None
        return node.ps

    def _replay(self, n: _Node) -> None:
        assert self._warm is not None and n.parent is not None and n.tactic is not None
        parent = self._nodes[n.parent]
        repl = self._warm.repl
        try:
            resp = repl.run_tactic(n.tactic, parent.ps, timeout=self.config.tactic_timeout_s)
        except REPLTimeout as e:
            raise _ReplayFailed(f"replaying {n.tactic!r} timed out: {e}") from None
        self.stats.replayed += 1
        if not isinstance(resp, TacticResponse) or resp.errors:
            raise _ReplayFailed(f"replaying {n.tactic!r} failed: {resp}")
        if n.branch is None:
            if resp.goals != n.goals:
                raise _ReplayFailed(f"replaying {n.tactic!r} gave other goals")
            n.ps, n.gen = resp.proof_state, self._gen
            return
        isolated = self._isolate(resp.proof_state, resp.goals)
        if isolated is None or len(isolated) != len(n.siblings):
            raise _ReplayFailed(f"replaying {n.tactic!r} did not isolate its goals again")
        for sid, ps in zip(n.siblings, isolated):
            sib = self._nodes[sid]
            if (resp.goals[sib.branch],) != sib.goals:
                raise _ReplayFailed(f"replaying {n.tactic!r} gave other goals")
            sib.ps, sib.gen = ps, self._gen

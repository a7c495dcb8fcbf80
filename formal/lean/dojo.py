"""LeanDojo (`lean-dojo`, the optional `lean` extra) as a Session over traced Lean repositories.

LeanDojo's `Dojo(theorem)` runs a theorem of a traced repository in a Lean process and answers
`run_tac(state, tactic)` with one of four values; they map onto ours:

| LeanDojo                        | ProofZero                                                        |
|---------------------------------|------------------------------------------------------------------|
| `TacticState(pp, id)`           | `TacticOk((GoalState,))`: every goal of the state, kept together |
| `ProofFinished`                 | `TacticOk(())`                                                   |
| `LeanError(error)`              | `TacticError(error)`                                             |
| `ProofGivenUp` (`sorry`)        | `TacticError(rejected=True)`: sorry is never a proof             |
| `DojoTacticTimeoutError`        | `TacticTimeout`; the process is replaced, other states survive   |
| `DojoCrashError` (EOF, OOM)     | restart + retry, then `EnvError`: a crash is never a failed proof|
| `DojoInitError` on opening      | `InvalidStatement` (the theorem cannot be located) or `EnvironmentCrash` |

LeanDojo's tactics act on the first goal of a whole proof state and it has no goal-level handle,
so a state's goals stay together in one GoalState (one OR node), as in ReProver's best-first search:
no AND nodes come from this backend. Goals are read by `goals.py` (the REPL session's parser) and
keep Lean's text, so `state.printed` is LeanDojo's `pp` (goals joined by one blank line). Results
are recognised by class name, so a recorded double of the API stands in for `lean_dojo` in the
tests, which run without it.

LeanDojo reads its settings from the environment once, when it is first imported: `DojoConfig`
sets them (`CACHE_DIR`, `DISABLE_REMOTE_CACHE`, `TMP_DIR`, `NUM_PROCS`, `TACTIC_MEMORY_LIMIT`)
before that import. Offline use: traced repositories in `CACHE_DIR`, remote cache disabled, and
repositories given as local paths (`DojoConfig.local_repos`), since a GitHub URL is resolved through
GitHub's API. See docs/lean.md.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from formal.goal import Goal, GoalState
from formal.lean.checker import tactic_problem
from formal.lean.goals import NO_GOALS, parse_goals
from formal.result import EnvError, TacticError, TacticOk, TacticResult, TacticTimeout
from formal.session import EnvironmentCrash, InvalidStatement, SessionStats, cached_run
from formal.theorem import Theorem

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- configuration and targets


@dataclass(frozen=True)
class DojoConfig:
    """How to run LeanDojo. Nothing here is read until a session opens."""

    timeout_s: int = 600  # LeanDojo's limit on one interaction (a tactic, or the start-up)
    max_retries: int = 1  # restarts tried for one tactic after a crash before it is an env_error
    cache_dir: str = ""  # CACHE_DIR: traced repositories; "" keeps LeanDojo's ~/.cache/lean_dojo
    disable_remote_cache: bool = True  # DISABLE_REMOTE_CACHE: never download traced repositories
    tmp_dir: str = ""  # TMP_DIR
    num_procs: int = 0  # NUM_PROCS for tracing; 0 keeps LeanDojo's default (CPU count, at most 32)
    memory_gb: int = 0  # TACTIC_MEMORY_LIMIT passed to `lean --memory`; 0 keeps LeanDojo's 32g
    build_deps: bool = False  # let Dojo trace dependencies it finds untraced (hours, and a network)
    additional_imports: tuple[str, ...] = ()
    local_repos: Mapping[str, str] = field(default_factory=dict)  # repository URL -> local checkout

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.max_retries < 0 or self.num_procs < 0 or self.memory_gb < 0:
            raise ValueError("timeout_s must be positive; max_retries, num_procs, memory_gb non-negative")
        object.__setattr__(self, "additional_imports", tuple(self.additional_imports))
        object.__setattr__(self, "local_repos", dict(self.local_repos))

    def environment(self) -> dict[str, str]:
        """The variables LeanDojo reads at import (only those this config sets)."""
        env: dict[str, str] = {}
        if self.cache_dir:
            env["CACHE_DIR"] = str(os.path.abspath(os.path.expanduser(self.cache_dir)))
        if self.disable_remote_cache:
            env["DISABLE_REMOTE_CACHE"] = "1"  # LeanDojo tests presence, not the value
        if self.tmp_dir:
            env["TMP_DIR"] = str(os.path.abspath(os.path.expanduser(self.tmp_dir)))
        if self.num_procs:
            env["NUM_PROCS"] = str(self.num_procs)
        if self.memory_gb:
            env["TACTIC_MEMORY_LIMIT"] = f"{self.memory_gb}g"
        return env


@dataclass(frozen=True)
class DojoTarget:
    """One theorem of a traced repository, as LeanDojo names it (what a Benchmark record holds)."""

    url: str  # repository URL or a local path
    commit: str
    file_path: str
    full_name: str

    def __post_init__(self) -> None:
        if not self.file_path.endswith(".lean"):
            raise ValueError(f"file_path must be a .lean file, got {self.file_path!r}")
        if not self.full_name:
            raise ValueError("full_name is empty")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DojoTarget:
        """From a LeanDojo Benchmark record (`{url, commit, file_path, full_name, ...}`)."""
        try:
            return cls(str(record["url"]), str(record["commit"]), str(record["file_path"]), str(record["full_name"]))
        except KeyError as e:
            raise ValueError(f"not a LeanDojo Benchmark record: missing {e}") from None

    def repository(self, config: DojoConfig) -> str:
        """The local checkout configured for this URL, or the URL itself."""
        return config.local_repos.get(self.url, self.url)

    def theorem(self, statement: str = "") -> Theorem:
        """Our Theorem for this target. LeanDojo gives no statement before Lean runs; a session
        fills it with the initial goal (hypotheses ⊢ conclusion, as Lean prints it)."""
        return Theorem(name=self.full_name, statement=statement or self.full_name, backend="lean",
                       source=f"{self.url}@{self.commit}:{self.file_path}")

    def to_lean_dojo(self, config: DojoConfig) -> Any:
        """LeanDojo's `Theorem(LeanGitRepo(url, commit), file_path, full_name)`."""
        ld = import_lean_dojo(config)
        return ld.Theorem(ld.LeanGitRepo(self.repository(config), self.commit), self.file_path, self.full_name)


def import_lean_dojo(config: DojoConfig) -> Any:
    """Import `lean_dojo` with the config's environment set first (it reads it once, at import)."""
    env = config.environment()
    if "lean_dojo" in sys.modules:
        stale = {k: v for k, v in env.items() if os.environ.get(k) != v}
        if stale:
            log.warning("lean_dojo was imported before these settings were set; they have no effect: %s", stale)
    os.environ.update(env)
    try:
        import lean_dojo  # the optional `lean` extra
    except ImportError as e:
        raise EnvironmentCrash(
            f"lean-dojo is not installed (pip install -c constraints.txt -e '.[lean]'): {e}") from None
    return lean_dojo


# ---------------------------------------------------------------- results by class name


def _kind(obj: object) -> str:
    return type(obj).__name__


def map_result(result: object) -> tuple[str, object]:
    """('state', pp) | ('finished', None) | ('error', message) | ('given_up', None) for a run_tac
    result; ValueError for anything else (a protocol surprise, handled as a crash)."""
    kind = _kind(result)
    if kind == "TacticState":
        pp = getattr(result, "pp")
        return ("finished", None) if pp.strip() == NO_GOALS else ("state", pp)
    if kind == "ProofFinished":
        return "finished", None
    if kind == "LeanError":
        return "error", str(getattr(result, "error", "")).strip()
    if kind == "ProofGivenUp":
        return "given_up", None
    raise ValueError(f"unexpected LeanDojo result {result!r}")


_TIMEOUT = ("DojoTacticTimeoutError",)
_CRASH = ("DojoCrashError", "DojoCrashedError")
_INIT = ("DojoInitError",)
# DojoInitError messages that say the theorem itself cannot be run (LeanDojo 4.20.0's wording).
_NOT_RUNNABLE = ("Failed to locate the theorem", "Cannot find the *.ast.json file", "`where` keyword",
                 "prelude files")


def _is(exc: BaseException, names: tuple[str, ...]) -> bool:
    """By class name (LeanDojo's own classes, or a recorded double's), subclasses included."""
    return any(c.__name__ in names for c in type(exc).__mro__)


# ---------------------------------------------------------------- the session

DojoFactory = Callable[[DojoTarget, DojoConfig], AbstractContextManager]
"""Opens one Dojo: a context manager whose `__enter__` gives `(dojo, initial_state)`."""


def lean_dojo_factory(target: DojoTarget, config: DojoConfig) -> AbstractContextManager:
    ld = import_lean_dojo(config)
    return ld.Dojo(target.to_lean_dojo(config), timeout=config.timeout_s,
                   additional_imports=list(config.additional_imports), build_deps=config.build_deps)


@dataclass
class _Node:
    path: tuple[str, ...]  # tactics from the initial state
    pp: str  # the state as Lean printed it
    handle: object | None  # LeanDojo's TacticState in the current process, None after a restart
    children: dict[str, TacticResult] = field(default_factory=dict)
    state: GoalState | None = None  # the object handed out: a state is accepted back only if it is this one


class DojoSession:
    """A Session over one LeanDojo Dojo. Open with `DojoSession(target, config)`; close() ends it."""

    def __init__(self, target: DojoTarget, config: DojoConfig | None = None,
                 factory: DojoFactory | None = None) -> None:
        self.target = target
        self.config = config or DojoConfig()
        self.stats = SessionStats()
        self._factory = factory or lean_dojo_factory
        self._cm: AbstractContextManager | None = None
        self._dojo: Any = None
        self._nodes: dict[int, _Node] = {}
        try:
            target.theorem()
        except ValueError as e:
            raise InvalidStatement(f"{target.full_name}: {e}") from None
        initial = self._open()
        kind, pp = map_result(initial) if _kind(initial) == "TacticState" else ("", None)
        if kind != "state":
            self.close()
            raise InvalidStatement(f"{target.full_name}: Dojo opened without a tactic state ({initial!r})")
        goals = parse_goals(pp)
        self.theorem = target.theorem(statement=pp)
        self.root = self._new_state(goals, (), pp, initial)

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> DojoSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        cm, self._cm, self._dojo = self._cm, None, None
        for node in self._nodes.values():
            node.handle = None
        if cm is not None:
            try:
                cm.__exit__(None, None, None)
            except Exception as e:  # a dead process cannot be closed more; it must not mask anything
                log.debug("%s: closing the Dojo: %s", self.target.full_name, e)

    def __del__(self) -> None:  # last resort; close() is the contract
        try:
            self.close()
        except Exception:
            pass

    def _open(self) -> object:
        """A fresh Dojo; its initial state. Errors become InvalidStatement or EnvironmentCrash."""
        name = self.target.full_name
        try:
            cm = self._factory(self.target, self.config)
            dojo, initial = cm.__enter__()
        except EnvironmentCrash:
            raise
        except Exception as e:
            if _is(e, _INIT) and any(s in str(e) for s in _NOT_RUNNABLE):
                raise InvalidStatement(f"{name}: {e}") from None
            raise EnvironmentCrash(f"{name}: LeanDojo could not start: {type(e).__name__}: {e}") from None
        self._cm, self._dojo = cm, dojo
        return initial

    def _restart(self) -> None:
        self.stats.restarts += 1
        log.warning("%s: restarting the Dojo", self.target.full_name)
        self.close()
        initial = self._open()
        root = self._nodes[self.root.id]
        if _kind(initial) != "TacticState" or getattr(initial, "pp", None) != root.pp:
            raise EnvironmentCrash(f"{self.target.full_name}: the restarted Dojo shows another initial state")
        root.handle = initial

    # -- states ---------------------------------------------------------------------------------

    def _new_state(self, goals: tuple[Goal, ...], path: tuple[str, ...], pp: str, handle: object) -> GoalState:
        state = GoalState(id=len(self._nodes), goals=goals)
        self._nodes[state.id] = _Node(path, pp, handle, state=state)
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
        """The state exactly as Lean printed it (case tags included)."""
        return self._node(state).pp

    def path_of(self, state: GoalState) -> tuple[str, ...]:
        return self._node(state).path

    def _handle(self, node: _Node) -> object:
        """LeanDojo's state for `node` in the current process, replaying its path after a restart."""
        if self._dojo is None:
            self._restart()
        if node.handle is not None:
            return node.handle
        handle = self._nodes[self.root.id].handle
        for tactic in node.path:
            result = self._dojo.run_tac(handle, tactic)
            self.stats.replayed += 1
            if _kind(result) != "TacticState":
                raise EnvironmentCrash(f"replaying {tactic!r} gave {result!r}, not the state it gave before")
            handle = result
        if getattr(handle, "pp", None) != node.pp:
            raise EnvironmentCrash("replaying the path reached another state than before")
        node.handle = handle
        return handle

    # -- the one operation the search needs ----------------------------------------------------

    def run_tactic(self, state: GoalState, tactic: str) -> TacticResult:
        node = self._node(state)
        tac = tactic.strip()
        if problem := tactic_problem(tac, self.target.full_name):
            self.stats.rejected += 1
            return TacticError(f"rejected: {problem}", rejected=True)
        return cached_run(self.stats, node.children, tac, lambda t: self._run_with_recovery(node, t))

    def _run_with_recovery(self, node: _Node, tac: str) -> TacticResult:
        last = ""
        for attempt in range(self.config.max_retries + 1):
            try:
                return self._run(node, tac)
            except Exception as e:
                if _is(e, _TIMEOUT):
                    return self._timed_out()
                if not (_is(e, _CRASH) or isinstance(e, (EnvironmentCrash, ValueError, EOFError, OSError))):
                    raise
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                log.warning("%s: %s (attempt %d)", self.target.full_name, last, attempt + 1)
                self._forget_process()
                if attempt < self.config.max_retries:
                    try:
                        self._restart()
                    except (EnvironmentCrash, InvalidStatement) as e2:
                        last = f"{last}; restart failed: {e2}"
                        break
        self.stats.env_errors += 1
        return EnvError(last)

    def _run(self, node: _Node, tac: str) -> TacticResult:
        handle = self._handle(node)
        self.stats.tactics += 1
        raw = self._dojo.run_tac(handle, tac)
        kind, value = map_result(raw)
        if kind == "finished":
            return TacticOk(())
        if kind == "error":
            return TacticError(str(value))
        if kind == "given_up":
            return TacticError("the tactic gave up (sorry): never a proof", rejected=True)
        pp = str(value)
        child = self._new_state(parse_goals(pp), (*node.path, tac), pp, raw)
        return TacticOk((child,))

    def _timed_out(self) -> TacticResult:
        """LeanDojo's process may still answer the timed-out request: it is replaced on next use."""
        self.stats.timeouts += 1
        self._forget_process()
        return TacticTimeout(float(self.config.timeout_s))

    def _forget_process(self) -> None:
        self.close()

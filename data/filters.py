"""Statement filters (ALGORITHMS.md, "Auto-formalization filters"), for every source of problems.

A statement is rejected, for one counted reason, when it
- is a duplicate of the pool up to normalisation (`duplicate`; no proof assistant needed);
- does not elaborate (`does_not_elaborate`);
- is closed by one automation tactic after `intros` (`trivial`);
- has hypotheses that automation turns into `False` (`contradictory_hypotheses`);
- has a negation that automation closes (`refuted_by_automation`), or that a low-budget search proves
  (`disproved_by_search`): both are false statements, and the search's disproof, re-checked by the
  trusted checker, is kept as disproof data (`FilterResult.disproof`).
Every "closed" above is the trusted checker's verdict on the closing script, not the session's word.
A statement the environment could not judge (a crash, a timeout) is `env_error`: not kept, not
counted as a reason about the statement. Filter runs are not RL attempts: they never reach a
matchmaker, and their tactic executions are reported apart (`FilterReport.tactics`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from data.decontaminate import proposition_key
from data.statement import parse
from formal.session import EnvironmentCrash, InvalidStatement, Session
from formal.theorem import Theorem
from formal.verdict import Verdict
from search.attempt import Status
from search.automation import AutomationConfig, AutomationProver

log = logging.getLogger(__name__)

KEPT = "kept"
REASONS = ("duplicate", "does_not_elaborate", "trivial", "contradictory_hypotheses", "refuted_by_automation",
           "disproved_by_search", "env_error")
FILTER_PORTFOLIO = ("reflexivity", "easy", "lia", "lra", "ring", "field", "tauto", "congruence")


@dataclass(frozen=True)
class FilterConfig:
    portfolio: tuple[str, ...] = FILTER_PORTFOLIO  # the automation tactics, each tried alone after `intros`
    trivial: bool = True
    contradictory: bool = True
    negation: bool = True  # reject a statement whose negation the portfolio closes
    duplicates: bool = True
    disprove_budget: int = 0  # expansions of a low-budget search on the negation; 0: no search
    workers: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.portfolio, (list, str)):
            object.__setattr__(self, "portfolio", tuple([self.portfolio] if isinstance(self.portfolio, str) else self.portfolio))
        if not self.portfolio:
            raise ValueError("filters.portfolio is empty")
        if self.disprove_budget < 0 or self.workers < 1:
            raise ValueError("filters.disprove_budget must be >= 0 and filters.workers >= 1")


@dataclass
class FilterResult:
    name: str
    reason: str  # kept, or one of REASONS
    detail: str = ""  # the closing tactic, the duplicate's name, the checker's or Coq's message
    tactics: int = 0  # tactic executions this statement's filtering spent
    disproof: object | None = None  # a checker-verified disproof's search record (disproof data)

    @property
    def kept(self) -> bool:
        return self.reason == KEPT


@dataclass
class FilterReport:
    results: list[FilterResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tactics(self) -> int:
        return sum(r.tactics for r in self.results)

    def counts(self) -> dict[str, int]:
        c = Counter(r.reason for r in self.results)
        return {k: c[k] for k in (KEPT, *REASONS) if c[k]}

    def kept(self) -> list[str]:
        return [r.name for r in self.results if r.kept]


OpenSession = Callable[[Theorem], Session]
Check = Callable[[Theorem, str], Verdict]
Disprove = Callable[[Theorem, int], object]  # (statement, budget) -> a game outcome (status, tactics, record)


@dataclass
class StatementFilter:
    """Filters over one proof assistant: `open_session` and `check` are its session and trusted checker
    (eval's Backend gives both); `disprove` plays a low-budget disproof game (eval.games.play)."""

    cfg: FilterConfig
    open_session: OpenSession
    check: Check
    disprove: Disprove | None = None

    def closed_by_automation(self, theorem: Theorem) -> tuple[str | None, int]:
        """(the verified closing script or None, tactics spent). Raises InvalidStatement and
        EnvironmentCrash as the session does."""
        prover = AutomationProver(AutomationConfig(portfolio=self.cfg.portfolio))

        def verify(script: str) -> tuple[bool, str]:
            v = self.check(theorem, script)
            return v.verified, v.message or v.reason

        with self.open_session(theorem) as session:
            attempt = prover.prove(theorem.name, session, verify)
        if attempt.status is Status.ENV_ERROR:
            raise EnvironmentCrash(attempt.message)
        return (attempt.proof if attempt.status is Status.PROVED else None), attempt.tactics_used

    def judge(self, theorem: Theorem) -> FilterResult:
        """One statement against every check (cheap ones first); the first that rejects names the reason."""
        spent = 0
        try:
            closed, n = self.closed_by_automation(theorem)  # opening the session is the elaboration check
            spent += n
            shape = parse(theorem) if self.cfg.contradictory else None
            if shape is not None and shape.hypotheses:  # before `trivial`: vacuous truth is the better reason
                absurd = dataclasses.replace(shape, conclusion="False").theorem(theorem, f"{theorem.name}_absurd")
                try:
                    refuted, n = self.closed_by_automation(absurd)
                    spent += n
                except InvalidStatement:
                    refuted = None  # our rewrite did not elaborate: says nothing about the statement
                if refuted is not None:
                    return FilterResult(theorem.name, "contradictory_hypotheses", refuted.replace("\n", " "), spent)
            if self.cfg.trivial and closed is not None:
                return FilterResult(theorem.name, "trivial", closed.replace("\n", " "), spent)
            if self.cfg.negation:
                try:
                    closed, n = self.closed_by_automation(theorem.negation())
                    spent += n
                except InvalidStatement:
                    closed = None
                if closed is not None:
                    return FilterResult(theorem.name, "refuted_by_automation", closed.replace("\n", " "), spent)
            if self.cfg.disprove_budget and self.disprove is not None:
                game = self.disprove(theorem, self.cfg.disprove_budget)
                spent += int(getattr(game, "tactics", 0))
                if getattr(game, "status", "") == "disproved":
                    return FilterResult(theorem.name, "disproved_by_search", f"at {self.cfg.disprove_budget} expansions",
                                        spent, disproof=getattr(game, "record", None))
        except InvalidStatement as e:
            return FilterResult(theorem.name, "does_not_elaborate", str(e).splitlines()[0][:300] if str(e) else "", spent)
        except EnvironmentCrash as e:
            return FilterResult(theorem.name, "env_error", str(e).splitlines()[0][:300] if str(e) else "", spent)
        return FilterResult(theorem.name, KEPT, "", spent)

    def run(self, theorems: Iterable[Theorem], pool: Iterable[Theorem] = ()) -> FilterReport:
        """Judge `theorems` (in parallel, `cfg.workers`) against each other and the existing `pool`:
        of two equal statements the first is judged, the second is a duplicate."""
        t0 = time.perf_counter()
        theorems = list(theorems)
        seen = {proposition_key(t): t.name for t in pool} if self.cfg.duplicates else {}
        todo, results = [], {}
        for t in theorems:
            key = proposition_key(t)
            if self.cfg.duplicates and key in seen:
                results[t.name] = FilterResult(t.name, "duplicate", seen[key])
                continue
            seen[key] = t.name
            todo.append(t)
        with ThreadPoolExecutor(max_workers=self.cfg.workers) as ex:
            for result in ex.map(self.judge, todo):
                results[result.name] = result
        report = FilterReport([results[t.name] for t in theorems if t.name in results], time.perf_counter() - t0)
        log.info("filters: %s (%d tactic executions, %.0f s)", report.counts(), report.tactics, report.seconds)
        return report

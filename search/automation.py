"""The automation baseline: introduce the hypotheses, then try a fixed portfolio of decision
procedures one at a time. No model; every number it reports is a lower bound the learned provers
must beat at the same budget (counted in tactic executions)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from formal.result import EnvError, TacticOk, TacticTimeout
from formal.session import Session
from search.attempt import Attempt, Status

log = logging.getLogger(__name__)

DEFAULT_PORTFOLIO = (
    "reflexivity",
    "easy",
    "lia",
    "lra",
    "ring",
    "field",
    "nia",
    "nra",
    "congruence",
    "auto",
    "firstorder",
)


@dataclass(frozen=True)
class AutomationConfig:
    intro: str = "intros"  # run first; skipped when it fails (nothing to introduce)
    portfolio: tuple[str, ...] = DEFAULT_PORTFOLIO
    max_tactics: int = 0  # budget in tactic executions, intro included; 0 = the whole portfolio

    def __post_init__(self) -> None:
        if not self.portfolio:
            raise ValueError("the automation portfolio is empty")
        if self.max_tactics < 0:
            raise ValueError("max_tactics must be >= 0")

    @property
    def budget(self) -> int:
        return self.max_tactics or len(self.portfolio) + (1 if self.intro else 0)


Verify = Callable[[str], tuple[bool, str]]  # proof script -> (verified, reason)


@dataclass
class AutomationProver:
    config: AutomationConfig = field(default_factory=AutomationConfig)

    def prove(self, name: str, session: Session, verify: Verify) -> Attempt:
        """One attempt. A portfolio hit counts only once `verify` (the trusted checker) accepts it."""
        t0 = time.perf_counter()
        attempt = Attempt(name=name, status=Status.FAILED)
        budget = self.config.budget
        state, prefix = session.root, []
        env_errors = []

        def run(tactic):
            attempt.tactics_used += 1
            attempt.tactics_tried.append(tactic)
            return session.run_tactic(state, tactic)

        if self.config.intro and attempt.tactics_used < budget:
            r = run(self.config.intro)
            if isinstance(r, TacticOk) and r.proved:
                prefix = [self.config.intro]
                if self._accept(attempt, verify, prefix, t0):
                    return attempt
            elif isinstance(r, TacticOk) and len(r.states) == 1:
                state, prefix = r.states[0], [self.config.intro]
            elif isinstance(r, EnvError):
                env_errors.append(r.message)
        for tactic in self.config.portfolio:
            if attempt.tactics_used >= budget:
                break
            r = run(tactic)
            if isinstance(r, EnvError):
                env_errors.append(r.message)
            elif isinstance(r, TacticOk) and r.proved:
                if self._accept(attempt, verify, [*prefix, tactic], t0):
                    return attempt
            elif isinstance(r, TacticTimeout):
                log.debug("%s: %s timed out", name, tactic)
        if env_errors:
            # A tactic the environment could not run is not a tactic that failed: no verdict.
            attempt.status = Status.ENV_ERROR
            attempt.message = env_errors[-1]
        else:
            spent = f"budget spent: {attempt.tactics_used} tactics"
            attempt.message = f"{spent}; {attempt.message}" if attempt.message else spent
        attempt.seconds = time.perf_counter() - t0
        return attempt

    @staticmethod
    def _accept(attempt: Attempt, verify: Verify, tactics: list[str], t0: float) -> bool:
        script = "\n".join(f"{t}." for t in tactics)
        ok, reason = verify(script)
        if not ok:
            log.warning("%s: checker rejected %r: %s", attempt.name, script, reason)
            attempt.message = f"checker rejected a claimed proof: {reason}"
            return False
        attempt.status, attempt.proof, attempt.message = Status.PROVED, script, "verified"
        attempt.seconds = time.perf_counter() - t0
        return True

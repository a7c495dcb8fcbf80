"""The outcome of one proof attempt on one theorem, as every prover reports it."""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class Status(str, enum.Enum):
    """Environment failures are not proof failures: reports count each status apart."""

    PROVED = "proved"
    DISPROVED = "disproved"
    FAILED = "failed"  # the budget was spent
    ENV_ERROR = "env_error"  # a crash or hang the environment could not recover from
    INVALID_STATEMENT = "invalid_statement"  # the statement does not elaborate


@dataclass
class Attempt:
    name: str
    status: Status
    proof: str | None = None  # the checker-verified proof script (tactics after `Proof.`)
    tactics_used: int = 0  # budget spent, in tactic executions
    tactics_tried: list[str] = field(default_factory=list)
    seconds: float = 0.0
    message: str = ""  # why it failed, or the checker's verdict
    env: dict = field(default_factory=dict)  # the session's counters (replays, restarts, timeouts ...)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "status": self.status.value,
            "proof": self.proof,
            "tactics_used": self.tactics_used,
            "tactics_tried": self.tactics_tried,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "env": self.env,
        }

    @classmethod
    def from_json(cls, d: dict) -> Attempt:
        return cls(
            name=d["name"],
            status=Status(d["status"]),
            proof=d.get("proof"),
            tactics_used=d.get("tactics_used", 0),
            tactics_tried=list(d.get("tactics_tried", [])),
            seconds=d.get("seconds", 0.0),
            message=d.get("message", ""),
            env=dict(d.get("env", {})),
        )


def conclude(attempt: Attempt, script: str | None, verify, stopped_by: str, env_errors: list[str],
             expansions: int) -> None:
    """A search's verdict: proved only if the checker accepts `script`; env_error when the environment
    stopped it; otherwise failed, with the budget it spent."""
    if script is not None:
        ok, reason = verify(script)
        if ok:
            attempt.status, attempt.proof, attempt.message = Status.PROVED, script, "verified"
        else:
            attempt.message = f"checker rejected a claimed proof: {reason}"
    elif stopped_by == "env_error":
        attempt.status, attempt.message = Status.ENV_ERROR, env_errors[-1]
    else:
        attempt.message = f"budget spent ({stopped_by}): {expansions} expansions, {attempt.tactics_used} tactics"


def search_verdict(name: str, t0: float, proof, render, verify, stopped_by: str, env_errors: list[str],
                   expansions: int, tactics: int, env: dict) -> Attempt:
    """The attempt of a tree search that ended normally: its budget and counters, then `conclude` on
    the rendered proof (if any). `t0` is the attempt's `time.perf_counter()` start."""
    attempt = Attempt(name=name, status=Status.FAILED, tactics_used=tactics,
                      env={"expansions": expansions, "stopped_by": stopped_by, **env})
    script = render(proof) if proof is not None else None
    conclude(attempt, script, verify, stopped_by, env_errors, expansions)
    if script is not None and attempt.status is not Status.PROVED:
        log.warning("%s: %s", name, attempt.message)
    attempt.seconds = time.perf_counter() - t0
    return attempt


def crashed(name: str, t0: float, error: Exception) -> Attempt:
    """The attempt of a search whose environment could not be recovered."""
    return Attempt(name=name, status=Status.ENV_ERROR, message=str(error), seconds=time.perf_counter() - t0)

"""The trusted checker's verdict, one type for every backend (Coq's `coqc` + `Print Assumptions`,
Lean's `lake env lean` + `#print axioms`): only `verified` makes a proof count."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

REASONS = (
    "verified", "axiom", "admitted", "compile_error", "timeout", "memory", "not_found", "forbidden",
    "invalid_input",
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check. `assumptions` maps each checked theorem to the axioms it uses
    (allowlisted ones by fully qualified name, the file's own by their name in the file)."""

    verified: bool
    reason: str
    message: str
    theorems: tuple[str, ...] = ()
    assumptions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    seconds: float = 0.0
    # Axioms the problem's own header declares and the proof was allowed to use (part of the
    # problem as posed, e.g. `Parameter Rfloor`); empty unless the caller chose to trust them.
    trusted_axioms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown reason {self.reason!r}; expected one of {REASONS}")
        if self.verified != (self.reason == "verified"):
            raise ValueError(f"verified={self.verified} contradicts reason {self.reason!r}")

    @property
    def inconclusive(self) -> bool:
        """The checker could not finish (time or memory limit): no verdict on the proof at all.
        A row with such a proof is an environment failure, never a failed proof (DESIGN decision 2)."""
        return self.reason in ("timeout", "memory")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["theorems"] = list(self.theorems)
        d["assumptions"] = {k: list(v) for k, v in self.assumptions.items()}
        d["trusted_axioms"] = list(self.trusted_axioms)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

"""The statement of a problem to prove, independent of any running proof assistant."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

BACKENDS = ("coq", "lean")


@dataclass(frozen=True)
class Theorem:
    """One statement to prove.

    `binders` are the parameters written before the colon (``(x : R) (h : 0 < x)``), `statement`
    the type after it; keeping both reproduces the source declaration exactly (the first goal then
    has the binders introduced, as in the original file). `header` is everything the statement
    needs before it (imports, scopes, auxiliary definitions and lemmas).
    """

    name: str
    statement: str
    header: str = ""
    binders: str = ""
    source: str = ""
    backend: str = "coq"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; expected one of {BACKENDS}")
        if not self.name or not all(c.isalnum() or c in "_'." for c in self.name):
            raise ValueError(f"invalid theorem name {self.name!r}")
        if not self.statement.strip():
            raise ValueError(f"theorem {self.name!r} has an empty statement")

    @property
    def proposition(self) -> str:
        """The fully quantified statement (binders turned into a universal quantifier)."""
        if not self.binders:
            return self.statement
        forall = "forall" if self.backend == "coq" else "∀"
        return f"{forall} {self.binders}, {self.statement}"

    def declaration(self) -> str:
        """The declaration sentence that opens the proof (Coq: ends with '.', Lean: with ':= by')."""
        binders = f" {self.binders}" if self.binders else ""
        if self.backend == "coq":
            return f"Theorem {self.name}{binders} :\n  {self.statement}."
        return f"theorem {self.name}{binders} :\n    {self.statement} := by"

    def negation(self) -> Theorem:
        """The theorem whose proof disproves this one: the negation of the fully quantified statement."""
        neg = "~" if self.backend == "coq" else "¬"
        return dataclasses.replace(
            self,
            name=f"{self.name}_negation",
            binders="",
            statement=f"{neg} ({self.proposition})",
        )

    def sha256(self) -> str:
        """Hash of everything that determines what is being proved (header, binders, statement)."""
        h = hashlib.sha256()
        for part in (self.backend, self.header, self.name, self.binders, self.statement):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

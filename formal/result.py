"""The fixed set of outcomes of applying one tactic. Only crashes are exceptional."""

from __future__ import annotations

from dataclasses import dataclass

from formal.goal import GoalState


@dataclass(frozen=True)
class TacticOk:
    """The tactic ran. `states` are independent (no shared existential variables): more than one
    makes an AND node, none means the tactic closed every goal of the state it was applied to."""

    states: tuple[GoalState, ...]

    @property
    def proved(self) -> bool:
        return not self.states


@dataclass(frozen=True)
class TacticError:
    """The proof assistant refused the tactic, or the sandbox did (`rejected`) before it saw it."""

    message: str
    rejected: bool = False


@dataclass(frozen=True)
class TacticTimeout:
    """The tactic ran past its time limit; the session and its other states survive."""

    seconds: float


@dataclass(frozen=True)
class EnvError:
    """The environment crashed and could not be recovered for this tactic. Not a proof failure."""

    message: str


TacticResult = TacticOk | TacticError | TacticTimeout | EnvError

"""Proof-assistant environments: theorems, goals, tactic results, sessions, the trusted checker, suites.

Stdlib only: nothing here imports models, search or heavy frameworks.
"""

from formal.goal import Goal, GoalState, Hypothesis
from formal.result import EnvError, TacticError, TacticOk, TacticResult, TacticTimeout
from formal.theorem import Theorem

__all__ = [
    "EnvError",
    "Goal",
    "GoalState",
    "Hypothesis",
    "TacticError",
    "TacticOk",
    "TacticResult",
    "TacticTimeout",
    "Theorem",
]

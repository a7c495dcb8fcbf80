"""A `ProofStep` tree as one linear Coq proof script, for the trusted checker.

A tactic with one remaining state is followed by that state's proof. With several, the states are
addressed the way `CoqSession` addressed them while searching:

- a state of one goal is proved in a focused block, `N: { ... }`, N its position among the goals
  still open there (the goals a tactic leaves come first, in order);
- a state of several goals that share existential variables cannot be focused (braces take one
  goal): the session ran its tactics on the group's first goal with the others riding along. So
  the one-goal states go first, and the group's proof follows unfocused, when its goals are the
  first ones open: each tactic then acts on the group's first goal, as in the session.

Without slot information (`ProofStep.slots` empty) the states are taken to be one goal each, in
order, and proved in `{ ... }` blocks.
"""

from __future__ import annotations

import logging

from formal.proof import ProofStep

log = logging.getLogger(__name__)


def render_proof(step: ProofStep, indent: int = 0) -> str:
    return "\n".join(_lines(step, indent))


def _sentence(tactic: str) -> str:
    """The tactic as one sentence: a network may write the final '.' itself (`lia.`), which the session
    accepts; doubling it would make two sentences. (`..` is a notation token, not a terminator.)"""
    t = tactic.strip()
    return t if t.endswith(".") and not t.endswith("..") else f"{t}."


def _lines(step: ProofStep, indent: int) -> list[str]:
    pad = "  " * indent
    lines = [f"{pad}{_sentence(step.tactic)}"]
    subs = step.subproofs
    if len(subs) == 1:
        return lines + _lines(subs[0], indent)
    if not subs:
        return lines
    if not all(s.slots for s in subs):
        for sub in subs:
            lines += [f"{pad}{{", *_lines(sub, indent + 1), f"{pad}}}"]
        return lines
    open_slots = sorted(i for s in subs for i in s.slots)
    for sub in [s for s in subs if len(s.slots) == 1]:
        position = open_slots.index(sub.slots[0]) + 1
        lines += [f"{pad}{position}: {{", *_lines(sub, indent + 1), f"{pad}}}"]
        open_slots.remove(sub.slots[0])
    for sub in [s for s in subs if len(s.slots) > 1]:
        if open_slots[: len(sub.slots)] != sorted(sub.slots):
            log.warning("goal groups interleave after %r: the rendered proof may not check", step.tactic)
        lines += _lines(sub, indent)
        open_slots = [i for i in open_slots if i not in sub.slots]
    return lines

"""A `ProofStep` tree as one Lean 4 tactic script, for the trusted checker.

A tactic with one remaining state is followed by that state's proof at the same indentation; with
several, each state's proof goes under a `·` bullet, in goal order. `·` focuses the first remaining
goal and fails unless its block closes it, so after the earlier bullets the next bullet holds
exactly the goal `LeanSession` isolated for that state (one goal per state whenever it splits; goals
that share metavariables stay in one state and are proved in one block). A multi-line tactic keeps
its own relative indentation: every line is shifted by the block's indentation, so Lean parses it
as the REPL did.
"""

from __future__ import annotations

from formal.proof import ProofStep
from formal.theorem import Theorem


def render_proof(step: ProofStep, indent: int = 0) -> str:
    """The script for `step`, each line indented by `indent` levels of two spaces."""
    return "\n".join(_lines(step, indent))


def _lines(step: ProofStep, indent: int) -> list[str]:
    pad = "  " * indent
    lines = [pad + line for line in step.tactic.strip("\n").split("\n")]
    if len(step.subproofs) == 1:
        lines += _lines(step.subproofs[0], indent)
    elif step.subproofs:
        inner = "  " * (indent + 1)
        for sub in step.subproofs:
            block = _lines(sub, indent + 1)
            block[0] = pad + "· " + block[0][len(inner) :]
            lines += block
    return lines


def proof_source(theorem: Theorem, step: ProofStep) -> str:
    """The whole file: header, the declaration (ending in `:= by`) and the indented script."""
    header = theorem.header.strip()
    opening = f"{header}\n\n" if header else ""
    return f"{opening}{theorem.declaration()}\n{render_proof(step, indent=1)}\n"

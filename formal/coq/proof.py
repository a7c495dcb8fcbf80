"""A `ProofStep` tree as one linear Coq proof script, for the trusted checker.

A tactic with one remaining state is followed by that state's proof; with several, each state's proof
goes in braces, in goal order: `{` focuses the first remaining goal, which is the next state's once the
earlier ones are closed -- the same goals `CoqSession` addressed with `N: {` while searching.
"""

from __future__ import annotations

from formal.proof import ProofStep


def render_proof(step: ProofStep, indent: int = 0) -> str:
    return "\n".join(_lines(step, indent))


def _lines(step: ProofStep, indent: int) -> list[str]:
    pad = "  " * indent
    lines = [f"{pad}{step.tactic}."]
    if len(step.subproofs) == 1:
        lines += _lines(step.subproofs[0], indent)
    elif step.subproofs:
        for sub in step.subproofs:
            lines.append(f"{pad}{{")
            lines += _lines(sub, indent + 1)
            lines.append(f"{pad}}}")
    return lines

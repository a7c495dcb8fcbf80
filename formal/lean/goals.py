"""Lean's printed goals, read into `Goal`s, and what a REPL answer's goals mean (one parser for the
REPL session and the LeanDojo session).

Lean prints a goal as an optional `case tag` line, hypotheses `a b : T` (`x : T := v` for a
let-bound one), then `⊢ conclusion`; a line that starts with a space continues the one before, and
a whole state is its goals separated by blank lines (LeanDojo's `pp`, and how `GoalState.printed`
joins them). A parsed goal keeps the text it came from (`Goal.text`), so `printed` shows the policy
and the search exactly what Lean showed, case tag included; the structured fields serve whatever
needs hypotheses and conclusion apart.
"""

from __future__ import annotations

import re

from formal.goal import Goal, Hypothesis
from formal.lean.repl import ErrorResponse, TacticResponse
from formal.result import TacticError, TacticOk, TacticResult

NO_GOALS = "no goals"  # how Lean (and LeanDojo) print a state without goals

_METAVARIABLE = re.compile(r"(?<![\w'!?.])\?[^\W\d]")
_BINDS_VALUE = re.compile(r"(?<![\w.])(?:let|have|fun|match)(?![\w'])|[λ↦]")
_OPEN, _CLOSE = "([{⟨⦃⟦", ")]}⟩⦄⟧"
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


# -- reading goals -------------------------------------------------------------------------------


def case_tag(text: str) -> str | None:
    """The goal's `case` tag (`case succ`), if Lean printed one."""
    first = text.split("\n", 1)[0]
    return first[5:] if first.startswith("case ") else None


def mentions_metavariable(text: str) -> bool:
    """Whether a printed goal shows a metavariable (`?w`, `?m.12`, `?u.3`); `List.head?` is none."""
    return _METAVARIABLE.search(text) is not None


def parse_goal(text: str) -> Goal:
    """One goal as Lean prints it. The case tag stays in `text` only (see `case_tag`); text without a
    `⊢` line is kept whole as the conclusion."""
    lines = text.split("\n")
    if lines and lines[0].startswith("case "):
        lines = lines[1:]
    entries: list[str] = []
    for line in lines:
        if entries and (line[:1].isspace() or not line):
            entries[-1] += "\n" + line
        else:
            entries.append(line)
    for i, entry in enumerate(entries):
        if entry.startswith("⊢"):
            conclusion = "\n".join(entries[i:])[1:]
            hyps = tuple(_hypothesis(e) for e in entries[:i])
            return Goal(hyps, conclusion.removeprefix(" "), text=text)
    return Goal((), text, text=text)


def parse_goals(pp: str) -> tuple[Goal, ...]:
    """A whole state as Lean prints it: goals separated by blank lines; `no goals` is none. Blocks
    without a `⊢` line (not a goal) are skipped."""
    pp = pp.strip("\n")
    if pp.strip() == NO_GOALS:
        return ()
    return tuple(parse_goal(block) for block in _BLANK_LINES.split(pp) if "⊢" in block)


def _hypothesis(entry: str) -> Hypothesis:
    names, sep, rest = entry.partition(" : ")
    if not sep or not names.strip():
        return Hypothesis((), entry)
    cut = _top_level(rest, " := ")
    if cut is not None and not _BINDS_VALUE.search(rest[:cut]):
        return Hypothesis(tuple(names.split()), rest[:cut], rest[cut + 4 :])
    return Hypothesis(tuple(names.split()), rest)


def _top_level(text: str, needle: str) -> int | None:
    depth = 0
    for i, c in enumerate(text):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0 and text.startswith(needle, i):
            return i
    return None


def format_goal(goal: Goal, tag: str | None = None) -> str:
    """A Goal in Lean's layout from its structure (the inverse of `parse_goal`, case tag given back)."""
    lines = [f"case {tag}"] if tag is not None else []
    for h in goal.hypotheses:
        if not h.names:
            lines.append(h.type)
            continue
        value = f" := {h.body}" if h.body is not None else ""
        lines.append(f"{' '.join(h.names)} : {h.type}{value}")
    lines.append(f"⊢ {goal.conclusion}")
    return "\n".join(lines)


# -- what an answer's goals mean -----------------------------------------------------------------


def judge(resp: TacticResponse | ErrorResponse, exact_status: bool = True) -> TacticResult | None:
    """What the REPL's answer to one tactic means; None when goals remain (states to be made).

    `exact_status`: whether the answer's proofStatus speaks for this state's goals alone (False in
    states made by `all_goals sorry`, whose root still has the other goals admitted or open)."""
    if isinstance(resp, ErrorResponse):
        return TacticError(resp.message.removeprefix("Lean error:\n"))
    if resp.errors:
        return TacticError("\n\n".join(m.data for m in resp.errors))
    if resp.sorries:
        return TacticError("the tactic admitted a goal (`sorry`)")
    if resp.goals:
        return None
    status = resp.proof_status
    if status is None or status == "Completed":
        return TacticOk(())
    if status.startswith("Error"):
        return TacticError(f"the kernel rejects the proof: {status}")
    if exact_status:
        return TacticError(f"no goals left, but the proof is not complete: {status}")
    return TacticOk(())  # an isolated goal closed; the rest of the theorem is admitted there

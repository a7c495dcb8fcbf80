"""Trace a Coq file's proofs into state-tactic records, with their proof tree and value targets.

The file runs linearly in one coqidetop process (`formal.coq.document`). Coq itself says where a
proof starts (a sentence after which a proof is open: `Lemma`, `Instance ... .`, `Next Obligation`,
`Goal`, `Function` termination proofs ...) and where it ends (none is open any more); the tracer
only decides what each sentence inside a proof is: a focus change (bullets, braces, `N: {`),
a command (`Proof`, `Unshelve`, `Show` ...), the end (`Qed` ...), or a tactic, which is recorded
with the focused goals before and after it.

The proof tree comes from Coq's goal ids: a tactic acted on the focused goals that no longer
exist after it, and created the goals that did not exist before it (`proof_values`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from data.records import NO_GOALS, TracedTactic, TracedTheorem
from data.trace_sources import SourceFile, TraceConfig, coq_version, locate
from formal.coq import xml
from formal.coq.commands import INTERACTIVE_KINDS, THEOREM_KINDS, command_words
from formal.coq.document import CoqDocument, DocumentLost, SentenceResult
from formal.coq.sentences import (
    CoqSyntaxError,
    Sentence,
    split_sentences,
)

log = logging.getLogger(__name__)

PROOF_ENDS = frozenset({"Qed", "Defined", "Save", "Admitted", "Abort"})
NOT_TRAINING_DATA = frozenset({"Admitted", "Abort"})
# Vernacular that may stand inside a proof: executed, never recorded as a tactic.
PROOF_COMMANDS = frozenset(
    {"Proof", "Show", "Check", "Print", "About", "Locate", "Search", "SearchPattern", "SearchRewrite",
     "SearchHead", "Eval", "Compute", "Unshelve", "Focus", "Unfocus", "Unfocused", "Opaque",
     "Transparent", "Strategy", "Hint", "Set", "Unset", "Test", "Existential", "Guarded", "Optimize",
     "Undo", "Restart", "Back", "BackTo", "Ltac", "Ltac2", "Tactic", "Notation", "Infix", "Reserved",
     "Arguments", "Typeclasses", "Create", "Declare", "Require", "Import", "Export", "Open", "Close",
     "Remove", "Add", "Existing", "Canonical", "Coercion", "Implicit", "Generalizable", "Collection"}
)
# Commands that cannot stand inside a proof: skipping a broken proof stops before them.
_TOP_LEVEL = THEOREM_KINDS | INTERACTIVE_KINDS | frozenset(
    {"Goal", "Next", "Obligation", "Section", "Module", "End", "Require", "From", "Inductive",
     "CoInductive", "Variant", "Record", "Structure", "Class", "Axiom", "Axioms", "Parameter",
     "Parameters", "Variable", "Variables", "Hypothesis", "Hypotheses", "Context", "Let", "Function",
     "Scheme", "Include", "Conjecture", "Corollary"}
)
_FOCUS = re.compile(r"(?:[-+*]+|[{}]|(?:\d+|\[[A-Za-z_][\w']*\])\s*:\s*\{)")
_SCOPE_WORDS = frozenset({"Module", "Section", "End"})


class Role(Enum):
    """What a sentence inside a proof is."""

    FOCUS = "focus"  # changes the focus only: run, not recorded
    COMMAND = "command"  # vernacular: run, not recorded
    END = "end"  # Qed, Defined, Save, Admitted, Abort
    TACTIC = "tactic"  # recorded, selectors (`2:`, `all:`) included


def sentence_role(s: Sentence) -> Role:
    if _FOCUS.fullmatch(s.text.strip()):
        return Role.FOCUS
    body = s.body
    words = command_words(body)
    head = words[0] if words else ""
    if head in PROOF_ENDS:
        return Role.END
    raw = body.lstrip()
    if head in PROOF_COMMANDS or raw.startswith(("Fail ", "Succeed ")):
        return Role.COMMAND
    return Role.TACTIC


def _head(s: Sentence) -> str:
    words = command_words(s.body)
    return words[0] if words else ""


def _opens_proof(s: Sentence) -> bool:
    """Read without Coq: does this declaration start a proof? (Used when Coq refused it.)"""
    head = _head(s).rstrip(":")
    if head in ("Goal", "Next", "Obligation") or head in THEOREM_KINDS:
        return True
    return head in (*INTERACTIVE_KINDS, "Let") and ":=" not in s.body


def _kind(s: Sentence) -> str:
    """`Lemma`, `Instance` (`Instance:` when anonymous), `Next Obligation`, `Add Parametric Morphism` ..."""
    words = command_words(s.body)
    if words[:1] in (["Next"], ["Add"]):
        return " ".join(words[: 3 if words[1:2] == ["Parametric"] else 2])
    return words[0].rstrip(":") if words else ""


# ---------------------------------------------------------------- the proof tree


@dataclass(frozen=True)
class TreeStep:
    """One tactic as the tree sees it: goals it closed or replaced, goals it created."""

    acted: tuple[str, ...]
    children: tuple[str, ...]
    first: str | None  # the first focused goal before it: a no-op's value is this goal's


def tree_step(before: xml.Goals, after: xml.Goals) -> TreeStep:
    gone = after.ids()
    acted = tuple(gid for gid, _ in before.focused if gid not in gone)
    known = before.ids()
    order = (*(gid for gid, _ in after.focused), *after.background, *after.shelved, *after.given_up)
    children = tuple(dict.fromkeys(g for g in order if g not in known))
    return TreeStep(acted, children, before.focused[0][0] if before.focused else None)


def proof_values(steps: Sequence[TreeStep], open_goals: frozenset[str] = frozenset()) -> list[int | None]:
    """Value target of each tactic: −(tactics on the longest branch below the goal it acted on).

    A goal's value is −1 + the minimum over the children of the tactic that acted on it (−1 for a
    closing tactic); a goal no tactic acted on was solved by unification (0), unless it is still
    in `open_goals` (an unfinished proof), where the value is unknown (None) and so is every value
    above it. A tactic that acted on several goals (`all: t`) gives each all its children: the
    longest branch below any of them. A tactic that acted on none (`try t` that did nothing, or
    `shelve`) gets the value of the goal it was applied to, and does not count as a step.
    """
    value: dict[str, int | None] = {}

    def of(goal: str) -> int | None:
        return value.get(goal, None if goal in open_goals else 0)

    out: list[int | None] = [None] * len(steps)
    for k in range(len(steps) - 1, -1, -1):  # children are acted on later: their values come first
        step = steps[k]
        if step.acted:
            below = [of(c) for c in step.children]
            v = None if None in below else -1 + min(below, default=0)
            for goal in step.acted:
                value[goal] = v
            out[k] = v
        else:
            out[k] = of(step.first) if step.first is not None else None
    return out


def printed(goals: xml.Goals) -> str:
    """The focused goals as Coq prints them, blank lines between goals; `no goals` when none."""
    return "\n\n".join(g.printed for _, g in goals.focused) or NO_GOALS


# ---------------------------------------------------------------- tracing a file


@dataclass(frozen=True)
class TraceError:
    """One line of the error log."""

    file: str
    line: int
    sentence: str
    error: str
    cause: str  # tactic_error, tactic_timeout, proof_end_error, statement_error, command_error, ...
    theorem: str = ""


@dataclass
class FileStats:
    sentences: int = 0
    proofs: int = 0  # proofs Coq opened
    complete: int = 0  # traced to the end and closed with Qed/Defined/Save
    incomplete: int = 0  # a sentence failed inside: kept with complete=False
    admitted: int = 0  # ended with Admitted/Abort in the source: not training data, dropped
    qed: int = 0  # `Qed` sentences in the file (each ends one proof)
    qed_complete: int = 0  # of those, proofs traced completely
    steps: int = 0  # tactic records
    restarts: int = 0
    seconds: float = 0.0
    lost: bool = False  # the Coq process was lost; the rest of the file was not traced


@dataclass
class FileTrace:
    file_path: str
    theorems: list[TracedTheorem]
    errors: list[TraceError]
    stats: FileStats


@dataclass
class _Step:
    sentence: Sentence
    before: xml.Goals
    after: xml.Goals


@dataclass
class _Proof:
    opening: Sentence
    name: str
    kind: str
    statement: str
    state: xml.Goals
    steps: list[_Step] = field(default_factory=list)
    failed: bool = False


def trace_file(path: Path | str, config: TraceConfig, source: SourceFile | None = None) -> FileTrace:
    """Trace every proof of one file. Errors are collected, never raised (except a bad config)."""
    source = source or locate(Path(path), config)
    return _FileTracer(source, config).trace()


class _FileTracer:
    def __init__(self, source: SourceFile, config: TraceConfig) -> None:
        self.source, self.config = source, config
        self.theorems: list[TracedTheorem] = []
        self.errors: list[TraceError] = []
        self.stats = FileStats()
        self.proof: _Proof | None = None
        self.scopes: list[str] = []  # kinds of the open modules and sections: "module" | "section"
        self.lib: tuple[str, ...] = ()
        self.text = ""
        self.sentences: list[Sentence] = []
        self.doc: CoqDocument | None = None

    def trace(self) -> FileTrace:
        t0 = time.perf_counter()
        try:
            self.text = self.source.path.read_text(encoding="utf-8")
            self.sentences = split_sentences(self.text)
        except (OSError, UnicodeDecodeError, CoqSyntaxError) as e:
            self._error(None, f"cannot read: {e}", "file_error")
            return self._result(t0)
        self.stats.sentences = len(self.sentences)
        self.stats.qed = sum(1 for s in self.sentences if _head(s) == "Qed")
        i = 0
        try:
            with CoqDocument(self.config.document, self.source.flags) as self.doc:
                self.lib = self.doc.status().path
                while i < len(self.sentences):
                    i = self._top_level(i) if self.proof is None else self._in_proof(i)
            if self.proof is not None:
                self._error(self.proof.opening, "the file ends inside this proof", "unterminated_proof")
        except DocumentLost as e:
            self.stats.lost = True
            self._error(self.sentences[min(i, len(self.sentences) - 1)] if self.sentences else None, str(e), "coq_lost")
        finally:
            self.stats.restarts = self.doc.restarts if self.doc else 0
        return self._result(t0)

    def _result(self, t0: float) -> FileTrace:
        self.stats.seconds = round(time.perf_counter() - t0, 3)
        return FileTrace(self.source.file_path, self.theorems, self.errors, self.stats)

    def _error(self, s: Sentence | None, message: str, cause: str) -> None:
        theorem = self.proof.name if self.proof else ""
        self.errors.append(
            TraceError(self.source.file_path, s.line if s else 0, s.body[:500] if s else "", message[:2000], cause, theorem)
        )

    # -- outside proofs -----------------------------------------------------------------------

    def _top_level(self, i: int) -> int:
        s = self.sentences[i]
        r = self.doc.run(s.text)
        if not r.ok:
            broken_proof = _opens_proof(s) or (i + 1 < len(self.sentences) and _head(self.sentences[i + 1]) == "Proof")
            self._error(s, r.error, _cause(r, "statement" if broken_proof else "command"))
            return self._skip_proof(i + 1)[0] if broken_proof else i + 1
        if r.proof_open:
            self._open(s, r.goals)
        elif _head(s) in _SCOPE_WORDS:
            self._update_scopes(_head(s))
        return i + 1

    def _update_scopes(self, head: str) -> None:
        depth = len(self.doc.status().path) - len(self.lib)
        while len(self.scopes) > depth:
            self.scopes.pop()
        while len(self.scopes) < depth:
            self.scopes.append("section" if head == "Section" else "module")

    def _open(self, s: Sentence, goals: xml.Goals) -> None:
        status = self.doc.status()
        opened = status.path[len(self.lib):]
        modules = [n for n, kind in zip(opened, self.scopes) if kind == "module"]
        if len(opened) != len(self.scopes):  # our scope tracking lost step: keep Coq's whole path
            modules = list(opened)
        name = ".".join([*self.lib, *modules, status.proof_name or "Unnamed_thm"])
        kind = _kind(s)
        declared = _opens_proof(s) and kind != "Next Obligation"
        statement = s.body if declared else printed(goals)
        self.proof = _Proof(s, name, kind, statement, goals)
        self.stats.proofs += 1

    # -- inside a proof -----------------------------------------------------------------------

    def _in_proof(self, i: int) -> int:
        s, proof = self.sentences[i], self.proof
        role = sentence_role(s)
        r = self.doc.run(s.text, unfocused=role is not Role.END)
        if not r.ok:
            proof.failed = True
            if role is Role.END:
                self._error(s, r.error, _cause(r, "proof_end"))
                self._abandon(_head(s))
                self._finish(s, _head(s))
                return i + 1
            self._error(s, r.error, _cause(r, "tactic" if role is Role.TACTIC else "command"))
            j, end = self._skip_proof(i + 1)
            self._abandon(_head(end) if end else "Admitted")
            self._finish(end or s, _head(end) if end else "Admitted")
            return j
        if not r.proof_open:  # Qed, or a sentence that closed the proof another way (`Proof t.`)
            self._finish(s, _head(s))
            return i + 1
        if role is Role.TACTIC:
            proof.steps.append(_Step(s, proof.state, r.goals))
        proof.state = r.goals
        return i + 1

    def _skip_proof(self, j: int) -> tuple[int, Sentence | None]:
        """Skip the rest of a broken proof: past its end sentence, or up to a top-level command."""
        while j < len(self.sentences):
            s = self.sentences[j]
            head = _head(s)
            if head in PROOF_ENDS:
                return j + 1, s
            if head in _TOP_LEVEL:
                return j, None
            j += 1
        return j, None

    def _abandon(self, end: str) -> None:
        """Close a broken proof so that later proofs still see its lemma (or not, if it was aborted)."""
        closers = ("Abort.", "Admitted.") if end == "Abort" else ("Admitted.", "Abort.")
        for closer in closers:
            r = self.doc.run(closer, unfocused=False)
            if r.ok and not r.proof_open:
                return
        raise DocumentLost(f"cannot close the broken proof {self.proof.name}")

    def _finish(self, end: Sentence, end_word: str) -> None:
        proof, self.proof = self.proof, None
        if end_word in NOT_TRAINING_DATA:
            self.stats.admitted += 1
            return
        complete = not proof.failed
        self.stats.complete += complete
        self.stats.incomplete += not complete
        self.stats.qed_complete += complete and end_word == "Qed"
        self.theorems.append(self._record(proof, end, complete))

    def _record(self, proof: _Proof, end: Sentence, complete: bool) -> TracedTheorem:
        open_goals = frozenset() if complete else proof.state.ids()
        tree = [tree_step(st.before, st.after) for st in proof.steps]
        values = proof_values(tree, open_goals)
        tactics = tuple(
            TracedTactic(
                tactic=st.sentence.body,
                state_before=printed(st.before),
                state_after=printed(st.after),
                goals_before=tuple(g for _, g in st.before.focused),
                goals_after=tuple(g for _, g in st.after.focused),
                goal_ids=t.acted,
                children=t.children,
                value_target=v,
                line=st.sentence.line,
            )
            for st, t, v in zip(proof.steps, tree, values)
        )
        self.stats.steps += len(tactics)
        return TracedTheorem(
            full_name=proof.name,
            file_path=self.source.file_path,
            start=self._position(proof.opening.start),
            end=self._position(end.end),
            traced_tactics=tactics,
            statement=proof.statement,
            kind=proof.kind,
            complete=complete,
            backend="coq",
            url=self.source.url,
            commit=coq_version(self.config.document.coqidetop),
        )

    def _position(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1


def _cause(r: SentenceResult, what: str) -> str:
    if r.crashed and not r.timed_out:
        return "coq_crash"
    return f"{what}_timeout" if r.timed_out else f"{what}_error"

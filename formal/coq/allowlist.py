"""What a file the trusted checker compiles may contain: an allowlist, not a blocklist.

Every sentence is parsed as Coq parses it (`formal.coq.vernac`), and the command left after the
control prefixes and attributes must be one a statement or proof file needs: loading installed
libraries, scopes and a known set of options, declarations and their proofs, notations, hints and
queries. Tactic sentences (those that do not start with a capitalised word) are left to Coq, which
runs them only inside a proof. Anything else, including every command that reads or writes files,
loads code or weakens the kernel, is refused with a reason before Coq sees the file; a command this
list does not know is refused too, with the same reason shape, so that a new Coq release cannot
widen what a checked file may do without someone adding it here.
"""

from __future__ import annotations

from collections.abc import Iterable

from formal.coq.sentences import CoqSyntaxError, Sentence
from formal.coq.vernac import Command, parse_command

# head -> allowed second words (None: anything may follow).
_ANY = None
ALLOWED: dict[str, frozenset[str] | None] = {
    # libraries, modules, scopes
    "Require": _ANY, "From": _ANY, "Import": _ANY, "Export": _ANY,
    "Open": frozenset({"Scope"}), "Close": frozenset({"Scope"}),
    "Delimit": frozenset({"Scope"}), "Bind": frozenset({"Scope"}),
    "Declare": frozenset({"Scope", "Reduction", "Custom", "Module", "Instance", "Left", "Right",
                          "Equivalent"}),
    "Set": _ANY, "Unset": _ANY,  # the option itself is checked against OPTIONS
    # declarations
    "Definition": _ANY, "Example": _ANY, "Fixpoint": _ANY, "CoFixpoint": _ANY, "Let": _ANY,
    "Inductive": _ANY, "CoInductive": _ANY, "Variant": _ANY, "Record": _ANY, "Structure": _ANY,
    "Class": _ANY, "Instance": _ANY, "Scheme": _ANY, "Combined": frozenset({"Scheme"}),
    "Function": _ANY, "Functional": frozenset({"Scheme"}),
    "Theorem": _ANY, "Lemma": _ANY, "Fact": _ANY, "Remark": _ANY, "Corollary": _ANY,
    "Proposition": _ANY, "Property": _ANY, "Goal": _ANY,
    "Axiom": _ANY, "Axioms": _ANY, "Parameter": _ANY, "Parameters": _ANY, "Conjecture": _ANY,
    "Hypothesis": _ANY, "Hypotheses": _ANY, "Variable": _ANY, "Variables": _ANY, "Context": _ANY,
    "Section": _ANY, "Module": _ANY, "End": _ANY, "Include": _ANY,
    "Universe": _ANY, "Universes": _ANY, "Constraint": _ANY,
    "Obligation": _ANY, "Obligations": _ANY, "Next": frozenset({"Obligation"}),
    "Solve": frozenset({"Obligations", "All"}), "Admit": frozenset({"Obligations"}),
    # proofs
    "Proof": _ANY, "Qed": _ANY, "Defined": _ANY, "Admitted": _ANY, "Abort": _ANY, "Save": _ANY,
    "Unshelve": _ANY, "Focus": _ANY, "Unfocus": _ANY, "Unfocused": _ANY, "Guarded": _ANY,
    "Show": _ANY, "Info": _ANY,
    # notations, tactics, hints, implicit arguments, coercions, instances, unfolding
    "Notation": _ANY, "Infix": _ANY, "Reserved": frozenset({"Notation", "Infix"}),
    "Ltac": _ANY, "Tactic": frozenset({"Notation"}),
    "Hint": frozenset({"Resolve", "Immediate", "Rewrite", "Unfold", "Constructors", "Extern",
                       "Mode", "Opaque", "Transparent", "Variables", "Constants", "Cut", "View"}),
    "Create": frozenset({"HintDb"}), "Remove": frozenset({"Hints"}),
    "Arguments": _ANY, "Implicit": frozenset({"Type", "Types"}), "Generalizable": _ANY,
    "Coercion": _ANY, "Identity": frozenset({"Coercion"}), "Canonical": _ANY,
    "Existing": frozenset({"Instance", "Instances", "Class"}),
    "Typeclasses": frozenset({"Opaque", "Transparent", "eauto"}),
    "Opaque": _ANY, "Transparent": _ANY, "Strategy": _ANY,
    "Add": frozenset({"Ring", "Field", "Morphism", "Parametric", "Relation", "Setoid", "Zify"}),
    "Prenex": frozenset({"Implicits"}),  # ssreflect
    # queries: they print, and the checker never reads the file's output
    "Check": _ANY, "About": _ANY, "Locate": _ANY, "Print": _ANY, "Compute": _ANY, "Eval": _ANY,
    "Search": _ANY, "SearchPattern": _ANY, "SearchRewrite": _ANY, "SearchHead": _ANY,
}

# Options a checked file may set or unset, as their leading words (("Printing",) covers every
# printing option). Options that write files (`Lia Cache`), change the kernel's theory or ask for
# interactive debugging are not here.
OPTIONS: frozenset[tuple[str, ...]] = frozenset(
    tuple(o.split())
    for o in (
        "Printing", "Warnings", "Silent", "Implicit Arguments", "Strict Implicit", "Contextual Implicit",
        "Maximal Implicit Insertion", "Reversible Pattern Implicit", "Asymmetric Patterns",
        "Bullet Behavior", "Default Goal Selector", "Default Proof Using", "Suggest Proof Using",
        "Default Proof Mode", "Nested Proofs Allowed", "Keyed Unification", "Universe Polymorphism",
        "Universe Minimization ToSet", "Polymorphic Inductive Cumulativity", "Primitive Projections",
        "Auto Template Polymorphism", "Uniform Inductive Parameters", "Elimination Schemes",
        "Case Analysis Schemes", "Nonrecursive Elimination Schemes", "Decidable Equality Schemes",
        "Boolean Equality Schemes", "Rewriting Schemes", "Structural Injection", "Regular Subst Tactic",
        "Keep Proof Equalities", "Injection On Proofs", "Firstorder Depth", "Firstorder Solver",
        "Hyps Limit", "Default Timeout", "Ltac Backtrace", "Typeclasses Depth",
        "Typeclasses Strict Resolution", "Typeclasses Unique Instances", "Typeclass Resolution For Conversion",
        "Loose Hint Behavior", "Mangle Names", "Search Output Name Only", "Program Mode",
        "Transparent Obligations", "Shrink Obligations", "Shrink Abstract", "Apply With Renaming",
        "Intuition Negation Unfolding", "Info Micromega", "Automatic Introduction",
    )
)

# Why the commands people reach for most are refused (the default reason covers the rest).
_KNOWN: dict[str, str] = {
    "Drop": "Drop leaves Coq for its OCaml toplevel",
    "Load": "Load reads and runs another file",
    "Cd": "Cd changes the working directory",
    "Pwd": "Pwd reads the working directory",
    "Quit": "Quit ends Coq before the file is checked",
    "Register": "Register binds kernel primitives",
    "Primitive": "Primitive declares kernel primitives",
    "Extraction": "extraction commands write files",
    "Separate": "extraction commands write files",
    "Recursive": "extraction commands write files",
    "Extract": "extraction commands write files",
    "Ltac2": "Ltac2 commands are not allowed in a checked file",
    "Reset": "Reset, Back and Undo rewrite the document under the checker",
    "Back": "Reset, Back and Undo rewrite the document under the checker",
    "BackTo": "Reset, Back and Undo rewrite the document under the checker",
    "Undo": "Reset, Back and Undo rewrite the document under the checker",
    "Restart": "Reset, Back and Undo rewrite the document under the checker",
}
_KNOWN_PAIRS: dict[tuple[str, str], str] = {
    ("Declare", "ML"): "Declare ML Module loads compiled code",
    ("Add", "ML"): "Add ML Path changes where code is loaded from",
    ("Add", "Rec"): "Add Rec LoadPath / ML Path changes where code is loaded from",
    ("Add", "LoadPath"): "Add LoadPath changes where libraries are loaded from",
    ("Remove", "LoadPath"): "Remove LoadPath changes where libraries are loaded from",
}
# Options whose change weakens or changes the kernel: named, so the refusal says what they do.
_KERNEL_OPTIONS: dict[tuple[str, ...], str] = {
    ("Guard", "Checking"): "switches off the guard condition on fixpoints (the kernel accepts non-terminating proofs)",
    ("Positivity", "Checking"): "switches off the positivity check on inductive types (inconsistent)",
    ("Universe", "Checking"): "switches off universe checking (inconsistent)",
    ("Type", "In", "Type"): "collapses the universe hierarchy (inconsistent)",
    ("Definitional", "UIP"): "adds definitional UIP to the kernel's theory (not part of the problem's logic)",
    ("Allow", "StrictProp"): "changes which sorts the kernel allows",
    ("Lia", "Cache"): "makes lia write a cache file", ("Nia", "Cache"): "makes nia write a cache file",
    ("Nra", "Cache"): "makes nra write a cache file",
}
ATTRIBUTES = frozenset(
    {"local", "global", "export", "polymorphic", "monomorphic", "cumulative", "noncumulative",
     "private", "program", "universes", "deprecated", "canonical", "refine", "using", "warnings",
     "warning", "reversible", "nonuniform", "projections", "mode", "add_printing"}
)
_HARMLESS_CONTROLS = frozenset({"Time", "Fail", "Succeed", "Instructions", "Timeout"})


def _is_tactic_shaped(cmd: Command) -> bool:
    """Vernacular commands all start with a capitalised keyword; tactics, bullets, braces and goal
    selectors never do. Coq runs a tactic-shaped sentence only inside a proof, as a tactic."""
    first = cmd.tokens[0]
    if first.kind == "ident":
        return not ("A" <= first.text[0] <= "Z")
    return first.kind in ("number", "symbol")


def _check_option(cmd: Command) -> str | None:
    words = cmd.idents(1)
    for key, why in _KERNEL_OPTIONS.items():
        if tuple(words[: len(key)]) == key:
            return f"{cmd.head} {' '.join(key)} {why}"
    if any(tuple(words[: len(o)]) == o for o in OPTIONS):
        return None
    name = " ".join(words) or (cmd.words[1] if len(cmd.words) > 1 else "")
    return f"the option {name!r} is not on the checker's allowlist of options"


def check_command(cmd: Command) -> str | None:
    """Why this command may not appear in a checked file, or None."""
    if cmd.malformed:
        return f"malformed command prefix: {cmd.malformed}"
    for word, arg in cmd.controls:
        if word == "Redirect":
            return f"Redirect {arg} writes the output of a command to a file"
        if word not in _HARMLESS_CONTROLS:  # pragma: no cover - CONTROLS and this set agree
            return f"the control prefix {word} is not allowed"
    if bad := [a for a in cmd.attributes if a.lower() not in ATTRIBUTES]:
        return (f"the attribute {bad[0]} switches off kernel checks" if bad[0] == "bypass_check"
                else f"the attribute {bad[0]!r} is not on the checker's allowlist")
    if not cmd.tokens:
        return "attributes or prefixes without a command" if (cmd.controls or cmd.attributes) else None
    if _is_tactic_shaped(cmd):
        return "attributes do not apply to tactics" if cmd.attributes else None
    head, words = cmd.head, cmd.words
    second = words[1] if len(words) > 1 else ""
    if (head, second) in _KNOWN_PAIRS:
        return _KNOWN_PAIRS[(head, second)]
    if head in _KNOWN:
        return _KNOWN[head]
    if head.startswith("Extract") or second.startswith("Extraction") and head != "Require":
        return "extraction commands write files"
    if head not in ALLOWED:
        return f"the command {head} is not on the checker's allowlist of commands"
    follow = ALLOWED[head]
    if follow is not None and second not in follow:
        return f"the command {head} {second} is not on the checker's allowlist of commands"
    if head in ("Set", "Unset"):
        return _check_option(cmd)
    if head == "Print" and any(t.kind == "string" for t in cmd.tokens):
        return "Print with a file name writes a file"
    if head == "From" and "Require" not in words:
        return "From must be followed by Require"
    return None


def sentence_problem(body: str) -> str | None:
    """Why the sentence with this body (comments stripped) may not be checked, or None."""
    try:
        return check_command(parse_command(body))
    except CoqSyntaxError as e:
        return f"malformed sentence: {e}"


def find_forbidden(sentences: Iterable[Sentence]) -> tuple[Sentence, str] | None:
    """The first sentence a checked file may not contain, with the reason."""
    for s in sentences:
        if why := sentence_problem(s.body):
            return s, why
    return None

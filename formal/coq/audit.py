"""The axiom audit: what `Print Assumptions` and `coqchk -o` say a compiled file relies on, read
strictly (output that is not understood fails the check), and the verdict that follows from it.

Pure functions over Coq's printed output; running the processes is the checker's business.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from formal.verdict import Verdict

ROOT, LIBRARY = "ProofZeroAudit", "Candidate"  # the compiled file is ProofZeroAudit.Candidate



@dataclass(frozen=True)
class Assumptions:
    """What `Print Assumptions` reported for one theorem, as printed names."""

    axioms: tuple[str, ...] = ()
    unsafe: tuple[str, ...] = ()  # unchecked fixpoints, assumed positivity, type-in-type
    section_variables: tuple[str, ...] = ()


_HEADERS = ("Section Variables:", "Axioms:", "Transparent constants:", "Opaque constants:")
_THEORY = ("Set is impredicative", "Type hierarchy is collapsed (logic is inconsistent)")
_UNSAFE_ENTRY = re.compile(r"(\S+) (is assumed to be (?:guarded|positive)|relies on an unsafe hierarchy)\.")


def parse_assumptions(block: str) -> Assumptions | None:
    """Parse one `Print Assumptions` output; None if any line is not understood (never guess)."""
    if block.strip() == "Closed under the global context":
        return Assumptions()
    sections: dict[str, list[str]] = {}
    unsafe: list[str] = []
    current: list[str] | None = None
    for line in block.splitlines():
        line = line.rstrip()
        if not line:
            continue
        if line in _HEADERS:
            current = sections.setdefault(line, [])
        elif line in _THEORY:
            unsafe.append(line)
        elif current is None:
            return None
        elif line[0].isspace() or line[0] == ":":  # an entry's type, or a wrapped entry
            if not current:
                return None
            current[-1] += " " + line.strip()
        else:
            current.append(line)
    axioms = []
    for entry in sections.get("Axioms:", []):
        if m := _UNSAFE_ENTRY.fullmatch(entry):
            unsafe.append(f"{m.group(1)} {m.group(2)}")
        else:
            axioms.append(entry.split()[0])
    variables = tuple(entry.split()[0] for entry in sections.get("Section Variables:", []))
    if not (axioms or unsafe or variables):
        return None  # not closed, yet nothing assumed: output we do not understand
    return Assumptions(tuple(axioms), tuple(unsafe), variables)


def _marker(nonce: str, tag: str) -> str:
    return f'Goal True. idtac "{nonce} {tag}". Abort.'


def audit_script(nonce: str, theorems: Sequence[str], allowed: Sequence[str]) -> str:
    """`Locate` tells how each allowlisted axiom is printed in this very environment (so a file's
    look-alike `ClassicalDedekindReals.sig_forall_dec` cannot pass for it); then one
    `Print Assumptions` per theorem, each between markers the checked file cannot know."""
    lines = [f"Require {ROOT}.{LIBRARY}."]
    for i, fqn in enumerate(allowed):
        lines += [_marker(nonce, f"A{i}"), f"Locate Term {fqn}."]
    for i, name in enumerate(theorems):
        lines += [_marker(nonce, f"T{i}"), f"Print Assumptions {ROOT}.{LIBRARY}.{name}."]
    lines.append(_marker(nonce, "END"))
    return "\n".join(lines) + "\n"


def _blocks(stdout: str, nonce: str) -> dict[str, str]:
    parts = re.split(rf"^{re.escape(nonce)} (\S+)$", stdout, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def printed_name(locate_block: str, fqn: str) -> str | None:
    """How `fqn` is printed in the audit environment, or None if it is not loaded there."""
    text = " ".join(locate_block.split())
    shorter = r"(?: \(shorter name to refer to it in current context is (\S+?)\))?"
    m = re.search(rf"(?:^| )Constant {re.escape(fqn)}{shorter}(?= |$)", text)
    if not m:
        return None
    return m.group(1) or fqn


def _local_name(printed: str) -> str | None:
    """The name inside the checked file of an object printed as `printed`, if it is the file's."""
    for prefix in (f"{ROOT}.{LIBRARY}.", f"{LIBRARY}."):
        if printed.startswith(prefix):
            return printed[len(prefix):]
    return None


def _display_name(printed: str, allowed: Sequence[str]) -> str:
    """The file's own objects by their name in the file, unless that reads like an allowlisted axiom
    (a file can declare `Module Coq. Module Logic. ...`): then by their absolute name."""
    local = _local_name(printed)
    if local is None:
        return printed
    return f"{ROOT}.{LIBRARY}.{local}" if local in allowed else local


def judge(audit: dict[str, Assumptions], allowed: Sequence[str], declared: set[str],
          trusted: frozenset[str] = frozenset()) -> Verdict:
    """Turn audited assumptions into a verdict: unsafe kernel settings, then admitted lemmas, then
    other axioms, each worse than the next one. `trusted` are axioms the problem itself declares
    (in a suite statement's header), by their name in the file."""
    problems: dict[str, list[str]] = {"forbidden": [], "admitted": [], "axiom": []}
    shown: dict[str, tuple[str, ...]] = {}
    for name, a in audit.items():
        shown[name] = tuple(_display_name(x, allowed) for x in a.axioms) + a.unsafe
        for u in a.unsafe:
            problems["forbidden"].append(f"{name}: {u}")
        for v in a.section_variables:
            problems["axiom"].append(f"{name} depends on section variable {v}")
        for ax in a.axioms:
            local = _local_name(ax)
            if ax in allowed or (local is not None and local in trusted):
                continue
            if local is not None and local in declared:
                problems["admitted"].append(f"{name} was admitted" if local == name
                                            else f"{name} relies on {local}, which was admitted")
            else:
                where = " (declared in the checked file)" if local is not None else ""
                problems["axiom"].append(
                    f"{name} uses axiom {_display_name(ax, allowed)}{where}, not in the allowlist")
    theorems = tuple(audit)
    for reason, found in problems.items():
        if found:
            more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
            return Verdict(False, reason, "; ".join(found[:3]) + more, theorems, shown)
    listed = ", ".join(theorems[:5]) + (", ..." if len(theorems) > 5 else "")
    return Verdict(True, "verified", f"{len(theorems)} theorem(s) verified: {listed}", theorems, shown)




@dataclass(frozen=True)
class LibrarySummary:
    """`coqchk -o`'s context summary of one compiled library: every axiom it relies on (the file's
    own ones, admitted proofs included, and its dependencies'), and the unsafe kernel settings."""

    axioms: tuple[str, ...]
    unsafe: tuple[str, ...]  # "<section>: <name>" for type-in-type, unsafe fixpoints, assumed positivity

    def own_axioms(self) -> tuple[str, ...]:
        """The axioms the checked file itself adds, by their name in the file (`M.lemma`)."""
        prefix = f"{ROOT}.{LIBRARY}."
        return tuple(a[len(prefix):] for a in self.axioms if a.startswith(prefix))


_SUMMARY_SECTION = re.compile(r"^\* (.+?):(.*)$")
_UNSAFE_SECTIONS = ("Constants/Inductives relying on type-in-type",
                    "Constants/Inductives relying on unsafe (co)fixpoints",
                    "Inductives whose positivity is assumed")


def parse_coqchk_summary(output: str) -> LibrarySummary | None:
    """Parse `coqchk -o` output; None unless the summary and all four of its sections are there."""
    at = output.find("CONTEXT SUMMARY")
    if at < 0:
        return None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output[at:].splitlines()[2:]:
        if m := _SUMMARY_SECTION.match(line):
            current = sections.setdefault(m.group(1), [])
            rest = m.group(2).strip()
            if rest and rest != "<none>":
                current.append(rest)
        elif line.strip() and current is not None:
            current.append(line.strip())
    if "Axioms" not in sections or any(s not in sections for s in _UNSAFE_SECTIONS):
        return None
    theory = sections.get("Theory", [])
    unsafe = [f"{s}: {name}" for s in _UNSAFE_SECTIONS for name in sections[s]]
    unsafe += [t for t in theory if t != "Set is predicative"]
    return LibrarySummary(tuple(sections["Axioms"]), tuple(unsafe))

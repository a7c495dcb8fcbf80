"""WE-Math's four-dimensional metric (Qiao et al., arXiv:2407.01284, section 3.2), as the official
evaluation scripts compute it (`evaluation/four_dimensional_metrics.py`, `evaluation/accuracy.py`).

A response's answer is the text after its last "Answer", stripped of `> < : .`; its first character
if that is a letter A-H. Each composite problem, with sub-problem results s1..sm and composite result c,
falls in exactly one of four cases:

    IK (insufficient knowledge)     not all s, not c
    IG (inadequate generalisation)  all s, not c
    CM (complete mastery)           all s, c         -- loose: any s, c
    RM (rote memorisation)          not all s, c     -- loose: no s, c

IK, IG and CM are reported as shares of the composites, RM as a share of CM + RM; the score is
(N - 0.5 IG - RM - IK) / N with RM a count. S1 is the accuracy over the one-step sub-problems, S2 and S3
over the two- and three-step composites. Per knowledge concept: the accuracy of the sub-problems of
each leaf, and each inner node the mean of its leaves' accuracies (as the official `accuracy.py` does
for the second level).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from data.wemath import LETTERS, Testmini

MAX_LISTED = 8  # names listed in an error about missing/duplicate responses


class ResponsesError(ValueError):
    """A responses file that cannot be scored (one line, naming what is wrong)."""


def extract_answer(response: str) -> str | None:
    """The official answer extraction: after the last "Answer", drop `> < : .`, strip, first letter A-H."""
    if not isinstance(response, str):
        return None
    tail = response.split("Answer")[-1].strip()
    tail = "".join(ch for ch in tail if ch not in "><:.").strip()
    return tail[0] if tail and tail[0] in LETTERS else None


def read_responses(path: str | Path) -> list[dict]:
    """Records with string fields `ID`, `key` and `response`, from JSON lines or one JSON list
    (other fields, e.g. the question as the official scripts write it, are ignored)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResponsesError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ResponsesError(f"{path}: cannot read it ({e})") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ResponsesError(f"{path}: not a JSON list ({e.msg} at line {e.lineno})") from None
        records = list(enumerate(data, 1))
        unit = "record"
    else:
        records, unit = [], "line"
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                raise ResponsesError(f"{path}: line {n} is not JSON ({e.msg})") from None
    out = []
    for n, rec in records:
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in ("ID", "key", "response")):
            raise ResponsesError(f"{path}: {unit} {n} needs string fields ID, key and response")
        out.append({"ID": rec["ID"], "key": rec["key"], "response": rec["response"], "at": f"{unit} {n}"})
    if not out:
        raise ResponsesError(f"{path}: no responses")
    return out


def match_responses(data: Testmini, records: Iterable[dict], where: str = "responses") -> dict[tuple[str, str], str]:
    """(ID, key) -> response, exactly one per row of `data`: a duplicate, a missing or an unknown row
    is an error naming them (the official scripts would silently count them as wrong or drop groups)."""
    got: dict[tuple[str, str], str] = {}
    first: dict[tuple[str, str], str] = {}
    duplicates, unknown = [], []
    for rec in records:
        ref = (rec["ID"], rec["key"])
        if ref[1] not in data.groups.get(ref[0], {}):
            unknown.append(f"{ref[0]}/{ref[1]} ({rec.get('at', '?')})")
            continue
        if ref in got:
            duplicates.append(f"{ref[0]}/{ref[1]} ({first[ref]} and {rec.get('at', '?')})")
            continue
        got[ref], first[ref] = rec["response"], rec.get("at", "?")
    if duplicates:
        raise ResponsesError(f"{where}: {len(duplicates)} duplicate responses: {_listed(duplicates)}")
    if unknown:
        raise ResponsesError(f"{where}: {len(unknown)} responses name no row of {data.source}: {_listed(unknown)}")
    missing = [f"{i.id}/{i.key}" for i in data.items if i.ref not in got]
    if missing:
        raise ResponsesError(f"{where}: no response for {len(missing)} of {len(data.items)} rows: {_listed(missing)}")
    return got


def _listed(names: list[str]) -> str:
    more = len(names) - MAX_LISTED
    return ", ".join(names[:MAX_LISTED]) + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class Dimensions:
    """The four cases over N composites in one setting (strict or loose), counts and the official rates."""

    IK: int
    IG: int
    CM: int
    RM: int
    total: int

    @property
    def rates(self) -> dict[str, float | None]:
        n = self.total
        return {"IK": self.IK / n, "IG": self.IG / n, "CM": self.CM / n,
                "RM": self.RM / (self.CM + self.RM) if self.CM + self.RM else None}

    @property
    def score(self) -> float:
        return (self.total - 0.5 * self.IG - self.RM - self.IK) / self.total


@dataclass(frozen=True)
class Accuracy:
    correct: int
    total: int

    @property
    def rate(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass(frozen=True)
class ConceptScore:
    """A node of the knowledge tree: `depth` 1 (root1) .. the leaf's; `accuracy` pooled over its
    sub-problems for a leaf, the mean of its leaves' accuracies for an inner node."""

    name: str
    depth: int
    path: tuple[str, ...]
    accuracy: float | None
    correct: int
    total: int
    leaves: int


@dataclass(frozen=True)
class WeMathScore:
    strict: Dimensions
    loose: Dimensions
    s1: Accuracy
    s2: Accuracy
    s3: Accuracy
    concepts: tuple[ConceptScore, ...]  # depth-first: root1, its root2 nodes, ..., leaves
    extracted: int  # responses with an answer letter found
    responses: int
    source: str

    def to_dict(self) -> dict:
        def dims(d: Dimensions) -> dict:
            return {"score": d.score, "counts": {k: getattr(d, k) for k in ("IK", "IG", "CM", "RM")},
                    "rates": d.rates, "composites": d.total}

        def acc(a: Accuracy) -> dict:
            return {"accuracy": a.rate, "correct": a.correct, "total": a.total}

        return {"data": self.source, "responses": self.responses, "answers_extracted": self.extracted,
                "strict": dims(self.strict), "loose": dims(self.loose),
                "S1": acc(self.s1), "S2": acc(self.s2), "S3": acc(self.s3),
                "concepts": [{**asdict(c), "path": list(c.path)} for c in self.concepts]}


def score(data: Testmini, responses: dict[tuple[str, str], str]) -> WeMathScore:
    """The official metric over `data`, given exactly one response per row (`match_responses`)."""
    joker = {ref: extract_answer(responses[ref]) == data.groups[ref[0]][ref[1]].answer for ref in responses}
    strict, loose = {k: 0 for k in ("IK", "IG", "CM", "RM")}, {k: 0 for k in ("IK", "IG", "CM", "RM")}
    multi = {2: [0, 0], 3: [0, 0]}
    for gid, rows in sorted(data.groups.items()):
        steps = [joker[(gid, key)] for key in sorted(rows) if not key.endswith("_multi")]
        c = joker[(gid, f"{gid[0]}steps_multi")]
        multi[int(gid[0])][0] += c
        multi[int(gid[0])][1] += 1
        case_all, case_any = all(steps), any(steps)
        for setting, lenient in ((strict, False), (loose, True)):
            if not c:
                setting["IG" if case_all else "IK"] += 1
            elif case_all or (lenient and case_any):
                setting["CM"] += 1
            else:
                setting["RM"] += 1
    n = len(data.groups)
    one = [i for i in data.items if not i.composite]
    return WeMathScore(
        Dimensions(**strict, total=n), Dimensions(**loose, total=n),
        Accuracy(sum(joker[i.ref] for i in one), len(one)), Accuracy(*multi[2]), Accuracy(*multi[3]),
        tuple(concept_scores(data, joker)), sum(extract_answer(r) is not None for r in responses.values()),
        len(responses), data.source)


def concept_scores(data: Testmini, joker: dict[tuple[str, str], bool]) -> list[ConceptScore]:
    """Leaves pooled over their sub-problems; every inner node the mean of its leaves (leaves with no
    sub-problem left out of the mean, as pandas does with NaN)."""
    per_leaf: dict[str, list[int]] = {leaf: [0, 0] for leaf in data.tree}
    for item in data.items:
        if not item.composite:
            per_leaf[item.concept][0] += joker[item.ref]
            per_leaf[item.concept][1] += 1
    out: list[ConceptScore] = []
    depth_of_leaf = {leaf: len(node.path) for leaf, node in data.tree.items()}
    prefixes: dict[tuple[str, ...], list[str]] = {}  # every node of the tree -> its leaves, in file order
    for leaf, node in data.tree.items():
        for d in range(1, len(node.path) + 1):
            prefixes.setdefault(node.path[:d], []).append(leaf)
    rank = {path: k for k, path in enumerate(prefixes)}  # first seen: a node comes before its first leaf
    for path in sorted(prefixes, key=lambda p: tuple(rank[p[:d]] for d in range(1, len(p) + 1))):
        leaves = prefixes[path]
        correct = sum(per_leaf[x][0] for x in leaves)
        total = sum(per_leaf[x][1] for x in leaves)
        is_leaf = len(leaves) == 1 and depth_of_leaf[leaves[0]] == len(path)
        if is_leaf:
            accuracy = correct / total if total else None
        else:
            rates = [per_leaf[x][0] / per_leaf[x][1] for x in leaves if per_leaf[x][1]]
            accuracy = sum(rates) / len(rates) if rates else None
        out.append(ConceptScore(path[-1], len(path), path, accuracy, correct, total, len(leaves)))
    return out


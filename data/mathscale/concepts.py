"""MathScale's concept extraction records: per seed question, 1-2 topics and 1-5 knowledge points (KPs).

Records come from a JSON file (a list, or JSON lines, of objects with `topics` and `knowledge_points`;
`id`, `question` and `answer` kept when present) or from an OpenAI-compatible endpoint asked with the
extraction prompt (`data.mathscale.extract`). Concept names are compared after `canonical` (case,
underscores and runs of blanks do not make two concepts): the extracted names are free text, and
"Solving linear equations" and "Solving Linear Equations" are one knowledge point.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MAX_NAME = 120  # characters of one concept name


class ConceptDataError(ValueError):
    """A records file that cannot be used (one line naming the file and the record)."""


@dataclass(frozen=True)
class ConceptRecord:
    id: str
    question: str
    answer: str
    topics: tuple[str, ...]
    knowledge_points: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "answer": self.answer,
                "topics": list(self.topics), "knowledge_points": list(self.knowledge_points)}


def canonical(name: str) -> str:
    """The key a concept name is compared by: lower case, `_` as a blank, blanks collapsed."""
    return " ".join(name.replace("_", " ").split()).casefold()


def concept_list(value: object, limit: int) -> tuple[str, ...] | None:
    """Distinct (by `canonical`) non-empty names, at most `limit`; None if `value` is no list of strings."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    out, seen = [], set()
    for v in value:
        name = " ".join(v.replace("_", " ").split())[:MAX_NAME]
        if name and canonical(name) not in seen:
            seen.add(canonical(name))
            out.append(name)
    return tuple(out[:limit])


def load_records(path: str | Path) -> list[ConceptRecord]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConceptDataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConceptDataError(f"{path}: cannot read it ({e})") from None
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    except json.JSONDecodeError as e:
        raise ConceptDataError(f"{path}: not JSON or JSON lines ({e.msg})") from None
    records = []
    for k, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ConceptDataError(f"{path}: record {k} is not an object")
        topics, kps = concept_list(row.get("topics"), 8), concept_list(row.get("knowledge_points"), 16)
        if topics is None or kps is None:
            raise ConceptDataError(f"{path}: record {k} needs lists of strings `topics` and `knowledge_points`")
        records.append(ConceptRecord(str(row.get("id", k)), _text(row.get("question")), _text(row.get("answer")), topics, kps))
    if not records:
        raise ConceptDataError(f"{path}: no records")
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ConceptDataError(f"{path}: id {dup!r} appears more than once")
    return records


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""

"""Few-shot selection and decontamination for MathScale's generation step.

Examples for a concept composition are the seed questions whose knowledge-point sets are nearest by
Jaccard distance (ties broken by the records' order, so a seed fixes the prompt). A generated question
is contaminated when it shares a run of `n` words with a test question (case and punctuation ignored),
or, for a text shorter than `n` words, when it equals one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from data.mathscale.concepts import ConceptRecord, canonical

_WORD = re.compile(r"[a-z0-9]+")


def jaccard_distance(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


def nearest_examples(kps: Iterable[str], records: list[ConceptRecord], k: int) -> list[ConceptRecord]:
    """The `k` records with a question nearest to the KP set `kps` (canonical names) by Jaccard distance."""
    target = {canonical(x) for x in kps}
    scored = [(jaccard_distance(target, {canonical(x) for x in r.knowledge_points}), i, r)
              for i, r in enumerate(records) if r.question.strip()]
    return [r for _, _, r in sorted(scored, key=lambda t: t[:2])[:k]]


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class NgramIndex:
    """The n-grams of a set of test questions, to find generated questions that copy one."""

    def __init__(self, texts: dict[str, str], n: int = 10) -> None:
        if n < 1:
            raise ValueError("n-gram length must be >= 1")
        self.n = n
        self.grams: dict[tuple[str, ...], str] = {}
        self.short: dict[tuple[str, ...], str] = {}
        for name, text in texts.items():
            w = words(text)
            if len(w) < n:
                self.short.setdefault(tuple(w), name)
            for i in range(len(w) - n + 1):
                self.grams.setdefault(tuple(w[i:i + n]), name)

    def __len__(self) -> int:
        return len(self.grams) + len(self.short)

    def match(self, text: str) -> str | None:
        """The name of a test question `text` overlaps, or None."""
        w = words(text)
        if tuple(w) in self.short:
            return self.short[tuple(w)]
        for i in range(len(w) - self.n + 1):
            hit = self.grams.get(tuple(w[i:i + self.n]))
            if hit is not None:
                return hit
        return None

"""MathScale's two prompts (paper, sections 2.1 and 2.3), in our words, and parsers for the answers.

Concept extraction asks a model, as a math teacher, to name 1-2 topics and 1-5 knowledge points of a
seed question; generation asks it for one new question and its solution built on a sampled concept
composition, with seed questions of nearby knowledge points as examples. The answers are untrusted
text: the parsers keep only well-formed parts and return None for anything else.
"""

from __future__ import annotations

import json
import re

from data.mathscale.concepts import concept_list

MAX_QUESTION = 4_000  # characters of a generated question kept
MAX_SOLUTION = 12_000

EXTRACT_SYSTEM = "You are a math teacher who analyses what a math question tests."
EXTRACT_USER = (
    "Read the math question and its solution below. Name the 1-2 topics it belongs to (broad areas such as "
    "\"Algebra\" or \"Geometry\") and the 1-5 knowledge points a student must know to solve it (specific concepts, "
    "skills or formulas, such as \"Solving linear equations\" or \"Pythagorean theorem\").\n"
    "Answer with one JSON object and nothing else: {{\"topics\": [...], \"knowledge_points\": [...]}}\n\n"
    "Question:\n{question}\n\nSolution:\n{answer}"
)

GENERATE_SYSTEM = "You are a math teacher who writes new practice questions with worked solutions."
GENERATE_USER = (
    "Write one new math question, with a step-by-step solution, that a student can only solve by using "
    "the topics and knowledge points below together. Keep it self-contained and solvable, and put the "
    "final answer of the solution in \\boxed{{}}.\n\n"
    "Topics: {topics}\nKnowledge points: {kps}\n\n"
    "{examples}"
    "Answer in exactly this format:\nQuestion: <the new question>\nSolution: <the worked solution ending in \\boxed{{answer}}>"
)
EXAMPLE = "Example {k} (knowledge points: {kps})\nQuestion: {question}\nSolution: {answer}\n\n"


def extraction_messages(question: str, answer: str = "") -> list[dict]:
    return [{"role": "system", "content": EXTRACT_SYSTEM},
            {"role": "user", "content": EXTRACT_USER.format(question=question, answer=answer or "(not given)")}]


def parse_extraction(text: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(topics, knowledge points) from the first JSON object in `text` holding both lists, trimmed to
    the paper's 2 topics and 5 KPs; None when there is none or either list is empty."""
    if not isinstance(text, str):
        return None
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text[:100_000]):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if not isinstance(obj, dict):
            continue
        topics, kps = concept_list(obj.get("topics"), 2), concept_list(obj.get("knowledge_points"), 5)
        if topics and kps:
            return topics, kps
    return None


def generation_messages(topics: list[str], kps: list[str], examples: list[dict]) -> list[dict]:
    """`examples`: records with question, answer and knowledge_points (the nearest seeds)."""
    shots = "".join(EXAMPLE.format(k=k, kps=", ".join(e["knowledge_points"]), question=e["question"].strip(),
                                   answer=e["answer"].strip()) for k, e in enumerate(examples, 1))
    user = GENERATE_USER.format(topics=", ".join(topics), kps=", ".join(kps), examples=shots)
    return [{"role": "system", "content": GENERATE_SYSTEM}, {"role": "user", "content": user}]


_SECTION = re.compile(r"^\s*\**\s*(Question|Solution)\s*\**\s*:\s*\**\s*", re.I | re.M)


def parse_generation(text: str) -> tuple[str, str] | None:
    """(question, solution) from `Question: ... Solution: ...` (the first of each); None when either is
    missing or empty, or the question is longer than MAX_QUESTION."""
    if not isinstance(text, str):
        return None
    marks = [(m.group(1).lower(), m.start(), m.end()) for m in _SECTION.finditer(text[:100_000])]
    q = next((m for m in marks if m[0] == "question"), None)
    s = next((m for m in marks if m[0] == "solution" and q is not None and m[1] > q[2]), None)
    if q is None or s is None:
        return None
    question, solution = text[q[2]:s[1]].strip(), text[s[2]:].strip()[:MAX_SOLUTION]
    if not question or not solution or len(question) > MAX_QUESTION:
        return None
    return question, solution


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`) with balanced braces, or None."""
    if not isinstance(text, str):
        return None
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    open_at = text.find("{", start)
    if open_at < 0 or text[start:open_at].strip() not in ("\\boxed", "\\fbox"):
        return None
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1:i]
    return None

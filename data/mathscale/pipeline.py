"""MathScale's steps that ask a model: concept extraction from seed questions, and question generation
from concept walks (few-shot, decontaminated). Both stream to append-only journals (`data.journal`):
a rerun asks only what is missing. Off unless an endpoint is configured; without one, `generate`
writes the prompts it would send."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from data.chat import LLMClient, LLMError, check_endpoint
from data.journal import Journal
from data.mathscale.concepts import ConceptRecord
from data.mathscale.fewshot import NgramIndex, nearest_examples
from data.mathscale.graph import ConceptGraph, Walk, epoch_walks
from data.mathscale.prompts import extraction_messages, generation_messages, last_boxed, parse_extraction, parse_generation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointConfig:
    url: str = ""  # base of an OpenAI-compatible API; "" = off
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 1024
    timeout_s: float = 60.0
    retries: int = 2
    temperature: float = 0.7  # generation; extraction always asks at 0
    workers: int = 4  # requests in flight

    def __post_init__(self) -> None:
        check_endpoint(self.url, self.model, "endpoint")
        for name, low in (("max_tokens", 1), ("retries", 0), ("workers", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"endpoint.{name} must be an integer >= {low}, got {value!r}")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError("endpoint.timeout_s must be > 0")
        if not (math.isfinite(self.temperature) and 0 <= self.temperature <= 2):
            raise ValueError("endpoint.temperature must be in [0, 2]")


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)  # per status
    resumed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # key -> endpoint error (asked again on rerun)


def _ask_all(keys_prompts: list[tuple[str, list[dict]]], cfg: EndpointConfig, temperature: float, client: LLMClient,
             handle: Callable[[str, str], None], outcome: Outcome, progress: bool, desc: str) -> None:
    from tqdm import tqdm

    def ask(messages: list[dict]) -> str:
        texts = client.complete(messages, temperature)
        if not texts:
            raise LLMError(f"{client.endpoint}: no text in the response")
        return texts[0]

    with ThreadPoolExecutor(max_workers=cfg.workers) as pool, tqdm(total=len(keys_prompts), desc=desc, disable=not progress) as bar:
        futures = {pool.submit(ask, messages): key for key, messages in keys_prompts}
        try:
            for future in as_completed(futures):
                key = futures[future]
                bar.update(1)
                try:
                    handle(key, future.result())
                except LLMError as e:
                    outcome.errors[key] = str(e)
                    log.warning("%s: no answer: %s", key, e)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def extract_concepts(questions: list[dict], cfg: EndpointConfig, out: Path, client: LLMClient | None = None,
                     progress: bool = True) -> Outcome:
    """Ask for the topics and KPs of each question (dicts with id, question, answer); records go to `out`
    (JSON lines, `load_records` reads them). An unparsable answer is journaled as such, not asked again."""
    journal = Journal(out, lambda rec: str(rec["id"]) if "topics" in rec else None)
    done = journal.read()
    outcome = Outcome(resumed=len(done))
    outcome.counts.update("extracted" if rec["topics"] else "unparsable" for rec in done.values())
    by_id = {str(q["id"]): q for q in questions}
    todo = [(k, extraction_messages(q["question"], q.get("answer", ""))) for k, q in by_id.items() if k not in done]
    if not todo:
        return outcome
    client = client or LLMClient(cfg)

    def handle(key: str, text: str) -> None:
        parsed = parse_extraction(text)
        q = by_id[key]
        topics, kps = parsed or ((), ())
        journal.append({**ConceptRecord(key, q["question"], q.get("answer", ""), topics, kps).to_dict(),
                        **({} if parsed else {"unparsable": text[:500]})})
        outcome.counts["extracted" if parsed else "unparsable"] += 1

    _ask_all(todo, cfg, 0.0, client, handle, outcome, progress, "extract")
    return outcome


def compositions(graph: ConceptGraph, epochs: int, seed: int) -> list[tuple[str, Walk]]:
    """(key, walk) for `epochs` epochs; epoch e's walks are a function of (seed, e) alone."""
    out = []
    for epoch in range(epochs):
        for i, walk in enumerate(epoch_walks(graph, np.random.default_rng([seed, epoch]))):
            out.append((f"e{epoch}_w{i:04d}", walk))
    return out


def generate_questions(walks: Iterable[tuple[str, Walk]], graph: ConceptGraph, records: list[ConceptRecord], k: int,
                       cfg: EndpointConfig, out: Path, tests: NgramIndex | None, client: LLMClient | None = None,
                       progress: bool = True) -> Outcome:
    """One generated question per walk with a KP (statuses: kept, unparsable, contaminated, no_kp), journaled
    to `out`; with no endpoint, the prompts (status `prompt`) instead."""
    journal = Journal(out, lambda rec: rec["key"] if "status" in rec else None)
    done = journal.read()
    outcome = Outcome(resumed=len(done))
    outcome.counts.update(rec["status"] for rec in done.values())
    todo, meta = [], {}
    for key, walk in walks:
        if key in done:
            continue
        topics, kps = [graph.topics[t] for t in walk.topics], [graph.kps[x] for x in walk.kps]
        base = {"key": key, "topics": topics, "kps": kps}
        if not kps:
            journal.append({**base, "status": "no_kp"})
            outcome.counts["no_kp"] += 1
            continue
        shots = nearest_examples(walk.kps, records, k)
        messages = generation_messages(topics, kps, [s.to_dict() for s in shots])
        meta[key] = {**base, "examples": [s.id for s in shots]}
        if not cfg.url:
            journal.append({**meta[key], "status": "prompt", "messages": messages})
            outcome.counts["prompt"] += 1
        else:
            todo.append((key, messages))
    if not todo:
        return outcome
    client = client or LLMClient(cfg)

    def handle(key: str, text: str) -> None:
        parsed = parse_generation(text)
        if parsed is None:
            rec = {**meta[key], "status": "unparsable", "text": text[:2000]}
        else:
            question, solution = parsed
            hit = tests.match(question) if tests is not None else None
            rec = {**meta[key], "status": "contaminated" if hit else "kept", "question": question, "solution": solution,
                   "answer": last_boxed(solution), **({"contaminated_by": hit} if hit else {})}
        journal.append(rec)
        outcome.counts[rec["status"]] += 1

    _ask_all(todo, cfg, cfg.temperature, client, handle, outcome, progress, "generate")
    return outcome

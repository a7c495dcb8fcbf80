"""MathScale's concept graph and the random walk that composes concepts (paper, section 2.2).

Nodes are topics and knowledge points (KPs) seen in at least `min_count` seed questions (the paper drops
concepts seen once). Three edge sets, weighted by co-occurrence: topic-topic, topic-KP and KP-KP, where
w(u, v) is the number of seed questions naming both. The walk scores an edge by
f_co(u, v) = log(w(u, v) + 1e-5) and steps from u to v with probability

    p(u -> v) = exp f_co(u, v) / sum over unvisited neighbours v' of exp f_co(u, v')

in three phases: 1-2 steps on the topic graph from the start topic, exactly one step from the last
topic to a KP, then 0-4 steps on the KP graph (step counts uniform). A node is visited once per walk; a
phase ends early when every neighbour has been visited. An epoch starts one walk at every topic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from data.mathscale.concepts import ConceptRecord, canonical

EPSILON = 1e-5
TOPIC_STEPS = (1, 2)
KP_STEPS = (0, 4)

Edges = dict[str, dict[str, int]]  # node -> neighbour -> co-occurrence count


def f_co(w: int) -> float:
    return math.log(w + EPSILON)


@dataclass
class ConceptGraph:
    topics: dict[str, str]  # canonical name -> display name (the first spelling seen)
    kps: dict[str, str]
    topic_topic: Edges = field(default_factory=dict)
    topic_kp: Edges = field(default_factory=dict)
    kp_kp: Edges = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # "topic:NAME" / "kp:NAME" -> seed questions

    def edges(self) -> dict[str, int]:
        """Number of undirected edges in each set."""
        return {"topic-topic": sum(map(len, self.topic_topic.values())) // 2,
                "topic-kp": sum(map(len, self.topic_kp.values())),
                "kp-kp": sum(map(len, self.kp_kp.values())) // 2}

    def describe(self) -> dict:
        return {"topics": len(self.topics), "knowledge_points": len(self.kps), "edges": self.edges()}


def build_graph(records: Iterable[ConceptRecord], min_count: int = 2) -> ConceptGraph:
    """The graph of the concepts seen in >= `min_count` records, edges counted over the same records."""
    records = list(records)
    names: dict[str, dict[str, str]] = {"topic": {}, "kp": {}}
    seen: Counter[str] = Counter()
    for r in records:
        for kind, values in (("topic", r.topics), ("kp", r.knowledge_points)):
            for v in {canonical(x): x for x in values}.items():
                names[kind].setdefault(v[0], v[1])
                seen[f"{kind}:{v[0]}"] += 1
    keep = {k for k, c in seen.items() if c >= min_count}
    graph = ConceptGraph({k: v for k, v in names["topic"].items() if f"topic:{k}" in keep},
                         {k: v for k, v in names["kp"].items() if f"kp:{k}" in keep},
                         counts={k: seen[k] for k in sorted(keep)})
    for r in records:
        topics = sorted({canonical(t) for t in r.topics} & graph.topics.keys())
        kps = sorted({canonical(k) for k in r.knowledge_points} & graph.kps.keys())
        _pairs(graph.topic_topic, topics)
        _pairs(graph.kp_kp, kps)
        for t in topics:
            for k in kps:
                graph.topic_kp.setdefault(t, {}).setdefault(k, 0)
                graph.topic_kp[t][k] += 1
    return graph


def _pairs(edges: Edges, nodes: list[str]) -> None:
    for i, u in enumerate(nodes):
        for v in nodes[i + 1:]:
            for a, b in ((u, v), (v, u)):
                edges.setdefault(a, {}).setdefault(b, 0)
                edges[a][b] += 1


def transition(neighbours: dict[str, int], visited: set[str]) -> tuple[list[str], np.ndarray]:
    """The unvisited neighbours (sorted) and p(u -> v) = exp f_co / sum exp f_co over them."""
    names = sorted(v for v in neighbours if v not in visited)
    if not names:
        return [], np.zeros(0)
    scores = np.array([f_co(neighbours[v]) for v in names])
    weights = np.exp(scores - scores.max())
    return names, weights / weights.sum()


@dataclass(frozen=True)
class Walk:
    """One concept composition: the topics walked (start first) and the KPs walked, as canonical names;
    `planned` the step counts drawn for the topic and KP phases (fewer taken when the walk got stuck)."""

    topics: tuple[str, ...]
    kps: tuple[str, ...]
    planned: tuple[int, int]

    def to_dict(self, graph: ConceptGraph | None = None) -> dict:
        if graph is None:
            return {"topics": list(self.topics), "kps": list(self.kps), "planned": list(self.planned)}
        return {"topics": [graph.topics[t] for t in self.topics], "kps": [graph.kps[k] for k in self.kps],
                "planned": list(self.planned)}


def _step(neighbours: dict[str, int], visited: set[str], rng: np.random.Generator) -> str | None:
    names, p = transition(neighbours, visited)
    if not names:
        return None
    return names[min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")), len(names) - 1)]


def random_walk(graph: ConceptGraph, start: str, rng: np.random.Generator) -> Walk:
    topic_steps = int(rng.integers(TOPIC_STEPS[0], TOPIC_STEPS[1] + 1))
    kp_steps = int(rng.integers(KP_STEPS[0], KP_STEPS[1] + 1))
    topics = [start]
    for _ in range(topic_steps):
        nxt = _step(graph.topic_topic.get(topics[-1], {}), set(topics), rng)
        if nxt is None:
            break
        topics.append(nxt)
    kps: list[str] = []
    first = _step(graph.topic_kp.get(topics[-1], {}), set(), rng)
    if first is not None:
        kps.append(first)
        for _ in range(kp_steps):
            nxt = _step(graph.kp_kp.get(kps[-1], {}), set(kps), rng)
            if nxt is None:
                break
            kps.append(nxt)
    return Walk(tuple(topics), tuple(kps), (topic_steps, kp_steps))


def epoch_walks(graph: ConceptGraph, rng: np.random.Generator) -> list[Walk]:
    """One walk from every topic (in sorted order, so a seed fixes the epoch)."""
    return [random_walk(graph, t, rng) for t in sorted(graph.topics)]

"""MathScale's concept graph and random walk: the graph built from extracted concepts (singletons dropped,
three edge sets weighted by co-occurrence), and the walk's transition probabilities checked against the
paper's formula p(u -> v) = exp f_co(u, v) / sum exp f_co(u, v'), f_co = log(w + 1e-5), with a
chi-square goodness-of-fit test on many walks from a fixed seed."""

import math
from collections import Counter
from itertools import combinations

import numpy as np
import pytest

from data.mathscale.concepts import ConceptDataError, ConceptRecord, canonical, load_records
from data.mathscale.graph import build_graph, epoch_walks, random_walk, transition
from tests.conftest import REPO

FIXTURE = REPO / "benchmarks/mathscale/xylonfu_math_extraction.json"
WALKS = 20_000


def rec(i, topics, kps):
    return ConceptRecord(str(i), "", "", tuple(topics), tuple(kps))


# -- the chi-square p-value, from the regularized upper incomplete gamma function Q(k/2, x/2) ---------

def gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): a power series for x < a + 1, else a continued fraction (Lentz)."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-15:
            n += 1
            term *= x / n
            total += term
        return 1.0 - total * math.exp(log_front)
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h * math.exp(log_front)


def chi_square_p(observed: Counter, expected_p: dict[str, float]) -> float:
    n = sum(observed.values())
    assert set(observed) <= set(expected_p), f"a transition the formula forbids: {set(observed) - set(expected_p)}"
    stat = sum((observed.get(k, 0) - n * p) ** 2 / (n * p) for k, p in expected_p.items())
    return gamma_q((len(expected_p) - 1) / 2, stat / 2)


def test_the_p_value_function_against_known_quantiles():
    assert gamma_q(0.5, 3.841458820694124 / 2) == pytest.approx(0.05, abs=1e-9)  # chi2(1) 95% quantile
    assert gamma_q(2.5, 11.070497693516351 / 2) == pytest.approx(0.05, abs=1e-9)  # chi2(5)
    assert gamma_q(10, 37.56623478662507 / 2) == pytest.approx(0.01, abs=1e-9)  # chi2(20) 99%
    assert gamma_q(1, 2.0) == pytest.approx(math.exp(-2.0))  # chi2(2): Q(1, x) = e^-x


# -- the graph -------------------------------------------------------------------------------------

def test_graph_drops_singletons_and_counts_co_occurrence():
    """
        q0: topics {Algebra, Equations}   KPs {linear, like terms}
        q1: topics {algebra}              KPs {Linear, like_terms, Rare}     (case and "_" do not matter)
        q2: topics {Equations, Once}      KPs {linear}
    Once (topic) and Rare (KP) are seen once: dropped with their edges.
    """
    g = build_graph([rec(0, ["Algebra", "Equations"], ["linear", "like terms"]),
                     rec(1, ["algebra"], ["Linear", "like_terms", "Rare"]),
                     rec(2, ["Equations", "Once"], ["linear"])])
    assert sorted(g.topics) == ["algebra", "equations"] and sorted(g.kps) == ["like terms", "linear"]
    assert g.topics["algebra"] == "Algebra"  # the first spelling is shown
    assert g.topic_topic == {"algebra": {"equations": 1}, "equations": {"algebra": 1}}
    assert g.topic_kp == {"algebra": {"linear": 2, "like terms": 2}, "equations": {"linear": 2, "like terms": 1}}
    assert g.kp_kp == {"linear": {"like terms": 2}, "like terms": {"linear": 2}}
    assert g.edges() == {"topic-topic": 1, "topic-kp": 4, "kp-kp": 1}


def test_fixture_graph_weights_are_co_occurrence_counts():
    records = load_records(FIXTURE)
    assert len(records) == 100
    g = build_graph(records)
    seen = Counter()
    for r in records:
        seen.update({f"t:{canonical(t)}" for t in r.topics} | {f"k:{canonical(k)}" for k in r.knowledge_points})
    assert set(g.topics) == {k[2:] for k, c in seen.items() if k[0] == "t" and c >= 2}
    assert set(g.kps) == {k[2:] for k, c in seen.items() if k[0] == "k" and c >= 2}
    for u, v in combinations(sorted(g.kps), 2):  # brute force, against the edge map
        w = sum(1 for r in records if {u, v} <= {canonical(k) for k in r.knowledge_points})
        assert g.kp_kp.get(u, {}).get(v, 0) == g.kp_kp.get(v, {}).get(u, 0) == w
    for t in g.topics:
        for k in g.kps:
            w = sum(1 for r in records if t in {canonical(x) for x in r.topics} and k in {canonical(x) for x in r.knowledge_points})
            assert g.topic_kp.get(t, {}).get(k, 0) == w


def test_transition_is_the_softmax_of_f_co_over_unvisited_neighbours():
    names, p = transition({"a": 1, "b": 3, "c": 6, "d": 2}, visited={"d"})
    assert names == ["a", "b", "c"]
    assert p == pytest.approx((np.array([1, 3, 6]) + 1e-5) / (10 + 3e-5))  # exp(log(w + 1e-5)) = w + 1e-5
    assert transition({"a": 1}, {"a"})[0] == []


def test_bad_records_are_named(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[{"topics": ["A"], "knowledge_points": "not a list"}]')
    with pytest.raises(ConceptDataError, match="record 0 needs lists of strings"):
        load_records(p)
    p.write_text('[{"id": 1, "topics": [], "knowledge_points": []}, {"id": 1, "topics": [], "knowledge_points": []}]')
    with pytest.raises(ConceptDataError, match="id '1' appears more than once"):
        load_records(p)
    p.write_text("{oops")
    with pytest.raises(ConceptDataError, match="not JSON"):
        load_records(p)


# -- the walk --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return build_graph(load_records(FIXTURE))


def test_an_epoch_starts_once_at_every_topic_and_follows_the_edge_sets(graph):
    walks = epoch_walks(graph, np.random.default_rng(7))
    assert [w.topics[0] for w in walks] == sorted(graph.topics)
    for w in walks:
        assert 1 <= len(w.topics) <= 3 and len(w.kps) <= 5
        assert len(set(w.topics)) == len(w.topics) and len(set(w.kps)) == len(w.kps)
        assert all(b in graph.topic_topic[a] for a, b in zip(w.topics, w.topics[1:]))
        if w.kps:
            assert w.kps[0] in graph.topic_kp[w.topics[-1]]
            assert all(b in graph.kp_kp[a] for a, b in zip(w.kps, w.kps[1:]))
        else:
            assert not graph.topic_kp.get(w.topics[-1])  # only when the last topic has no KP
    assert epoch_walks(graph, np.random.default_rng(7)) == walks
    assert epoch_walks(graph, np.random.default_rng(8)) != walks


@pytest.fixture(scope="module")
def many_walks(graph):
    """WALKS walks from the topic with the most topic neighbours, one fixed seed."""
    start = max(sorted(graph.topics), key=lambda t: len(graph.topic_topic.get(t, {})))
    rng = np.random.default_rng(20240305)
    return start, [random_walk(graph, start, rng) for _ in range(WALKS)]


def _expected(neighbours, visited):
    names, p = transition(neighbours, visited)
    return dict(zip(names, p))


def test_first_topic_step_follows_the_formula(graph, many_walks):
    start, walks = many_walks
    expected = _expected(graph.topic_topic[start], {start})
    assert len(expected) >= 4 and len({round(p, 6) for p in expected.values()}) > 1  # not uniform
    observed = Counter(w.topics[1] for w in walks)
    assert chi_square_p(observed, expected) > 1e-3
    uniform = {k: 1 / len(expected) for k in expected}  # the test can tell a wrong formula apart
    assert chi_square_p(observed, uniform) < 1e-6


def test_second_topic_step_excludes_the_visited_and_follows_the_formula(graph, many_walks):
    start, walks = many_walks
    second = [w for w in walks if w.planned[0] == 2 and len(w.topics) >= 2]
    via = Counter(w.topics[1] for w in second if len(graph.topic_topic[w.topics[1]]) >= 3).most_common(1)[0][0]
    expected = _expected(graph.topic_topic[via], {start, via})
    observed = Counter(w.topics[2] for w in second if w.topics[1] == via)
    assert start not in observed and sum(observed.values()) > 500
    assert chi_square_p(observed, expected) > 1e-3


def test_topic_to_kp_and_kp_to_kp_steps_follow_the_formula(graph, many_walks):
    _, walks = many_walks
    last = Counter(w.topics[-1] for w in walks if w.kps).most_common(1)[0][0]
    observed = Counter(w.kps[0] for w in walks if w.topics[-1] == last)
    assert chi_square_p(observed, _expected(graph.topic_kp[last], set())) > 1e-3
    on = [w for w in walks if w.planned[1] >= 1 and w.kps]
    k1 = Counter(w.kps[0] for w in on if len(graph.kp_kp.get(w.kps[0], {})) >= 2).most_common(1)[0][0]
    observed = Counter(w.kps[1] for w in on if w.kps[0] == k1)
    assert sum(observed.values()) > 300
    assert chi_square_p(observed, _expected(graph.kp_kp[k1], {k1})) > 1e-3


def test_step_counts_are_uniform(many_walks):
    _, walks = many_walks
    assert chi_square_p(Counter(w.planned[0] for w in walks), {1: 0.5, 2: 0.5}) > 1e-3
    assert chi_square_p(Counter(w.planned[1] for w in walks), {k: 0.2 for k in range(5)}) > 1e-3

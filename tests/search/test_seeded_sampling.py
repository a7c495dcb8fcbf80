"""Seeded sampling per search: a `SeededPolicy` gets the same tactics from the network whether its states
go out alone or merged by the batching server with other searches' states, in any order."""

import pickle
import threading

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from model.config import ProofNetConfig
from model.inference import ProofNetInference
from model.proofnet import ProofNet
from search.batching import BatchingPolicy
from search.policy import KeyedState, NetworkPolicy, SeededPolicy
from tests.model.memorise import PAIRS, train

# What one search asks, call after call (a state may come back, as in a real search).
CALLS = [[PAIRS[0][0]], [PAIRS[1][0], PAIRS[3][0]], [PAIRS[2][0]], [PAIRS[0][0], PAIRS[4][0], PAIRS[5][0]]]


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    model = ProofNet(ProofNetConfig.preset("tiny", max_tactic_length=24))
    train(model, steps=50)
    return NetworkPolicy(ProofNetInference(model), method="sample", temperature=2.0)


def search(policy) -> list:
    return [policy.evaluate(states, 6) for states in CALLS]


def same(a: list, b: list) -> bool:
    """Tactics and counts equal, log-probs and values equal up to float rounding."""
    for ea, eb in zip(a, b, strict=True):
        for x, y in zip(ea, eb, strict=True):
            if [(s.tactic, s.count) for s in x.tactics] != [(s.tactic, s.count) for s in y.tactics]:
                return False
            if any(abs(s.log_prob - t.log_prob) > 1e-4 for s, t in zip(x.tactics, y.tactics)):
                return False
            if abs(x.value - y.value) > 1e-4:
                return False
    return True


def test_a_search_samples_the_same_tactics_alone_or_batched_with_others(network):
    seeds = [11, 22, 33, 44]
    alone = {seed: search(SeededPolicy(network, seed)) for seed in seeds}
    assert sum(len(e.tactics) for calls in alone.values() for r in calls for e in r) > 20  # samples to compare
    assert not same(alone[11], alone[22])  # the seed matters
    out: dict = {}
    with BatchingPolicy(network, max_batch=8, max_wait_ms=50) as server:
        start = threading.Barrier(len(seeds))

        def run(seed):
            with server.client():
                start.wait()
                out[seed] = search(SeededPolicy(server, seed))

        threads = [threading.Thread(target=run, args=(s,)) for s in seeds]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        stats = server.stats
    assert stats.mean_batch > 1.5  # the searches' states really were merged
    for seed in seeds:
        assert same(out[seed], alone[seed]), seed


def test_the_order_of_states_within_a_batch_does_not_matter(network):
    """The network sees the same keyed states in another order (as a batching server may send them)."""
    states = [KeyedState(s, 1000 + i) for i, (s, _, _) in enumerate(PAIRS)]
    forward = network.evaluate(states, 6)
    backward = network.evaluate(states[::-1], 6)[::-1]
    assert same([forward], [backward])


def test_a_network_policy_with_a_seed_repeats_itself(network):
    a = NetworkPolicy(network.inference, temperature=2.0, seed=5)
    b = NetworkPolicy(network.inference, temperature=2.0, seed=5)
    assert same(search(a), search(b))


def test_a_keyed_state_is_its_string_and_keeps_its_key_through_pickling():
    s = KeyedState("|- True", 7)
    assert s == "|- True" and hash(s) == hash("|- True") and s.key == 7
    back = pickle.loads(pickle.dumps([s]))[0]  # as the Ray client sends it
    assert isinstance(back, KeyedState) and back.key == 7 and back == s

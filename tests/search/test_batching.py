"""BatchingPolicy: many threads share one policy; each gets exactly what the inner policy says about its
own states, in its own order, while the inner policy sees fewer, larger calls."""

import threading
import time
from collections import Counter

import pytest

from search.batching import BatchingPolicy, PolicyClosed
from search.policy import Evaluation, Suggestion


def expected(state: str, k: int) -> Evaluation:
    """What the recording policy answers for a state, whatever batch it arrives in."""
    return Evaluation(tuple(Suggestion(f"{state}/t{i}", -float(i)) for i in range(k)), -float(len(state)))


class RecordingPolicy:
    """Deterministic per state; records every batch; raises on a batch holding a state that starts with
    "boom"; checks that it is never called by two threads at once."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[tuple[tuple[str, ...], int]] = []
        self.overlaps = 0
        self._busy = threading.Lock()

    def evaluate(self, states, k):
        if not self._busy.acquire(blocking=False):
            self.overlaps += 1
            self._busy.acquire()
        try:
            self.batches.append((tuple(states), k))
            time.sleep(self.delay_s)
            if any(s.startswith("boom") for s in states):
                raise ValueError("boom in the batch")
            return [expected(s, k) for s in states]
        finally:
            self._busy.release()


def run_threads(n: int, target, timeout_s: float = 10.0) -> list:
    """Run target(i) in n threads started together; return their results (or exceptions) by index."""
    out: list = [None] * n
    start = threading.Barrier(n)

    def body(i):
        start.wait()
        try:
            out[i] = target(i)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            out[i] = e

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    return out


def test_concurrent_callers_get_exactly_their_own_results():
    inner = RecordingPolicy(delay_s=0.002)
    asked: list[str] = []
    lock = threading.Lock()

    def search(i):
        got = []
        for step in range(15):
            states = [f"s{i}.{step}.{j}" for j in range(1 + (i + step) % 3)]
            k = 1 + i % 3
            with lock:
                asked.extend(states)
            result = policy.evaluate(states, k)
            assert result == [expected(s, k) for s in states]
            got.append(len(result))
        return sum(got)

    with BatchingPolicy(inner, max_batch=16, max_wait_ms=2) as policy:
        results = run_threads(12, search)
    assert all(isinstance(r, int) for r in results), results
    # No request lost or duplicated on its way to the inner policy.
    assert Counter(s for batch, _ in inner.batches for s in batch) == Counter(asked)
    assert inner.overlaps == 0
    stats = policy.stats
    assert stats.calls == 12 * 15 and stats.states == len(asked) == sum(results)


def test_requests_merge_into_batches():
    inner = RecordingPolicy(delay_s=0.01)
    with BatchingPolicy(inner, max_batch=64, max_wait_ms=20) as policy:
        run_threads(8, lambda i: [policy.evaluate([f"s{i}.{n}"], 4) for n in range(10)])
    stats = policy.stats
    assert stats.calls == 80 and stats.states == 80
    assert stats.batches < 40 and stats.mean_batch > 2
    assert stats.max_batch_seen > 1 and stats.batches == len(inner.batches)
    assert stats.inner_s >= 0.01 * stats.batches


def test_max_batch_is_respected_and_a_large_call_is_cut_into_chunks():
    inner = RecordingPolicy(delay_s=0.002)
    big = [f"big{j}" for j in range(10)]

    def caller(i):
        if i == 0:
            return policy.evaluate(big, 2) == [expected(s, 2) for s in big]
        return all(
            policy.evaluate(states, 2) == [expected(s, 2) for s in states]
            for states in ([f"s{i}.{n}.{j}" for j in range(1 + n % 3)] for n in range(8))
        )

    with BatchingPolicy(inner, max_batch=4, max_wait_ms=5) as policy:
        assert run_threads(6, caller) == [True] * 6
    assert max(len(b) for b, _ in inner.batches) <= 4
    assert policy.stats.max_batch_seen == 4  # the 10-state call alone fills batches


def test_different_k_values_are_never_mixed_in_one_inner_call():
    inner = RecordingPolicy(delay_s=0.005)

    def caller(i):
        k = (2, 5)[i % 2]
        return all(policy.evaluate([f"k{k}.{i}.{n}"], k) == [expected(f"k{k}.{i}.{n}", k)] for n in range(6))

    with BatchingPolicy(inner, max_batch=32, max_wait_ms=10) as policy:
        assert run_threads(8, caller) == [True] * 8
    for states, k in inner.batches:
        assert all(s.startswith(f"k{k}.") for s in states), (states, k)
    assert {k for _, k in inner.batches} == {2, 5}


def test_an_inner_exception_reaches_every_caller_and_the_server_keeps_serving():
    inner = RecordingPolicy()
    # max_batch = number of callers and a long wait: the four calls go out as one batch.
    with BatchingPolicy(inner, max_batch=4, max_wait_ms=5_000) as policy:
        results = run_threads(4, lambda i: policy.evaluate(["boom" if i == 0 else f"ok{i}"], 3))
        assert len(inner.batches) == 1
        assert all(isinstance(r, ValueError) and "boom in the batch" in str(r) for r in results), results
        assert all(isinstance(r.__cause__, ValueError) for r in results)  # the worker's original, chained
        with policy.client():  # alone and waiting: served at once, not after 5 s
            assert policy.evaluate(["fine"], 3) == [expected("fine", 3)]
    assert policy.stats.errors == 1


def test_a_wrong_number_of_results_is_an_error_not_a_hang():
    class Short:
        def evaluate(self, states, k):
            return [expected(s, k) for s in states][:-1]

    with BatchingPolicy(Short(), max_wait_ms=1) as policy, pytest.raises(RuntimeError, match="1 evaluations for 2"):
        policy.evaluate(["a", "b"], 1)


def test_when_every_registered_client_waits_the_batch_goes_out_at_once():
    inner = RecordingPolicy()
    with BatchingPolicy(inner, max_batch=64, max_wait_ms=60_000) as policy:

        def search(i):
            with policy.client():
                return policy.evaluate([f"s{i}"], 2)

        t0 = time.monotonic()
        results = run_threads(3, search, timeout_s=5)
        assert time.monotonic() - t0 < 5
        assert results == [[expected(f"s{i}", 2)] for i in range(3)]
        # A client that leaves lets the remaining ones flush without it.
        stay = threading.Event()
        done = threading.Event()

        def idle_client():
            with policy.client():
                stay.wait(5)

        def busy_client():
            with policy.client():
                policy.evaluate(["late"], 2)
                done.set()

        idle = threading.Thread(target=idle_client, daemon=True)
        idle.start()
        busy = threading.Thread(target=busy_client, daemon=True)
        busy.start()
        assert not done.wait(0.2)  # the idle client could still add to the batch
        stay.set()
        assert done.wait(5)
        idle.join(5)
        busy.join(5)


def test_close_answers_the_pending_calls_then_refuses_new_ones():
    inner = RecordingPolicy(delay_s=0.05)
    policy = BatchingPolicy(inner, max_batch=2, max_wait_ms=1)
    out: list = [None] * 6

    def caller(i):
        try:
            out[i] = policy.evaluate([f"s{i}"], 1)
        except PolicyClosed as e:
            out[i] = e

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    policy.close()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    assert not policy._worker.is_alive()
    # Every call that got in before close() was answered; one that came after was refused.
    assert all(o == [expected(f"s{i}", 1)] or isinstance(o, PolicyClosed) for i, o in enumerate(out)), out
    assert sum(isinstance(o, list) for o in out) == sum(len(b) for b, _ in inner.batches)
    with pytest.raises(PolicyClosed, match="closed"):
        policy.evaluate(["again"], 1)
    policy.close()  # idempotent


def test_close_stops_an_idle_worker_promptly_and_later_calls_error():
    with BatchingPolicy(RecordingPolicy(), max_wait_ms=60_000) as policy:
        assert policy.evaluate([], 3) == []
    assert not policy._worker.is_alive()
    with pytest.raises(PolicyClosed):
        policy.evaluate(["x"], 3)
    with pytest.raises(PolicyClosed):
        policy.evaluate([], 3)


def test_a_worker_that_dies_fails_its_callers_instead_of_hanging_them(monkeypatch):
    policy = BatchingPolicy(RecordingPolicy(), max_wait_ms=1)

    def broken(batch):
        raise KeyError("bug in the worker")

    monkeypatch.setattr(policy, "_run_batch", broken)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the worker re-raises on its way out
    with pytest.raises(KeyError, match="bug in the worker"):
        policy.evaluate(["a"], 1)
    policy.close()
    with pytest.raises(PolicyClosed):
        policy.evaluate(["a"], 1)

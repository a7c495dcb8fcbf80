"""One network, many searches: a `PolicyValue` that merges concurrent `evaluate` calls into batches.

Searches run in threads, each with its own proof-assistant session, and spend much of their time
waiting for it; the network is fastest on large batches (bench/inference.py). `BatchingPolicy` sits
between them: a caller blocks while a single worker thread gathers pending requests and calls the inner
policy once per distinct k with all their states. A batch goes out when `max_batch` states are pending,
when the oldest request has waited `max_wait_ms`, or when every registered client is waiting (nobody
is left to add to it). A call larger than `max_batch` is cut into chunks of at most `max_batch` states.

Budgets are unchanged: each caller still counts its own call as one expansion (search/policy.py).
The inner policy is only ever called from the worker thread, so it needs no locking of its own.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from search.policy import Evaluation, PolicyValue

log = logging.getLogger(__name__)


class PolicyClosed(RuntimeError):
    """`evaluate` on a BatchingPolicy after `close()`."""


@dataclass
class BatchingStats:
    calls: int = 0  # evaluate() calls accepted
    states: int = 0  # states sent to the inner policy
    batches: int = 0  # inner.evaluate calls
    errors: int = 0  # inner calls that raised (or returned the wrong number of results)
    inner_s: float = 0.0  # wall time inside inner.evaluate
    max_batch_seen: int = 0  # the largest batch sent

    @property
    def mean_batch(self) -> float:
        return self.states / self.batches if self.batches else 0.0


@dataclass(eq=False)
class _Call:
    """One evaluate() call; its chunks' results land here and the caller wakes when the last one has."""

    remaining: int
    results: list[list[Evaluation] | None]
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(eq=False)
class _Chunk:
    call: _Call
    index: int  # position among the call's chunks
    states: tuple[str, ...]
    k: int
    enqueued: float  # time.monotonic()
    delivered: bool = False


class BatchingPolicy:
    """Share `inner` among threads; see the module docstring. Use as a context manager or `close()` it."""

    def __init__(self, inner: PolicyValue, max_batch: int = 32, max_wait_ms: float = 5.0) -> None:
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self.inner = inner
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self._cond = threading.Condition()
        self._queue: deque[_Chunk] = deque()
        self._pending_states = 0  # states in the queue
        self._waiting = 0  # calls not yet answered in full
        self._clients = 0  # registered with client()
        self._closed = False
        self._stats = BatchingStats()
        self._worker = threading.Thread(target=self._serve, name="batching-policy", daemon=True)
        self._worker.start()

    # -- the caller's side ---------------------------------------------------------------------

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        """The inner policy's evaluations of `states`, in order, computed in some shared batch."""
        if threading.current_thread() is self._worker:
            raise RuntimeError("the inner policy must not call back into its BatchingPolicy")
        states = tuple(states)
        with self._cond:
            if self._closed:
                raise PolicyClosed("BatchingPolicy is closed")
            if not states:
                return []
            now = time.monotonic()
            starts = range(0, len(states), self.max_batch)
            call = _Call(remaining=len(starts), results=[None] * len(starts))
            for i, j in enumerate(starts):
                self._queue.append(_Chunk(call, i, states[j : j + self.max_batch], k, now))
            self._pending_states += len(states)
            self._waiting += 1
            self._stats.calls += 1
            self._cond.notify_all()
        call.done.wait()
        if call.error is not None:
            _raise_in_caller(call.error)
        return [e for part in call.results for e in part]

    @contextmanager
    def client(self) -> Iterator[BatchingPolicy]:
        """Register the calling search for as long as it runs. When every registered client is waiting,
        no request can join the pending batch, so it goes out at once instead of after `max_wait_ms`.
        Only a latency hint: correctness never depends on it (unregistered callers are served too)."""
        with self._cond:
            self._clients += 1
        try:
            yield self
        finally:
            with self._cond:
                self._clients -= 1
                self._cond.notify_all()  # the others may now all be waiting

    @property
    def stats(self) -> BatchingStats:
        with self._cond:
            return dataclasses.replace(self._stats)

    def close(self, timeout: float | None = None) -> None:
        """Refuse new calls, answer the pending ones, stop the worker. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)

    def __enter__(self) -> BatchingPolicy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the worker's side ---------------------------------------------------------------------

    def _serve(self) -> None:
        batch: list[_Chunk] = []
        try:
            while (batch := self._next_batch()) is not None:
                self._run_batch(batch)
        except BaseException as e:  # a bug here must not leave callers blocked forever
            log.exception("batching worker died")
            with self._cond:
                self._closed = True
                for chunk in [*(batch or ()), *self._queue]:
                    if not chunk.delivered:
                        self._deliver(chunk, None, e)
                self._queue.clear()
            raise

    def _next_batch(self) -> list[_Chunk] | None:
        """Block until a batch is due; None once closed and drained."""
        with self._cond:
            while True:
                if not self._queue:
                    if self._closed:
                        return None
                    self._cond.wait()
                    continue
                if self._closed or self._pending_states >= self.max_batch or self._all_clients_waiting():
                    return self._take()
                left = self._queue[0].enqueued + self.max_wait_s - time.monotonic()
                if left <= 0:
                    return self._take()
                self._cond.wait(left)

    def _all_clients_waiting(self) -> bool:
        return self._clients > 0 and self._waiting >= self._clients

    def _take(self) -> list[_Chunk]:
        """Oldest chunks first, up to `max_batch` states (a chunk is never larger)."""
        batch, size = [], 0
        while self._queue and size + len(self._queue[0].states) <= self.max_batch:
            chunk = self._queue.popleft()
            batch.append(chunk)
            size += len(chunk.states)
        self._pending_states -= size
        return batch

    def _run_batch(self, batch: list[_Chunk]) -> None:
        by_k: dict[int, list[_Chunk]] = {}
        for chunk in batch:
            by_k.setdefault(chunk.k, []).append(chunk)
        for k, chunks in by_k.items():
            states = [s for c in chunks for s in c.states]
            out, error = None, None
            t0 = time.perf_counter()
            try:
                out = list(self.inner.evaluate(states, k))
                if len(out) != len(states):
                    raise RuntimeError(f"inner policy returned {len(out)} evaluations for {len(states)} states")
            except BaseException as e:  # noqa: BLE001 -- every waiting caller gets it; the worker goes on
                error = e
            dt = time.perf_counter() - t0
            log.debug("batch of %d states from %d chunks (k=%d) in %.3fs", len(states), len(chunks), k, dt)
            with self._cond:
                s = self._stats
                s.batches += 1
                s.states += len(states)
                s.inner_s += dt
                s.max_batch_seen = max(s.max_batch_seen, len(states))
                s.errors += error is not None
                at = 0
                for c in chunks:
                    self._deliver(c, None if out is None else out[at : at + len(c.states)], error)
                    at += len(c.states)

    def _deliver(self, chunk: _Chunk, result: list[Evaluation] | None, error: BaseException | None) -> None:
        """Under the lock: record one chunk's answer; wake its caller when it was the last one."""
        chunk.delivered = True
        call = chunk.call
        call.results[chunk.index] = result
        if error is not None and call.error is None:
            call.error = error
        call.remaining -= 1
        if call.remaining == 0:
            self._waiting -= 1
            call.done.set()


def _raise_in_caller(error: BaseException) -> None:
    """Raise the inner policy's exception in this caller: a copy of it (same type and arguments), so that
    several threads never raise one object at once, chained to the original with the worker's traceback."""
    try:
        mine = copy.copy(error)
    except Exception:  # noqa: BLE001 -- a type that cannot be rebuilt from its arguments
        raise error from None
    raise mine from error

"""Provers and the policy server on Ray: one machine to many without code changes.

`RayProverPool` runs N prover actors. Each builds its own `prove_one` from a picklable factory, so
each owns its Coq processes (and model, if any), and the pool is itself a thread-safe `prove_one`
for `eval.runner.run_suite(..., workers=num_actors)`. An actor that dies (segfault, OOM kill, node
loss) costs its theorem a retry on a fresh actor, never the run; after `max_retries` the row is
`env_error`, because a crashing environment is not a failed proof.

`RayPolicyServer` is one actor that owns the network and serves many provers at once (a threaded
actor), batching their calls through `search.batching.BatchingPolicy`; `RemotePolicy` is the
picklable `PolicyValue` the provers hold.

Factories are zero-argument picklable callables: a module-level function, a `functools.partial`
of one, or a dataclass with `__call__` -- never a lambda or closure, which cloudpickle would copy by
value together with whatever it captured. On a cluster the project must be installed on every node.

Ray is imported lazily, so `import search` never imports it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from formal.theorem import Theorem
from search.attempt import Attempt, Status
from search.policy import Evaluation, PolicyValue

log = logging.getLogger(__name__)

ProveOne = Callable[[Theorem], Attempt]
ProverFactory = Callable[[], ProveOne]  # called once inside each actor
PolicyFactory = Callable[[], PolicyValue]  # called once inside the server actor


def _ray():
    import ray

    return ray


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActorOptions:
    """What one prover actor reserves from the cluster's scheduler (logical resources)."""

    num_cpus: float = 1.0
    memory_mb: int = 0  # 0 = no reservation

    def __post_init__(self) -> None:
        if self.num_cpus < 0 or self.memory_mb < 0:
            raise ValueError("actor num_cpus and memory_mb must be >= 0")

    def ray_options(self) -> dict:
        opts: dict = {"num_cpus": self.num_cpus}
        if self.memory_mb:
            opts["memory"] = self.memory_mb * 2**20
        return opts


@dataclass(frozen=True)
class RayConfig:
    address: str | None = None  # None or "" = start Ray locally; "auto" or "ray://host:10001" = a cluster
    num_actors: int = 2  # prover actors = theorems in flight
    num_cpus: int | None = None  # local start only: CPUs Ray may schedule on (None = all cores)
    object_store_mb: int = 200  # local start only: the shared-memory object store, capped
    max_retries: int = 2  # fresh actors a theorem gets after its actor died
    attempt_timeout_s: float = 0.0  # safety net per try (the actor is replaced); 0 = none
    log_to_driver: bool = True  # forward the actors' stdout/stderr to this process
    actor_options: ActorOptions = field(default_factory=ActorOptions)

    def __post_init__(self) -> None:
        if self.num_actors < 1:
            raise ValueError("num_actors must be >= 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.object_store_mb < 80:
            raise ValueError("object_store_mb must be >= 80 (Ray's minimum is 75 MiB)")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError("num_cpus must be >= 1")
        if self.attempt_timeout_s < 0:
            raise ValueError("attempt_timeout_s must be >= 0")


@contextmanager
def ray_session(cfg: RayConfig | None = None) -> Iterator[None]:
    """Ray for the duration of the block: started locally (no dashboard, capped object store, no
    usage reporting) or connected to `cfg.address`. Shut down on exit only if this call started
    it, so nested sessions and a caller's own `ray.init` are left alone."""
    cfg = cfg or RayConfig()
    ray = _ray()
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if cfg.address:
        _check_reachable(cfg.address)
        ray.init(address=cfg.address, log_to_driver=cfg.log_to_driver, logging_level=logging.WARNING)
        log.info("connected to the Ray cluster at %s: %s", cfg.address, ray.cluster_resources())
    else:
        ray.init(
            address="local",  # a new local instance even if RAY_ADDRESS names a cluster
            num_cpus=cfg.num_cpus,
            object_store_memory=cfg.object_store_mb * 2**20,
            include_dashboard=False,
            log_to_driver=cfg.log_to_driver,
            logging_level=logging.WARNING,
        )
        log.info("started Ray locally: %s", ray.cluster_resources())
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on: `ray.init` would keep retrying for minutes."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except (OSError, ValueError):
        raise ConnectionError(f"no Ray cluster answers at {address}") from None


def _require_ray():
    ray = _ray()
    if not ray.is_initialized():
        raise RuntimeError("Ray is not running: open a `ray_session(cfg)` first")
    return ray


# -- provers ------------------------------------------------------------------------------------


class _ProverActor:
    """One prover process: builds its own `prove_one` once, then proves theorems one at a time."""

    def __init__(self, factory: ProverFactory) -> None:
        self._prove_one = factory()

    def ready(self) -> int:
        return os.getpid()

    def prove(self, theorem: Theorem) -> Attempt:
        return self._prove_one(theorem)

    def close(self) -> None:
        """Let the prover release what it owns (Coq processes) before the actor is killed."""
        close = getattr(self._prove_one, "close", None)
        if callable(close):
            close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class RayProverPool:
    """A thread-safe `prove_one` backed by `cfg.num_actors` prover actors.

    Each call takes an idle actor, proves the theorem there and gives the actor back. If the actor
    dies during the call it is replaced and the theorem tried again on the fresh one, up to
    `cfg.max_retries` times; then the row is `env_error`. An exception raised by `prove_one` itself
    (a bug, not a crash) is re-raised, as it would be without Ray.
    """

    def __init__(self, factory: ProverFactory, cfg: RayConfig | None = None,
                 name: Callable[[Any], str] | None = None,
                 give_up: Callable[[Any, str], Any] | None = None) -> None:
        ray = _require_ray()
        self.cfg = cfg or RayConfig()
        self._factory = factory
        self._name = name or (lambda task: task.name)
        self._give_up = give_up or (lambda task, message: Attempt(task.name, Status.ENV_ERROR, message=message))
        self._actor_cls = ray.remote(_ProverActor).options(
            max_restarts=0, max_task_retries=0, **self.cfg.actor_options.ray_options()
        )
        self._lock = threading.Lock()
        self._closed = False
        self.deaths = 0  # actors lost over the pool's life (crashes and timeouts)
        self._actors = [self._actor_cls.remote(factory) for _ in range(self.cfg.num_actors)]
        try:  # a factory that fails should fail here, once, not as a death on every theorem
            ray.get([a.ready.remote() for a in self._actors])
        except Exception as e:
            self.close()
            raise RuntimeError(f"prover actors failed to start: {_first_line(e)}") from e
        self._idle: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(len(self._actors)):
            self._idle.put(slot)
        log.info("%d prover actors ready", len(self._actors))

    @property
    def actors(self) -> list:
        """The current actor handles (a replaced actor's slot holds its successor)."""
        with self._lock:
            return list(self._actors)

    def __call__(self, theorem: Theorem) -> Attempt:
        """`theorem` is whatever the factory's callable takes: a Theorem for a prover, an RL game's
        request for the loop's actors (`name` and `give_up` then say how to log it and what an
        attempt that ran out of actors returns)."""
        ray = _ray()
        from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

        timeout = self.cfg.attempt_timeout_s or None
        slot = self._idle.get()
        try:
            failures: list[str] = []
            while True:
                if self._closed:
                    raise RuntimeError("the prover pool is closed")
                actor = self._actors[slot]
                ref = actor.prove.remote(theorem)
                try:
                    return ray.get(ref, timeout=timeout)
                except RayTaskError:
                    raise  # raised inside prove_one (even a dead policy server's): the actor is fine
                except RayActorError as e:
                    failures.append(f"died: {_first_line(e)}")
                except GetTimeoutError:
                    failures.append(f"timed out after {self.cfg.attempt_timeout_s:g}s")
                log.warning("%s: prover actor %s (try %d of %d)", self._name(theorem), failures[-1],
                            len(failures), self.cfg.max_retries + 1)
                self._replace(slot, actor)
                if len(failures) > self.cfg.max_retries:
                    return self._give_up(
                        theorem,
                        f"prover actor died {len(failures)} times (max_retries={self.cfg.max_retries}); "
                        f"last: {failures[-1]}",
                    )
        finally:
            self._idle.put(slot)

    def _replace(self, slot: int, dead: Any) -> None:
        ray = _ray()
        try:
            ray.kill(dead, no_restart=True)  # a timed-out actor is still alive; a dead one is a no-op
        except Exception:  # noqa: BLE001 -- it is gone either way
            pass
        with self._lock:
            self.deaths += 1
            if self._closed:
                return
            fresh = self._actors[slot] = self._actor_cls.remote(self._factory)
        try:  # started before the next try, so its start-up does not count against attempt_timeout_s
            ray.get(fresh.ready.remote())
        except Exception as e:  # noqa: BLE001 -- the next try reports it as a death
            log.warning("a replacement prover actor failed to start: %s", _first_line(e))

    def close(self, timeout_s: float = 30.0) -> None:
        """Ask each actor to release its Coq processes, then kill it. Idempotent."""
        ray = _ray()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            actors = list(self._actors)
        refs = [a.close.remote() for a in actors]
        try:
            ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        except Exception:  # noqa: BLE001 -- killed below regardless
            pass
        for a in actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> RayProverPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- the policy server --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyServerConfig:
    max_concurrency: int = 64  # provers' calls running at once inside the actor (threads)
    batching: bool = True  # merge concurrent calls into model batches (search.batching)
    max_batch: int = 32  # states per model call
    max_wait_ms: float = 5.0  # how long a call waits for others to fill its batch
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_mb: int = 0  # scheduler reservation; 0 = none

    def __post_init__(self) -> None:
        if self.max_concurrency < 2:
            raise ValueError("max_concurrency must be >= 2: the server exists to take many provers' calls at once")
        if self.max_batch < 1 or self.max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")

    def ray_options(self) -> dict:
        opts: dict = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "max_concurrency": self.max_concurrency}
        if self.memory_mb:
            opts["memory"] = self.memory_mb * 2**20
        return opts


class _SerialPolicy:
    """The unbatched path: one call at a time, since a model (or a seeded policy) need not be
    thread-safe. Counts calls like BatchingPolicy, each call its own batch."""

    def __init__(self, inner: PolicyValue) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.calls = self.states = 0

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        with self._lock:
            self.calls += 1
            self.states += len(states)
            return self._inner.evaluate(states, k)

    def stats(self) -> dict:
        return {"calls": self.calls, "states": self.states, "batches": self.calls}

    def close(self) -> None:
        pass


class _PolicyServerActor:
    def __init__(self, factory: PolicyFactory, cfg: PolicyServerConfig) -> None:
        inner = factory()
        if cfg.batching:
            from search.batching import BatchingPolicy

            self._policy = BatchingPolicy(inner, max_batch=cfg.max_batch, max_wait_ms=cfg.max_wait_ms)
        else:
            self._policy = _SerialPolicy(inner)

    def ready(self) -> int:
        return os.getpid()

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        return self._policy.evaluate(states, k)

    def stats(self) -> dict:
        if isinstance(self._policy, _SerialPolicy):
            return self._policy.stats()
        s = self._policy.stats
        return dataclasses.asdict(s) if dataclasses.is_dataclass(s) else {"calls": s.calls, "batches": s.batches}

    def close(self) -> None:
        self._policy.close()


class RayPolicyServer:
    """Starts the policy-server actor: `factory()` runs inside it, so the model lives there (on its
    GPU, with `num_gpus`), and every prover shares it through `policy()`."""

    def __init__(self, factory: PolicyFactory, cfg: PolicyServerConfig | None = None) -> None:
        ray = _require_ray()
        self.cfg = cfg or PolicyServerConfig()
        cls = ray.remote(_PolicyServerActor).options(max_restarts=0, **self.cfg.ray_options())
        self.handle = cls.remote(factory, self.cfg)
        try:
            ray.get(self.handle.ready.remote())
        except Exception as e:
            ray.kill(self.handle, no_restart=True)
            raise RuntimeError(f"policy server failed to start: {_first_line(e)}") from e
        self._closed = False

    def policy(self, timeout_s: float | None = None) -> RemotePolicy:
        """A picklable client to hand to prover actors (or to call from this process)."""
        return RemotePolicy(self.handle, timeout_s)

    def stats(self) -> dict:
        """At least `calls` served and model `batches` run (calls / batches is the batching gained)."""
        return _ray().get(self.handle.stats.remote())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        ray = _ray()
        try:
            ray.get(self.handle.close.remote(), timeout=30)
        except Exception:  # noqa: BLE001 -- killed below regardless
            pass
        ray.kill(self.handle, no_restart=True)

    def __enter__(self) -> RayPolicyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RemotePolicy:
    """A `PolicyValue` whose evaluations run on a `RayPolicyServer`. Picklable (an actor handle),
    so prover factories can carry it into their actors."""

    handle: Any
    timeout_s: float | None = None  # safety net per call; None = wait

    def evaluate(self, states: Sequence[str], k: int) -> list[Evaluation]:
        return _ray().get(self.handle.evaluate.remote(list(states), k), timeout=self.timeout_s)

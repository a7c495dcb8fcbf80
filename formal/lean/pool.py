"""Warm Lean REPL processes, each with its import header already elaborated.

`import Mathlib` costs seconds and gigabytes of mapped memory, far more than a proof attempt spends
on tactics (ANCHORS 6). A pooled process runs its header once, as a command without `env` (the only
place imports may go), and keeps the environment id it got; every session that takes the process
builds on that id. When no idle process has the header asked for, an idle one with another header
is closed (the oldest) and a fresh one started: a second import in the same process would map the
libraries again, and two warm Mathlib processes cost twice the memory. The REPL never
forgets a proof state, so a process is retired after `max_uses` sessions or `max_proof_states`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from formal.lean.repl import CommandResponse, ErrorResponse, LeanREPL, REPLError

log = logging.getLogger(__name__)


class HeaderError(ValueError):
    """The header does not elaborate (Lean reported errors): nothing can be stated on top of it."""


@dataclass(eq=False)
class WarmREPL:
    """A process and the environment its header left: run commands with `env=header_env`."""

    repl: LeanREPL
    header: str
    header_env: int | None  # None: empty header, commands start fresh environments
    uses: int = 0

    @property
    def alive(self) -> bool:
        return self.repl.alive


def start_warm(
    argv: Sequence[str], header: str, cwd: str | None, memory_mb: int | None, start_timeout_s: float,
    default_timeout_s: float = 60.0,
) -> WarmREPL:
    """Spawn a REPL and elaborate `header` in it. REPLError if it cannot; HeaderError on Lean errors."""
    repl = LeanREPL(argv, cwd=cwd, memory_mb=memory_mb, default_timeout_s=default_timeout_s)
    try:
        if not header.strip():
            return WarmREPL(repl, header, None)
        resp = repl.run_command(header, timeout=start_timeout_s)
        if isinstance(resp, ErrorResponse):
            # Lean threw before elaborating (an unknown module, a broken toolchain): not the
            # statement's fault, so an environment failure.
            raise REPLError(f"header refused: {resp.message}")
        assert isinstance(resp, CommandResponse)
        if resp.errors:
            raise HeaderError("; ".join(m.data for m in resp.errors)[:2000])
        if resp.env is None:
            raise REPLError("header elaborated but the REPL gave no environment id")
        return WarmREPL(repl, header, resp.env)
    except BaseException:
        repl.kill()
        raise


class REPLPool:
    """Idle warm processes, keyed by header. `acquire` hands one out; `release` takes it back."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | None = None,
        memory_mb: int | None = None,
        start_timeout_s: float = 300.0,
        max_idle: int = 4,
        max_uses: int = 50,
        max_proof_states: int = 50_000,
    ) -> None:
        self._argv, self._cwd, self._memory_mb = list(argv), cwd, memory_mb
        self._start_timeout_s = start_timeout_s
        self.max_idle, self.max_uses, self.max_proof_states = max_idle, max_uses, max_proof_states
        self._idle: list[WarmREPL] = []
        self._lock = threading.Lock()
        self._closed = False
        self.started = 0  # processes spawned
        self.reused = 0  # acquisitions served by an idle process
        self.replaced = 0  # idle processes closed because their header differed

    def acquire(self, header: str) -> WarmREPL:
        """A live process whose header environment is `header`'s (started if none is idle)."""
        stale: WarmREPL | None = None
        with self._lock:
            if self._closed:
                raise REPLError("the pool is closed")
            self._idle = [w for w in self._idle if w.alive]
            for w in self._idle:
                if w.header == header:
                    self._idle.remove(w)
                    self.reused += 1
                    return w
            if self._idle:  # restart one with another header rather than hold both in memory
                stale = self._idle.pop(0)
                self.replaced += 1
        if stale is not None:
            stale.repl.close()
        warm = start_warm(self._argv, header, self._cwd, self._memory_mb, self._start_timeout_s)
        with self._lock:
            self.started += 1
        return warm

    def release(self, warm: WarmREPL) -> None:
        """Keep a healthy process for the next session unless it is worn or the pool is full."""
        warm.uses += 1
        keep = (
            warm.alive
            and warm.uses < self.max_uses
            and warm.repl.max_proof_state < self.max_proof_states
        )
        with self._lock:
            if keep and not self._closed and len(self._idle) < self.max_idle:
                self._idle.append(warm)
                return
        warm.repl.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for w in idle:
            w.repl.close()

    def __enter__(self) -> REPLPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

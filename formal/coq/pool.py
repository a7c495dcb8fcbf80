"""Warm coqidetop processes shared by the sessions of one run.

Loading a header (``Require Import Reals``) costs about a second, more than most proof attempts
spend on tactics. A session takes the idle process whose document shares the longest prefix with
its own prelude, rewinds it there and adds only the rest; closing the session gives it back.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from formal.coq.process import CoqProcess


class ProcessPool:
    def __init__(self, argv: Sequence[str], memory_mb: int, start_timeout_s: float,
                 max_idle: int = 4, max_uses: int = 200) -> None:
        self._argv, self._memory_mb, self._start_timeout_s = list(argv), memory_mb, start_timeout_s
        self.max_idle, self.max_uses = max_idle, max_uses
        self._idle: list[CoqProcess] = []
        self._uses: dict[int, int] = {}
        self._lock = threading.Lock()
        self.started = 0
        self.reused = 0

    def acquire(self, prelude: Sequence[str]) -> CoqProcess:
        """A live process for `prelude`; its document may hold a prefix of it, or something else."""
        with self._lock:
            self._idle = [p for p in self._idle if p.alive]
            best = max(self._idle, key=lambda p: _shared(p, prelude), default=None)
            if best is not None:
                self._idle.remove(best)
                self.reused += 1
                return best
        proc = CoqProcess(self._argv, self._memory_mb, self._start_timeout_s)
        with self._lock:
            self.started += 1
        return proc

    def release(self, proc: CoqProcess) -> None:
        """Keep a healthy process for the next session, unless the pool is full or it is worn."""
        with self._lock:
            uses = self._uses.get(id(proc), 0) + 1
            self._uses[id(proc)] = uses
            if proc.alive and uses < self.max_uses and len(self._idle) < self.max_idle:
                self._idle.append(proc)
                return
            self._uses.pop(id(proc), None)
        proc.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for p in idle:
            p.close()

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shared(proc: CoqProcess, prelude: Sequence[str]) -> int:
    n = 0
    for (have, _), want in zip(proc.doc, prelude):
        if have != want:
            break
        n += 1
    return n

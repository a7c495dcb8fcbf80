"""An append-only JSON-lines file that survives a kill: the record of a long run of requests.

Each record is one line, written whole, flushed and synced before the next; reading it back cuts a torn
last line (a kill in the middle of a write) and hands back what was complete, so a rerun does only what
is missing. A line that is not a record of this run (not JSON, no key) is an error, never skipped:
mixing two runs' outputs silently is worse than stopping.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class JournalError(ValueError):
    """A line of the journal is not one of its records."""


class Journal:
    def __init__(self, path: Path, key: Callable[[dict], str | None]) -> None:
        self.path = Path(path)
        self.key = key  # a record's identity; None: not a record of this journal
        self._lock = threading.Lock()

    def read(self) -> dict[str, dict]:
        """key -> record, in file order (a later duplicate wins); a torn last line is cut off the file."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            keep = raw.rfind(b"\n") + 1
            log.warning("%s: dropping a torn last line (%d bytes) from an interrupted run", self.path, len(raw) - keep)
            with self.path.open("r+b") as f:
                f.truncate(keep)
            raw = raw[:keep]
        out: dict[str, dict] = {}
        for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            try:
                rec = json.loads(line)
                key = self.key(rec) if isinstance(rec, dict) else None
            except (ValueError, KeyError, TypeError):
                key = None
            if key is None:
                raise JournalError(f"{self.path}: line {n} is not a record of this run (another run's output? use another --out)")
            out[key] = rec
        return out

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

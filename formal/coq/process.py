"""One coqidetop process: spawned with limits, spoken to with deadlines, never leaked.

Every read has a deadline (a malformed call gets no reply at all). The process runs in its own
session and scratch directory, with an address-space limit (set with prlimit right after the
spawn, before it is sent anything: no preexec_fn, which is unsafe with threads). It is killed at
interpreter exit, and if the interpreter dies hard, coqidetop reads EOF on its input and exits.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence

from formal.coq import xml

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[CoqProcess] = weakref.WeakSet()
_GOAL_CALL = xml.goal_call()


class CoqDied(RuntimeError):
    """The process exited or closed its pipe."""


class CoqUnresponsive(RuntimeError):
    """No answer before the deadline."""


class CoqProcess:
    """A coqidetop process and the linear document it holds (sentences with Coq state ids)."""

    def __init__(self, argv: Sequence[str], memory_mb: int, start_timeout_s: float) -> None:
        self.workdir = tempfile.mkdtemp(prefix="proofzero-coq-")
        self._stderr = open(os.path.join(self.workdir, "coqidetop.stderr"), "wb")
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=self.workdir,
                start_new_session=True,
            )
        except OSError as e:
            self._cleanup_dir()
            raise CoqDied(f"cannot start {argv[0]}: {e}") from None
        _LIVE.add(self)
        limit = memory_mb * 2**20
        try:
            resource.prlimit(self.proc.pid, resource.RLIMIT_AS, (limit, limit))
        except (ProcessLookupError, PermissionError, OSError):
            pass  # it died already; the first call reports that
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._poll = select.poll()  # registered once: waiting for an answer is one system call
        self._poll.register(self._out, select.POLLIN)
        self._buf = b""
        self._deferred: list[bytes] = []  # calls that go out with the next write (`rewind_later`)
        self._owed = 0  # answers to deferred calls not read yet: read, and checked, before any other
        self.pending = 0  # answers still owed by `add_and_query` (after a timeout: to discard)
        try:
            self.root_state = xml.state_id_of_init(self._call(xml.init_call(), start_timeout_s))
        except BaseException:
            self.kill()
            raise
        self.doc: list[tuple[str, int]] = []  # sentences added after Init, with their state ids

    @property
    def tip(self) -> int:
        return self.doc[-1][1] if self.doc else self.root_state

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- wire -----------------------------------------------------------------------------------

    def _call(self, payload: bytes, timeout: float) -> xml.Answer:
        self._send(payload)
        return self._read_answer(timeout)

    def _send(self, payload: bytes) -> None:
        """Write calls straight to the pipe (one system call for a tactic's calls, no buffer),
        after any deferred ones (`rewind_later`)."""
        if self._deferred:
            payload = b"".join(self._deferred) + payload
            self._owed += len(self._deferred)
            self._deferred.clear()
        try:
            while payload:
                payload = payload[os.write(self._in, payload) :]
        except OSError:  # EPIPE (Python ignores SIGPIPE), or a closed pipe
            if self.proc.poll() is not None:
                raise CoqDied(f"coqidetop exited with code {self.proc.returncode}") from None
            raise CoqDied("coqidetop closed its input") from None

    def _read_answer(self, timeout: float) -> xml.Answer:
        return xml.parse_answer(self._read_raw(timeout))

    def _read_raw(self, timeout: float) -> bytes:
        """The next ``<value>...</value>``, feedback before it skipped, and so are the answers owed
        to deferred calls (each checked: a refusal is a ProtocolError)."""
        buf, deadline = self._buf, None
        while True:
            end = buf.find(b"</value>")
            if end != -1:  # values do not nest and feedback holds none: its start is the last before
                start = buf.rfind(b"<value", 0, end)
                if start == -1:
                    self._buf = buf[end + 8 :]
                    raise xml.ProtocolError(f"an answer's end without its start: {buf[:200]!r}")
                value, buf = buf[start : end + 8], buf[end + 8 :]
                self._buf = buf
                if not self._owed:
                    return value
                self._owed -= 1
                if not value.startswith(b'<value val="good"'):
                    raise xml.ProtocolError(f"a deferred call was refused: {value[:300]!r}")
                continue
            if deadline is None:
                deadline = time.monotonic() + timeout
                left = timeout
            else:
                left = deadline - time.monotonic()
            if left <= 0:
                self._buf = buf
                raise CoqUnresponsive(f"no answer within {timeout:.1f}s")
            if self._poll.poll(math.ceil(left * 1000)):
                chunk = os.read(self._out, 1 << 16)
                if not chunk:
                    self._buf = buf
                    self.proc.wait()
                    raise CoqDied(f"coqidetop exited with code {self.proc.returncode}")
                buf += chunk
                # Feedback we do not use is dropped as it arrives, so the buffer stays small.
                if b"<value" not in buf:
                    cut = buf.rfind(b"</feedback>")
                    if cut != -1:
                        buf = buf[cut + 11 :]

    # -- document -------------------------------------------------------------------------------

    def add(self, sentence: str, timeout: float, sent: str | None = None) -> xml.Answer:
        """Append one sentence (parsed, not yet run). On success it joins the document. `sent`, if
        given, is the text actually sent in its place (a replay with a longer time limit); the
        document still records `sentence`."""
        self._send(xml.add_call(sentence if sent is None else sent, self.tip))
        raw = self._read_raw(timeout)
        refused = self._added(sentence, raw)
        return refused if refused is not None else xml.Answer(True, raw.decode())

    def _added(self, sentence: str, raw: bytes) -> xml.Answer | None:
        """Read the answer to an Add of `sentence`: on success the sentence joins the document and
        this is None; otherwise Coq's refusal."""
        sid = xml.good_add_state_id(raw)  # the common case, read without building anything
        if sid is not None:
            self.doc.append((sentence, sid))
            return None
        answer = xml.parse_answer(raw)
        if not answer.good:
            return answer
        self.doc.append((sentence, xml.state_id_of_add(answer)))
        return None

    def add_and_run(self, sentence: str, timeout: float) -> xml.Answer:
        """Add one sentence and run it, in one round trip: both calls are written before reading.

        Returns the Add's failure (a parse error), or the Goal answer (goals, or Coq's error).
        """
        self._send(xml.add_call(sentence, self.tip) + _GOAL_CALL)
        refused = self._added(sentence, self._read_raw(timeout))
        ran = self._read_answer(timeout)
        return ran if refused is None else refused

    def add_and_query(
        self, sentence: str, queries: Sequence[bytes], timeout: float
    ) -> tuple[xml.Answer, list[xml.Answer]]:
        """Add one sentence and make `queries` after it (the first one runs it), in one round trip.

        Returns the Add's answer and the queries' answers (after a failed Add they are about the
        old tip). Once the run fails, Coq answers the later queries with the same failure at once,
        without running the sentence again. Each read has its own deadline; `pending` counts the
        answers not read yet when one times out.
        """
        self._send(xml.add_call(sentence, self.tip) + b"".join(queries))
        self.pending = 1 + len(queries)
        added = self._read_answer(timeout)
        self.pending -= 1
        if added.good:
            self.doc.append((sentence, xml.state_id_of_add(added)))
        answers = []
        for _ in queries:
            answers.append(self._read_answer(timeout))
            self.pending -= 1
        return added, answers

    def goals(self, timeout: float) -> xml.Answer:
        """Run the document up to its tip and report the goals there."""
        return self._call(_GOAL_CALL, timeout)

    def query(self, payload: bytes, timeout: float) -> xml.Answer:
        """Calls that leave the document as it is (``Subgoals``, ``Status``, ``Query``), written at
        once: the answer to the first, in time. With several calls in `payload`, the answers to the
        others follow with `next_answer`, in order (one round trip for all)."""
        return self._call(payload, timeout)

    def next_answer(self, timeout: float) -> xml.Answer:
        """The answer to the next call written and not read yet (see `query`)."""
        return self._read_answer(timeout)

    def rewind(self, keep: int, timeout: float) -> None:
        """Keep the first `keep` sentences, discard the rest (Coq restores the cached state)."""
        if keep >= len(self.doc):
            return
        target = self.doc[keep - 1][1] if keep else self.root_state
        answer = self._call(xml.edit_at_call(target), timeout)
        if not answer.good:
            raise xml.ProtocolError(f"Edit_at {target} refused: {answer.message}")
        del self.doc[keep:]

    def rewind_later(self, keep: int) -> None:
        """`rewind` without a round trip of its own: the document keeps its first `keep` sentences
        now, and the Edit_at goes out with the next call, whose answer is read after it. (Coq
        answers calls in order, so nothing runs on the discarded sentences meanwhile.)"""
        if keep >= len(self.doc):
            return
        self._deferred.append(xml.edit_at_call(self.doc[keep - 1][1] if keep else self.root_state))
        del self.doc[keep:]

    def interrupt(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGINT)

    def discard_pending(self, timeout: float) -> bool:
        """After an interrupt: wait for the pending answer; False if none came."""
        try:
            self._read_answer(timeout)
            return True
        except (CoqUnresponsive, CoqDied, xml.ProtocolError):
            return False

    def close(self) -> None:
        if self.alive:
            try:
                self.proc.stdin.write(xml.quit_call())
                self.proc.stdin.flush()
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._in = self._out = -1  # the numbers may be reused once closed: never write there
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        _LIVE.discard(self)
        self._stderr.close()
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self, n: int = 500) -> str:
        try:
            with open(os.path.join(self.workdir, "coqidetop.stderr"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""


@atexit.register
def _kill_all() -> None:
    for p in list(_LIVE):
        p.kill()

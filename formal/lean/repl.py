"""One Lean REPL process (leanprover-community/repl): JSON requests in, typed responses out.

The REPL reads one JSON object per blank-line-terminated block on stdin and answers each with one
pretty-printed JSON object followed by a blank line. It keeps every environment (`env`) and proof
state (`proofState`) it has made, numbered from 0, so any of them can be built on again: branching
is free. It says nothing until asked (no "ready" banner), has no time limit of its own and never
forgets a state, so this client adds what it lacks:

- a deadline on every read: past it the whole process group is killed and `REPLTimeout` raised
  (the caller rebuilds what it needs in a fresh process; Lean cannot be interrupted mid-tactic);
- an address-space limit set before `exec` by a `/bin/sh` wrapper (`ulimit -v`), so that it also
  binds the real `repl` binary that `lake exe repl` starts as a child (prlimit after the spawn, as
  for coqidetop, would race with lake's fork);
- its own session and scratch directory; killed at interpreter exit; if the interpreter dies hard,
  the REPL reads EOF, which ends its loop.

Requests are sent as single-line JSON: the REPL joins the lines of a block without newlines
(a raw newline inside a string would vanish). Blocks of the output that are not JSON (build
progress from lake, debug prints of some REPL versions) are skipped with a log line.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[LeanREPL] = weakref.WeakSet()


class REPLError(RuntimeError):
    """The REPL process cannot answer (base class)."""


class REPLDied(REPLError):
    """The process exited, closed its pipe, or answered something that is not the protocol."""


class REPLTimeout(REPLError):
    """No answer before the deadline; the process has been killed."""


# -- responses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pos:
    line: int
    column: int


@dataclass(frozen=True)
class Message:
    """A Lean message: severity is one of "trace", "info", "warning", "error"."""

    severity: str
    pos: Pos | None
    end_pos: Pos | None
    data: str


@dataclass(frozen=True)
class Sorry:
    """A `sorry` Lean met: the goal it stands for and the proof state that starts there.

    Tactic-mode sorries carry no position (the REPL omits positions on line 0)."""

    goal: str
    proof_state: int | None
    pos: Pos | None = None
    end_pos: Pos | None = None


@dataclass(frozen=True)
class CommandResponse:
    """The answer to a command, a pickled/unpickled environment: the new environment's id."""

    env: int | None
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.severity == "error")


@dataclass(frozen=True)
class TacticResponse:
    """The answer to a tactic (or a proof state pickled/unpickled): the new proof state's id.

    `proof_status` is the REPL's own verdict on the proof term of the state's root goal
    ("Completed", "Incomplete: open goals remain", "Incomplete: contains sorry", "Incomplete:
    contains metavariable(s)", "Error: kernel type check failed: ..."); older REPLs omit it."""

    proof_state: int
    goals: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    sorries: tuple[Sorry, ...] = ()
    proof_status: str | None = None
    traces: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def errors(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.severity == "error")


@dataclass(frozen=True)
class ErrorResponse:
    """The REPL refused the request: unknown env/proof state, a parse error, an exception."""

    message: str


Response = CommandResponse | TacticResponse | ErrorResponse


def _pos(obj: Any) -> Pos | None:
    if not isinstance(obj, dict):
        return None
    return Pos(int(obj.get("line", 0)), int(obj.get("column", 0)))


def _message(obj: dict[str, Any]) -> Message:
    return Message(
        severity=str(obj.get("severity", "error")),
        pos=_pos(obj.get("pos")),
        end_pos=_pos(obj.get("endPos")),
        data=str(obj.get("data", "")),
    )


def _sorry(obj: dict[str, Any]) -> Sorry:
    ps = obj.get("proofState")
    return Sorry(
        goal=str(obj.get("goal", "")),
        proof_state=int(ps) if ps is not None else None,
        pos=_pos(obj.get("pos")),
        end_pos=_pos(obj.get("endPos")),
    )


def parse_response(obj: Any) -> Response:
    """One decoded REPL answer as a typed response. Raises REPLDied on anything else.

    A proof-state answer has "proofState" and "goals"; an error has only "message"; everything
    else with an optional "env" is a command answer ("env" is missing only on odd failures).
    """
    if not isinstance(obj, dict):
        raise REPLDied(f"REPL answered a {type(obj).__name__}, not an object")
    try:
        if "proofState" in obj and "goals" in obj:
            return TacticResponse(
                proof_state=int(obj["proofState"]),
                goals=tuple(str(g) for g in obj["goals"]),
                messages=tuple(_message(m) for m in obj.get("messages", ())),
                sorries=tuple(_sorry(s) for s in obj.get("sorries", ())),
                proof_status=obj.get("proofStatus"),
                traces=tuple(str(t) for t in obj.get("traces", ())),
                raw=obj,
            )
        if "message" in obj and "env" not in obj:
            return ErrorResponse(str(obj["message"]))
        env = obj.get("env")
        return CommandResponse(
            env=int(env) if env is not None else None,
            messages=tuple(_message(m) for m in obj.get("messages", ())),
            sorries=tuple(_sorry(s) for s in obj.get("sorries", ())),
            raw=obj,
        )
    except (TypeError, ValueError, AttributeError) as e:
        raise REPLDied(f"malformed REPL answer ({e}): {str(obj)[:300]}") from None


def _decode_block(block: str) -> dict[str, Any] | None:
    """The JSON object in one output block, or None. Tolerates non-JSON lines before it."""
    lines = block.strip().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("{"):
            try:
                obj = json.loads("\n".join(lines[i:]))
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return None


# -- the process --------------------------------------------------------------------------------


def limited_argv(argv: Sequence[str], memory_mb: int | None) -> list[str]:
    """`argv` run under an address-space limit that its children inherit (None: no limit)."""
    if not memory_mb:
        return list(argv)
    kib = int(memory_mb) * 1024
    return ["/bin/sh", "-c", f'ulimit -v {kib} || exit 125; exec "$@"', "lean-repl", *argv]


class LeanREPL:
    """A REPL process. Every call takes a timeout in seconds (None: `default_timeout_s`)."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: str | None = None,
        memory_mb: int | None = None,
        default_timeout_s: float = 60.0,
        env_vars: dict[str, str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("empty REPL command")
        self.argv = list(argv)
        self.default_timeout_s = default_timeout_s
        self.workdir = tempfile.mkdtemp(prefix="proofzero-lean-")  # pickles, stderr
        self._stderr_path = os.path.join(self.workdir, "repl.stderr")
        self._stderr = open(self._stderr_path, "wb")
        environ = None if env_vars is None else {**os.environ, **env_vars}
        try:
            self.proc = subprocess.Popen(
                limited_argv(self.argv, memory_mb),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                cwd=cwd or None,
                env=environ,
                start_new_session=True,
            )
        except OSError as e:
            self._stderr.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise REPLDied(f"cannot start {self.argv[0]}: {e}") from None
        _LIVE.add(self)
        self._buf = b""
        self.calls = 0  # requests answered
        self.max_proof_state = -1  # highest proofState id seen: the REPL never frees a state
        self.max_env = -1

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- wire -----------------------------------------------------------------------------------

    def request(self, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request and return the decoded answer (REPLDied / REPLTimeout otherwise)."""
        if not self.alive:
            raise REPLDied(self._death())
        line = json.dumps(payload, ensure_ascii=False)
        try:
            self.proc.stdin.write(line.encode() + b"\n\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise REPLDied(f"REPL closed its input; {self._death()}") from None
        answer = self._read(self.default_timeout_s if timeout is None else timeout)
        self.calls += 1
        return answer

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while (cut := self._buf.find(b"\n\n")) != -1:
                block, self._buf = self._buf[:cut], self._buf[cut + 2 :]
                text = block.decode("utf-8", errors="replace")
                obj = _decode_block(text)
                if obj is not None:
                    return obj
                if text.strip():
                    log.debug("REPL printed something that is not an answer: %.200s", text)
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise REPLTimeout(f"no answer within {timeout:.1f}s; process killed")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    tail = self._buf.decode("utf-8", errors="replace").strip()
                    obj = _decode_block(tail) if tail else None
                    self._buf = b""
                    if obj is not None:  # a last answer without its blank line, then exit
                        return obj
                    self.proc.wait()
                    raise REPLDied(self._death())
                self._buf += chunk

    def _death(self) -> str:
        code = self.proc.poll()
        tail = self.stderr_tail()
        what = f"REPL exited with code {code}" if code is not None else "REPL is not answering"
        return f"{what}{': ' + tail if tail else ''}"

    def _typed(self, payload: dict[str, Any], timeout: float | None) -> Response:
        resp = parse_response(self.request(payload, timeout))
        if isinstance(resp, TacticResponse):
            self.max_proof_state = max(self.max_proof_state, resp.proof_state)
        elif isinstance(resp, CommandResponse) and resp.env is not None:
            self.max_env = max(self.max_env, resp.env)
        return resp

    # -- the protocol ---------------------------------------------------------------------------

    def run_command(self, cmd: str, env: int | None = None, timeout: float | None = None) -> Response:
        """Elaborate `cmd` on top of environment `env` (None: a fresh one, where imports go)."""
        payload: dict[str, Any] = {"cmd": cmd}
        if env is not None:
            payload["env"] = env
        return self._typed(payload, timeout)

    def run_tactic(self, tactic: str, proof_state: int, timeout: float | None = None) -> Response:
        """Run one tactic in proof state `proof_state`; the answer names a new proof state."""
        return self._typed({"tactic": tactic, "proofState": proof_state}, timeout)

    def pickle_env(self, env: int, path: str, timeout: float | None = None) -> Response:
        return self._typed({"pickleTo": path, "env": env}, timeout)

    def unpickle_env(self, path: str, timeout: float | None = None) -> Response:
        return self._typed({"unpickleEnvFrom": path}, timeout)

    def pickle_proof_state(self, proof_state: int, path: str, timeout: float | None = None) -> Response:
        """Write a proof state to `path` (.olean). The REPL answers with a new id for the same state."""
        return self._typed({"pickleTo": path, "proofState": proof_state}, timeout)

    def unpickle_proof_state(self, path: str, env: int | None = None, timeout: float | None = None) -> Response:
        """Load a pickled proof state, on top of environment `env` (None: re-import its imports)."""
        payload: dict[str, Any] = {"unpickleProofStateFrom": path}
        if env is not None:
            payload["env"] = env
        return self._typed(payload, timeout)

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self, grace_s: float = 1.0) -> None:
        """Ask politely (EOF ends the REPL loop), then kill the whole process group."""
        if self.alive:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=grace_s)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def kill(self) -> None:
        """Kill the process group (lake and the repl it started), reap, remove the scratch dir."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        _LIVE.discard(self)
        if not self._stderr.closed:
            self._stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stderr_tail(self, n: int = 500) -> str:
        try:
            with open(self._stderr_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - n))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def __enter__(self) -> LeanREPL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def live_processes() -> list[LeanREPL]:
    """REPL processes started by this interpreter and not yet killed (for leak checks)."""
    return [p for p in list(_LIVE) if p.alive]


@atexit.register
def _kill_all() -> None:
    for p in list(_LIVE):
        p.kill()

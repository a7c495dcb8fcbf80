"""Run an untrusted proof-assistant process where a stray write cannot land anywhere that matters.

The command runs in a fresh working directory with HOME and TMPDIR inside it, in its own process
group, under address-space, file-size and CPU-time limits, and dies with the process that started
it (`PR_SET_PDEATHSIG`: a `proofzero verify` killed by SIGKILL or SIGTERM takes its `coqc` along).
Where the kernel allows it (root, or unprivileged user namespaces) it also gets a private mount
namespace in which every mount is read-only except the working directory: the working directory is
then the only writable path the process sees. Where it does not, the caller's directories are
watched instead, and anything new in them after the run is reported (`Completed.escaped`).

Stdlib only (`formal/` imports nothing heavy); Linux only, as the rest of `formal/`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import resource
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 32, 1024, 2048, 4096
_MS_REC, _MS_PRIVATE, _MS_RELATIME = 16384, 1 << 18, 1 << 21
_PR_SET_PDEATHSIG = 1
# statvfs f_flag bits -> mount flags that a remount in a user namespace must keep (locked flags).
_KEEP = ((os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV), (os.ST_NOEXEC, _MS_NOEXEC),
         (os.ST_NOATIME, _MS_NOATIME), (os.ST_NODIRATIME, _MS_NODIRATIME), (os.ST_RELATIME, _MS_RELATIME))


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: int
    cpu_s: float | None = None  # RLIMIT_CPU, the last net if every timer fails; default 2x timeout + 10


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    isolation: str  # "mount-namespace" or "workdir"
    escaped: tuple[str, ...] = ()  # paths outside the working directory that appeared during the run

    @property
    def out_of_memory(self) -> bool:
        return not self.timed_out and (
            "out of memory" in self.stderr.lower() or self.returncode == -signal.SIGKILL
        )


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mount_points() -> list[str]:
    """Every mount point this process sees, outermost first (from /proc/self/mountinfo)."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            field = line.split(" ")[4]
            points.append(field.encode("latin-1", "surrogateescape").decode("unicode_escape"))
    return list(dict.fromkeys(points))


@dataclass(frozen=True)
class _Plan:
    """Everything the child needs, computed in the parent: between fork and exec the child must not
    take locks that another thread of the parent may have held (no logging, no imports)."""

    workdir: bytes
    remounts: tuple[tuple[bytes, int], ...]  # (mount point, flags to keep)
    user_namespace: bool
    uid: int
    gid: int


def _plan(workdir: Path) -> _Plan:
    remounts = []
    for point in _mount_points():
        try:
            flag = os.statvfs(point).f_flag
        except OSError:
            flag = 0
        keep = 0
        for st, ms in _KEEP:
            if flag & st:
                keep |= ms
        remounts.append((os.fsencode(point), keep))
    return _Plan(os.fsencode(str(workdir)), tuple(remounts), os.getuid() != 0, os.getuid(), os.getgid())


def _fail(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def _enter_namespace(plan: _Plan) -> None:
    """In the child: a private mount namespace where all is read-only but the working directory."""
    libc = _libc()
    flags = _CLONE_NEWNS | (_CLONE_NEWUSER if plan.user_namespace else 0)
    if libc.unshare(flags) != 0:
        _fail("unshare")
    if plan.user_namespace:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{plan.uid} {plan.uid} 1"),
                           ("gid_map", f"{plan.gid} {plan.gid} 1")):
            fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        _fail("making mounts private")
    # The working directory becomes a mount of its own first, so the read-only remounts below
    # (which act on the mounts at the listed points) leave it writable.
    if libc.mount(plan.workdir, plan.workdir, None, _MS_BIND, None) != 0:
        _fail("binding the working directory")
    for point, keep in plan.remounts:
        # MS_BIND makes this a per-mount flag in this namespace only: the filesystem itself (and
        # every other process's view of it) stays writable.
        if libc.mount(None, point, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep, None) != 0:
            if ctypes.get_errno() in (2, 13):  # ENOENT, EACCES: a mount this process cannot reach
                continue
            _fail(f"read-only remount of {point!r}")
    os.chdir(plan.workdir)  # the cwd Popen set is the directory under the new mount: re-enter it


def preexec_limits(memory_mb: int | None, cpu_s: float, then=None):
    """A `preexec_fn`: die with the parent, no core files, address space (if given) and CPU time
    limited; `then` runs last (entering the namespace). For processes that cannot be confined to a
    scratch directory (`lake env lean` runs in its project), this is the part that still applies."""
    _libc()  # load libc here, in the parent: finding it may run programs, never between fork and exec
    memory = memory_mb * 2**20 if memory_mb else None
    cpu = max(1, int(cpu_s))
    parent = os.getpid()

    def setup() -> None:  # runs in the child between fork and exec
        _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(125)
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_FSIZE, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        if then is not None:
            then()

    return setup


def _child_setup(limits: Limits, plan: _Plan | None):
    cpu = limits.cpu_s if limits.cpu_s is not None else 2 * limits.timeout_s + 10
    enter = (lambda: _enter_namespace(plan)) if plan is not None else None
    return preexec_limits(limits.memory_mb, cpu, enter)


@functools.cache
def namespaces_available() -> bool:
    """Whether a private read-only mount namespace can be made here; decided once per process by
    running `true` inside one and checking that a write outside the working directory fails."""
    import tempfile

    if os.environ.get("PROOFZERO_NO_NAMESPACES"):
        return False
    with tempfile.TemporaryDirectory(prefix="proofzero-probe-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        probe = Path(tmp) / "outside"
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", f"touch '{probe}' 2>/dev/null; touch inside"], cwd=work,
                preexec_fn=_child_setup(Limits(10, 512), _plan(work)),
                stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
            )
        except (OSError, subprocess.SubprocessError) as e:
            log.info("no private mount namespace for the checker (%s): using a fresh working directory", e)
            return False
        ok = done.returncode == 0 and (work / "inside").exists() and not probe.exists()
    if not ok:
        log.warning("private mount namespace did not confine writes; using a fresh working directory")
    return ok


def _snapshot(dirs: Sequence[Path]) -> dict[Path, set[str]]:
    out = {}
    for d in dirs:
        try:
            out[d] = set(os.listdir(d))
        except OSError:
            continue
    return out


def _watched(workdir: Path, watch: Sequence[Path]) -> list[Path]:
    """The directories checked after a run without a namespace: the caller's working directory,
    HOME, the directory above the scratch directory, and whatever the caller names."""
    home = os.environ.get("HOME")
    dirs = [Path.cwd(), workdir.parent, *watch] + ([Path(home)] if home else [])
    return list(dict.fromkeys(d.resolve() for d in dirs if d.resolve() != workdir.resolve()))


def run_isolated(argv: list[str], workdir: Path, limits: Limits, *, watch: Sequence[Path] = (),
                 env: dict[str, str] | None = None) -> Completed:
    """Run `argv` in `workdir` (fresh, owned by the caller) under `limits`; the wall-clock limit
    kills the whole process group."""
    workdir = workdir.resolve()
    confined = namespaces_available()
    plan = _plan(workdir) if confined else None
    watched = [] if confined else _watched(workdir, watch)
    before = _snapshot(watched)
    run_env = dict(os.environ if env is None else env, HOME=str(workdir), TMPDIR=str(workdir))
    log.debug("running %s in %s (%s)", argv, workdir, "namespace" if confined else "workdir")
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=workdir, env=run_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=_child_setup(limits, plan),
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        out, err = proc.communicate()
    except BaseException:
        kill_group(proc)
        raise
    escaped = []
    for d, names in _snapshot(watched).items():
        escaped += [str(d / n) for n in sorted(names - before.get(d, set()))
                    if _newer(d / n, started)]
    if escaped:
        log.error("a checked process wrote outside its scratch directory: %s", ", ".join(escaped))
    return Completed(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                     timed_out, "mount-namespace" if confined else "workdir", tuple(escaped))


def _newer(path: Path, since: float) -> bool:
    """Created during the run (a name that appeared and is recent; monotonic vs wall: use ctime)."""
    try:
        return path.lstat().st_ctime >= time.time() - (time.monotonic() - since) - 1
    except OSError:
        return False


def kill_group(proc: subprocess.Popen) -> None:
    if proc.returncode is None:  # not reaped yet, so its pid (= group id) cannot have been reused
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

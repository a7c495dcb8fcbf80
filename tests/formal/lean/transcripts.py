"""Recorded Lean REPL transcripts and the replay double that serves them (tests only)."""

import json
import os
import sys
from pathlib import Path

from formal.lean.session import LeanConfig
from tests.formal.lean.replay import read_blocks  # the REPL's way of reading a block

HERE = Path(__file__).resolve().parent
REPLAY = HERE / "replay.py"
TRANSCRIPTS = HERE.parent.parent / "fixtures" / "lean-repl"



def recorded(name: str) -> list[tuple[dict, dict]]:
    """(command, answer) pairs of transcript `name`, both as parsed JSON, in order."""
    prefix = TRANSCRIPTS / name
    commands = read_blocks(prefix.with_name(prefix.name + ".in").read_text(encoding="utf-8").split("\n"))
    answers = prefix.with_name(prefix.name + ".expected.out").read_text(encoding="utf-8").split("\n\n")
    answers = [a for a in answers if a.strip()]
    assert len(commands) == len(answers), name
    return [(json.loads(c, strict=False), json.loads(a)) for c, a in zip(commands, answers)]


def all_transcripts() -> list[str]:
    names = [p.name[: -len(".in")] for p in sorted(TRANSCRIPTS.glob("*.in"))]
    names += ["Mathlib/" + p.name[: -len(".in")] for p in sorted((TRANSCRIPTS / "Mathlib").glob("*.in"))]
    return names


def replay_argv(name: str, *options: str) -> tuple[str, ...]:
    """The command that starts the replay double on transcript `name` (e.g. "Mathlib/induction")."""
    prefix = TRANSCRIPTS / name
    assert prefix.with_name(prefix.name + ".in").is_file(), f"no transcript {name}"
    return (sys.executable, str(REPLAY), str(prefix), *options)


def replay_config(name: str, *options: str, **overrides) -> LeanConfig:
    settings = {"tactic_timeout_s": 5.0, "command_timeout_s": 5.0, "start_timeout_s": 10.0, "memory_mb": 4096}
    settings.update(overrides)
    return LeanConfig(repl_argv=replay_argv(name, *options), **settings)


def replay_children() -> list[int]:
    """Processes whose parent is this test process and whose command line runs the replay double."""
    me, found = os.getpid(), []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmdline = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and str(REPLAY).encode() in cmdline:
            found.append(int(d.name))
    return found


def pid_gone(pid: int) -> bool:
    """True once `pid` is neither running nor a zombie child of ours."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("X",)

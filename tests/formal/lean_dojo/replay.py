"""A replay of LeanDojo's Dojo API, built only from recorded results.

`tests/fixtures/leandojo/dojo_demo_results.json` holds what LeanDojo's `Dojo` answered in its demo
notebook. `ReplayDojo` answers exactly those (state, tactic) pairs with the recorded values, rebuilt
as look-alike classes with LeanDojo's class and field names (the session maps results by class
name); any other pair was never recorded and fails the test (`NotRecorded`). Crashes and timeouts
are not in the recording: a test injects them as `faults`, using LeanDojo 4.20.0's exception class
names and messages ("Unexpected EOF", "OOM").
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "leandojo" / "dojo_demo_results.json"


@dataclass(frozen=True)
class TacticState:
    pp: str
    id: int = field(compare=False)
    message: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProofFinished:
    tactic_state_id: int
    message: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ProofGivenUp:
    pass


@dataclass(frozen=True)
class LeanError:
    error: str


@dataclass(frozen=True)
class CommandState:
    id: int = field(compare=False)
    message: str | None = field(default=None, compare=False)


class DojoCrashError(Exception):
    @property
    def is_out_of_memory(self) -> bool:
        return str(self) == "OOM"


class DojoTacticTimeoutError(Exception):
    pass


class DojoInitError(Exception):
    pass


class NotRecorded(AssertionError):
    """The test asked the double something the recording does not answer."""


_CLASSES = {c.__name__: c for c in (TacticState, ProofFinished, ProofGivenUp, LeanError, CommandState)}


def parse_recorded(text: str) -> object:
    """A recorded result: a repr such as `LeanError(error='...')`, or a bare `pp` (a TacticState)."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CLASSES:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        return _CLASSES[node.func.id](*args, **kwargs)
    return TacticState(pp=text, id=-1)  # id given when replayed


@dataclass
class Recording:
    initial: TacticState
    answers: dict[tuple[str, str], object]  # (pp of the state, tactic) -> recorded result
    command_initial: CommandState


# `on_state` labels are the notebook's variables; `state_3` is the state `ext` gave (see SOURCE.md).
_ALIASES = {"state_3": ("state_0", "ext")}


def load_recording(path: Path = FIXTURE) -> Recording:
    data = json.loads(path.read_text(encoding="utf-8"))
    initial = None
    command_initial = None
    answers: dict[tuple[str, str], object] = {}
    for rec in data["records"]:
        result = parse_recorded(rec["result"])
        if rec["call"] == "initial_state":
            if isinstance(result, TacticState):
                initial = result
            else:
                command_initial = result
        elif rec["call"] == "run_tac":
            label = rec["on_state"]
            if label == "state_0":
                pp = initial.pp
            else:
                base, tactic = _ALIASES[label]
                assert base == "state_0"
                pp = answers[(initial.pp, tactic)].pp
            answers[(pp, rec["input"])] = result
    assert initial is not None and command_initial is not None
    return Recording(initial, answers, command_initial)


class ReplayDojo:
    """Stands in for `Dojo(theorem)`: `with ReplayDojo(...) as (dojo, initial_state)`.

    `faults` maps a tactic to an exception raised instead of answering (each entry is used
    `fault_times` times, forever when None). `init_error` is raised by `__enter__`.
    """

    def __init__(self, recording: Recording, faults: dict[str, BaseException] | None = None,
                 fault_times: int | None = None, init_error: BaseException | None = None,
                 initial: object | None = None, log: list | None = None) -> None:
        self.recording = recording
        self.faults = faults or {}
        self.fault_times = fault_times
        self.init_error = init_error
        self.initial = initial if initial is not None else recording.initial
        self.log = log if log is not None else []
        self._next_id = 1
        self.open = False

    def __enter__(self):
        self.log.append(("enter",))
        if self.init_error is not None:
            raise self.init_error
        self.open = True
        return self, self.initial

    def __exit__(self, *exc):
        self.log.append(("exit",))
        self.open = False

    def run_tac(self, state: TacticState, tactic: str):
        assert self.open, "run_tac on a closed Dojo"
        assert isinstance(state, TacticState), f"run_tac on {state!r}"
        self.log.append(("run_tac", tactic))
        if tactic in self.faults:
            used = sum(1 for e in self.log if e == ("fault", tactic))
            if self.fault_times is None or used < self.fault_times:
                self.log.append(("fault", tactic))
                raise self.faults[tactic]
        try:
            result = self.recording.answers[(state.pp, tactic)]
        except KeyError:
            raise NotRecorded(f"no recorded answer for {tactic!r} on this state") from None
        if isinstance(result, TacticState):
            result = TacticState(result.pp, self._next_id, result.message)
            self._next_id += 1
        return result


class ReplayFactory:
    """A DojoFactory that opens a fresh ReplayDojo each time (as a restart opens a new process)."""

    def __init__(self, recording: Recording | None = None, **kwargs) -> None:
        self.recording = recording or load_recording()
        self.kwargs = kwargs
        self.log: list = []
        self.opened: list[ReplayDojo] = []

    def __call__(self, target, config) -> ReplayDojo:
        dojo = ReplayDojo(self.recording, log=self.log, **self.kwargs)
        self.opened.append(dojo)
        return dojo

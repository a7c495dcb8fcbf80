"""Train/test splits of a task's grid, written as upstream writes them.

- leave-square-out: every point inside a held-out square is a test point (`3hole_1411_0-100` and kin);
  one square given by centre and half-length is upstream's 1-hole split (`1hole_(50, 50)_10_441_0-100`);
- random: `torch.utils.data.random_split` seeded 42, upstream's call (its permutation is torch's, so the
  same torch algorithm reproduces the same files);
- length generalisation: additions of 1-5-digit numbers to train on, 6-12-digit ones to test on (the
  paper's RFFT experiment; upstream publishes no generator for it, so this one is ours, seeded).

Records keep the task's grid order within each side (a random split keeps the permutation's order), and
files are `json.dumps(records)` with default separators: byte-identical to upstream's `json.dump`.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from data.caseorrule.squares import Squares, one_square, parse_squares
from data.caseorrule.tasks import Task

SQUARES_FILE = "test_squares.txt"
MAX_SPLIT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Split:
    name: str  # upstream's directory name for this split
    train: list[dict]
    test: list[dict]
    squares: Squares | None = None  # the held-out squares (leave-square-out splits)


def leave_squares_out(task: Task, squares: Squares) -> Split:
    squares.check_inside(task)
    train, test = [], []
    for r in task.records():
        (test if squares.index(*task.plane(r)) is not None else train).append(r)
    end = task.grid
    if len(squares.centres) == 1:
        name = f"1hole_{squares.centres[0]}_{squares.halves[0]}_{squares.nominal_size}_0-{end}"
    else:
        name = f"{len(squares.centres)}hole_{squares.nominal_size}_0-{end}"
    if not test or not train:
        raise ValueError(f"the squares leave {len(train)} training and {len(test)} test points: both must be non-empty")
    return Split(name, train, test, squares)


def one_hole(task: Task, centre: tuple[int, int], half: int) -> Split:
    return leave_squares_out(task, one_square(centre, half))


def random_split(task: Task, train_ratio: float = 0.7, seed: int = 42) -> Split:
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train ratio must be in (0, 1), got {train_ratio}")
    import torch  # upstream's permutation is torch's randperm: only torch reproduces it

    records = task.records()
    train_num = int(len(records) * train_ratio)
    order = torch.randperm(len(records), generator=torch.Generator().manual_seed(seed)).tolist()
    train = [records[i] for i in order[:train_num]]
    test = [records[i] for i in order[train_num:]]
    return Split(f"random_split_{train_ratio}_{train_num}_{len(test)}_0-{task.grid}", train, test)


def _random_number(rng: random.Random, digits: int) -> int:
    return int(str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1)))


def length_split(train_digits: tuple[int, int] = (1, 5), test_digits: tuple[int, int] = (6, 12),
                 train_per_pair: int = 200, test_per_length: int = 100, seed: int = 0) -> Split:
    """Train: for every pair of lengths (la, lb) in `train_digits`, up to `train_per_pair` distinct
    additions; test: for every length L in `test_digits`, `test_per_length` additions whose longer
    operand has L digits (the other 1..L digits, either side). No operand has a leading zero."""
    (t0, t1), (s0, s1) = train_digits, test_digits
    if not (1 <= t0 <= t1 < s0 <= s1 <= 100):
        raise ValueError(f"need 1 <= train digits <= ... < test digits <= 100, got {train_digits} and {test_digits}")
    if train_per_pair < 1 or test_per_length < 1:
        raise ValueError("train_per_pair and test_per_length must be >= 1")
    rng = random.Random(seed)
    train: list[tuple[int, int]] = []
    for la in range(t0, t1 + 1):
        for lb in range(t0, t1 + 1):
            space = 9 * 10 ** (la - 1) * 9 * 10 ** (lb - 1)
            pairs: dict[tuple[int, int], None] = {}
            while len(pairs) < min(train_per_pair, space):
                pairs[(_random_number(rng, la), _random_number(rng, lb))] = None
            train += pairs
    test: list[tuple[int, int]] = []
    for length in range(s0, s1 + 1):
        pairs = {}
        while len(pairs) < test_per_length:
            a, b = _random_number(rng, length), _random_number(rng, rng.randint(1, length))
            pairs[(b, a) if rng.random() < 0.5 else (a, b)] = None
        test += pairs

    def records(pairs: list[tuple[int, int]]) -> list[dict]:
        return [{"id": i, "question": f"{a}+{b}=", "a": a, "b": b, "answers": [str(a + b)]} for i, (a, b) in enumerate(pairs)]

    return Split(f"length_{t0}-{t1}_{s0}-{s1}", records(train), records(test))


def dumps(records: list[dict]) -> str:
    return json.dumps(records)


def write_split(split: Split, out_dir: str | Path) -> Path:
    """`train.json`, `test.json` (and `test_squares.txt` for leave-square-out), each written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"train.json": dumps(split.train), "test.json": dumps(split.test)}
    if split.squares is not None:
        files[SQUARES_FILE] = split.squares.text()
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)
    return out


def read_records(path: str | Path) -> list[dict]:
    """A split file's records, checked: a list of objects with an int id, a question string, an answers
    list, and int a/b when present. Anything else is a one-line `ValueError` naming the file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SPLIT_BYTES:
            raise ValueError(f"{path}: larger than {MAX_SPLIT_BYTES >> 20} MiB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not a readable JSON split ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: a split is a non-empty JSON list of records")
    for i, r in enumerate(data):
        ok = (isinstance(r, dict) and type(r.get("id")) is int and isinstance(r.get("question"), str)
              and isinstance(r.get("answers"), list) and r["answers"]
              and all(type(r.get(k, 0)) is int for k in ("a", "b")))
        if not ok:
            raise ValueError(f"{path}: record {i} is not {{id: int, question: str, a: int, b: int, answers: [...]}}")
    return data


def read_squares(split_dir: str | Path) -> Squares | None:
    path = Path(split_dir) / SQUARES_FILE
    if not path.is_file():
        return None
    try:
        return parse_squares(path.read_text(encoding="utf-8")[:100_000])
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{path}: {e}") from None

"""`proofzero caseorrule split|run|example|grade`: Case-Based or Rule-Based (Hu et al., ICML 2024).

- `split TASK (--squares FILE | --centre X,Y --half K | --holes N | --random RATIO | --length) --out DIR`
  writes DIR/train.json and DIR/test.json in upstream's format (byte-identical to upstream's files for
  the same squares; `--format scratchpad` writes upstream's `_cot` files).
- `run [CONFIG] [key=value ...]` trains a small GPT-2 from scratch (Lightning) on the leave-square-out
  split and, for comparison, on a random split of the same task, then prints accuracy inside and outside
  the held-out squares and on the random split, and draws the accuracy heat map. Rerunning resumes.
- `example TASK A B [--format F]` prints one example's prompt and target; `grade TASK A B FILE` grades
  each line of a scratchpad.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from data.caseorrule.formats import FORMATS, check_format, cot_records, make_example
from data.caseorrule.squares import draw_squares, parse_squares
from data.caseorrule.tasks import TASKS, get_task
from proofzero.cli import UserError
from proofzero.config import load_config, resolve_config_path, split_overrides, to_dict
from proofzero.outputs import check_output_dir
from train.caseorrule.config import CausalLMConfig
from train.config import DataConfig, OptimConfig, TrainConfig, WandbConfig

REPO = Path(__file__).resolve().parent.parent
SQUARES_DIR = REPO / "benchmarks" / "case-or-rule" / "squares"
SPLIT_KINDS = ("squares", "one_hole", "random", "length", "dir")
# TrainConfig fields the proof network's training reads and this experiment does not: set them and it says so.
_UNUSED_TRAIN = ("run_dir", "model", "model_overrides", "init_from", "value_weight")
_UNUSED_DATA = ("path", "scheme", "replay", "sft_fraction", "objective", "next_token_fraction", "noise_density", "mean_span_length")


@dataclass(frozen=True)
class SplitSpec:
    kind: str = "squares"  # squares | one_hole | random | length | dir (an existing split directory)
    squares: str = ""  # kind=squares: a test_squares.txt (a path, or a name under benchmarks/case-or-rule/squares/)
    centre: tuple[int, int] = (50, 50)  # kind=one_hole
    half: int = 10
    train_ratio: float = 0.7  # kind=random (upstream: 0.7, torch seed 42)
    seed: int = 42
    path: str = ""  # kind=dir: a directory with train.json, test.json (and test_squares.txt)
    train_digits: tuple[int, int] = (1, 5)  # kind=length
    test_digits: tuple[int, int] = (6, 12)
    train_per_pair: int = 200
    test_per_length: int = 100

    def __post_init__(self) -> None:
        if self.kind not in SPLIT_KINDS:
            raise ValueError(f"split.kind must be one of {SPLIT_KINDS}, got {self.kind!r}")


@dataclass(frozen=True)
class CaseOrRuleConfig:
    task: str = "addition"
    format: str = "plain"  # plain | scratchpad | rfft
    split: SplitSpec = field(default_factory=SplitSpec)
    compare_random: bool = True  # also train on upstream's random 70/30 split of the task, the comparison
    run_dir: str = "runs/caseorrule"  # one subdirectory per trained split, plus summary.json and heatmap.png
    model: CausalLMConfig = field(default_factory=CausalLMConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        max_steps=2000, data=DataConfig(batch_size=256, val_batches=8), optim=OptimConfig(lr=3e-3, warmup_steps=100),
        val_every_n_steps=500, checkpoint_every_n_steps=250, wandb=WandbConfig(enabled=False)))
    eval_batch_size: int = 512

    def __post_init__(self) -> None:
        get_task(self.task)
        check_format(self.task, self.format)
        if self.split.kind == "length" and (self.task != "addition" or self.compare_random):
            raise ValueError("split.kind=length is addition's length generalisation: task=addition compare_random=false")
        if self.eval_batch_size < 1:
            raise ValueError("eval_batch_size must be >= 1")
        defaults, data_defaults = TrainConfig(), DataConfig()
        changed = [f"train.{k}" for k in _UNUSED_TRAIN if getattr(self.train, k) != getattr(defaults, k)]
        changed += [f"train.data.{k}" for k in _UNUSED_DATA if getattr(self.train.data, k) != getattr(data_defaults, k)]
        if changed:
            raise ValueError(f"{', '.join(changed)}: not used here (run_dir is the top-level key, the network is model.*)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("split", help="write a split's train.json / test.json in upstream's format")
    s.add_argument("task", choices=list(TASKS))
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--squares", metavar="FILE", help="leave out the squares of a test_squares.txt (upstream's 3-hole splits)")
    how.add_argument("--centre", metavar="X,Y", help="leave out one square at X,Y (with --half; upstream's 1-hole splits)")
    how.add_argument("--holes", type=int, metavar="N", help="draw N new disjoint squares (seeded by --seed) and leave them out")
    how.add_argument("--random", type=float, metavar="RATIO", help="random split, RATIO of the grid to train on (upstream: 0.7, seed 42)")
    how.add_argument("--length", action="store_true", help="addition's length generalisation: train 1-5 digits, test 6-12")
    s.add_argument("--half", type=int, default=10, help="half side length of the --centre square (default 10: 21 x 21 points)")
    s.add_argument("--seed", type=int, help="seed of --random (default 42), --holes and --length (default 0)")
    s.add_argument("--format", choices=FORMATS, default="plain",
                   help="plain (upstream's files), scratchpad (upstream's _cot files) or rfft (question = RFFT prompt, answers = trace)")
    s.add_argument("--out", required=True, metavar="DIR")
    r = sub.add_parser("run", help="train on the leave-square-out and the random split; accuracy in and out of the squares")
    r.add_argument("rest", nargs="*", metavar="CONFIG|key=value", help="a config (default caseorrule/addition_3hole.yaml) and overrides")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    e = sub.add_parser("example", help="print one example's prompt and target")
    e.add_argument("task", choices=list(TASKS))
    e.add_argument("a", type=int)
    e.add_argument("b", type=int)
    e.add_argument("--format", choices=FORMATS, default="plain")
    g = sub.add_parser("grade", help="grade each line of a scratchpad for A+B (a file, or - for stdin)")
    g.add_argument("task", choices=["addition", "base_addition", "mod_addition"])
    g.add_argument("a", type=int)
    g.add_argument("b", type=int)
    g.add_argument("file")


def run(args: argparse.Namespace) -> int:
    return {"split": _split, "run": _run, "example": _example, "grade": _grade}[args.action](args)


# --- split ------------------------------------------------------------------------------------------


def _split(args: argparse.Namespace) -> int:
    from data.caseorrule import splits

    task = TASKS[args.task]
    check_output_dir(Path(args.out), "--out")
    try:
        check_format(task.name, args.format)
        if args.squares:
            split = splits.leave_squares_out(task, _read_squares_file(args.squares))
        elif args.centre:
            split = splits.one_hole(task, _pair(args.centre), args.half)
        elif args.holes:
            split = splits.leave_squares_out(task, draw_squares(task, args.holes, 0 if args.seed is None else args.seed))
        elif args.random is not None:
            split = splits.random_split(task, args.random, 42 if args.seed is None else args.seed)
        else:
            if task.name != "addition":
                raise ValueError("--length is addition's length generalisation")
            split = splits.length_split(seed=0 if args.seed is None else args.seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    if args.format != "plain":
        split = dataclasses.replace(split, train=_formatted(task.name, split.train, args.format),
                                    test=_formatted(task.name, split.test, args.format))
    out = splits.write_split(split, args.out)
    print(f"{split.name}: {len(split.train)} train, {len(split.test)} test -> {out}")
    return 0


def _formatted(task: str, records: list[dict], fmt: str) -> list[dict]:
    if fmt == "scratchpad":
        return cot_records(task, records)
    out = []
    for r in records:
        ex = make_example(task, r, fmt)
        out.append({**r, "question": ex.prompt, "answers": [ex.target], "gt": r["answers"][0]})
    return out


def _pair(text: str) -> tuple[int, int]:
    try:
        x, y = (int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--centre {text!r}: expected two integers X,Y") from None
    return x, y


def _read_squares_file(name: str):
    path = Path(name)
    if not path.is_file():
        candidates = [SQUARES_DIR / name, SQUARES_DIR / f"{name}.txt"]
        path = next((c for c in candidates if c.is_file()), path)
    try:
        if path.stat().st_size > 100_000:
            raise UserError(f"{path}: too large for a squares file")
        return parse_squares(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"squares {name}: {e.strerror if isinstance(e, OSError) and e.strerror else e}") from None


# --- example / grade ------------------------------------------------------------------------------


def _example(args: argparse.Namespace) -> int:
    task = TASKS[args.task]
    try:
        check_format(task.name, args.format)
    except ValueError as e:
        raise UserError(str(e)) from None
    a, b = args.a, args.b
    if not (0 <= a < 10**12 and 0 <= b < 10**12):
        raise UserError(f"{a}, {b}: A and B must be in 0 .. 10^12")
    if task.name == "rabbits_and_chickens" and not (2 * b <= a <= 4 * b and a % 2 == 0):
        raise UserError("rabbits_and_chickens: A is the number of legs (even, between 2 and 4 times B), B the heads")
    record = {"id": 0, "question": task.question(a, b), "a": a, "b": b, "answers": [task.answer(a, b)]}
    ex = make_example(task.name, record, args.format)
    sys.stdout.write(f"--- prompt ---\n{ex.prompt}\n--- target ---\n{ex.target}\n")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from data.caseorrule.scratchpad import grade_scratchpad

    if min(args.a, args.b) < 0 or max(args.a, args.b) >= 10**12:
        raise UserError("A and B must be in 0 .. 10^12")
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")[:1_000_000]
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{args.file}: cannot read it ({e})") from None
    grade = grade_scratchpad(args.task, args.a, args.b, text)
    for g in grade.lines:
        mark = "ok " if g.ok else "BAD"
        print(f"{mark} {g.index + 1:>3}  {g.text:<28}" + ("" if g.ok else f"  expected {g.expected or '(no line)'}"))
    print(f"{grade.steps_ok}/{len(grade.lines)} lines follow the rule; final answer {'right' if grade.answer_ok else 'wrong'}")
    return 0 if grade.answer_ok and grade.first_error is None else 1


# --- run ----------------------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    configs, overrides = split_overrides(args.rest)
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    path = configs[0] if configs else "caseorrule/addition_3hole.yaml"
    resolve_config_path(path)
    cfg = load_config(CaseOrRuleConfig, path, overrides)
    if args.no_progress:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, progress=False))
    run_dir = Path(cfg.run_dir)
    check_output_dir(run_dir, "run_dir")
    arms = _arms(cfg)  # every split is built (and checked) before any training starts

    from proofzero.rl import _quiet_lightning

    _quiet_lightning()
    _quiet_transformers()
    from eval.caseorrule.report import report
    from train.caseorrule.run import predict_split, train_on_split
    from train.checkpoint import CheckpointError
    from train.data import DataError
    from train.trainer import TrainSetupError, write_json

    fresh = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", to_dict(cfg))
    results = []
    for name, split in arms:
        arm_dir = run_dir / name
        from data.caseorrule.splits import write_split

        write_split(split, arm_dir / "split")
        train_cfg = dataclasses.replace(cfg.train, run_dir=str(arm_dir))
        print(f"[{name}] {split.name}: {len(split.train)} train / {len(split.test)} test, {cfg.train.max_steps} steps", flush=True)
        try:
            module = train_on_split(cfg.task, cfg.format, split, cfg.model, train_cfg)
        except (DataError, TrainSetupError, CheckpointError, OSError) as e:
            # A run that could not start leaves no run directory behind (one with checkpoints stays).
            if fresh and not any(run_dir.glob("*/checkpoints/*.ckpt")):
                shutil.rmtree(run_dir, ignore_errors=True)
            if isinstance(e, OSError) and cfg.model.name:  # a model that is not on this machine (HF_HUB_OFFLINE=1)
                raise UserError(f"model.name={cfg.model.name}: {str(e).splitlines()[0]}") from None
            raise UserError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        if module is None:  # a distributed run's other ranks: rank 0 answers and reports
            continue
        rows = predict_split(module, cfg.task, cfg.format, split, arm_dir, cfg.eval_batch_size, progress=cfg.train.progress)
        results.append((name, split, rows, getattr(module, "train_seconds", None)))
    if not results:
        return 0
    from train.callbacks import read_metrics

    val_rows = {name: [r for r in read_metrics(run_dir / name / "metrics.jsonl") if r.get("kind") == "val" and "answer_acc" in r]
                for name, *_ in results}
    summary = report(get_task(cfg.task), cfg.format, results, run_dir, val_rows)
    print(summary)
    return 0


def _arms(cfg: CaseOrRuleConfig) -> list[tuple[str, object]]:
    from data.caseorrule import splits

    task, spec = get_task(cfg.task), cfg.split
    if spec.kind == "squares" and not spec.squares or spec.kind == "dir" and not spec.path:
        raise UserError(f"split.kind={spec.kind} needs split.{'squares (a test_squares.txt)' if spec.kind == 'squares' else 'path'}")
    try:
        if spec.kind == "squares":
            main = ("holes", splits.leave_squares_out(task, _read_squares_file(_resolve(spec.squares))))
        elif spec.kind == "one_hole":
            main = ("holes", splits.one_hole(task, tuple(spec.centre), spec.half))
        elif spec.kind == "random":
            main = ("random", splits.random_split(task, spec.train_ratio, spec.seed))
        elif spec.kind == "length":
            main = ("length", splits.length_split(tuple(spec.train_digits), tuple(spec.test_digits), spec.train_per_pair,
                                                  spec.test_per_length, spec.seed))
        else:
            directory = Path(_resolve(spec.path))
            train, test = (_plain(task, splits.read_records(directory / f"{side}.json")) for side in ("train", "test"))
            main = ("holes", splits.Split(directory.name, train, test, splits.read_squares(directory)))
        arms = [main]
        if cfg.compare_random and main[0] != "random":
            arms.append(("random", splits.random_split(task)))
    except ValueError as e:
        raise UserError(str(e)) from None
    return arms


def _plain(task, records: list[dict]) -> list[dict]:
    """A split file's records as the plain task's: in the task's plane, the gold answer in `answers`
    (a `_cot` file keeps it in `gt`)."""
    width, height = task.plane_size()
    for r in records:
        if "a" not in r or "b" not in r:
            raise ValueError(f"record {r['id']} has no a and b: not a split of {task.name}")
        x, y = task.plane(r)
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f"record {r['id']} ({r['a']}, {r['b']}) lies outside {task.name}'s grid: a split of another task?")
    return [{**{k: v for k, v in r.items() if k != "gt"}, "answers": [r["gt"]]} if "gt" in r else r for r in records]


def _resolve(path: str) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() or not (REPO / p).exists() else REPO / p)


def _quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()  # generation-config notices on every generate()
    transformers.utils.logging.disable_progress_bar()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

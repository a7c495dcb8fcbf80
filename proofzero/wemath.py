"""`proofzero wemath score|run`: WE-Math's four-dimensional diagnosis of multi-step problem solving.

    proofzero wemath score RESPONSES [--data testmini] [--json] [--leaves] [--out DIR]
    proofzero wemath run --endpoint URL --model NAME --images DIR [--out DIR] [CONFIG] [key=value ...]

`score` reads responses (JSON lines or one JSON list of records with `ID`, `key`, `response`) and prints
IK / IG / CM / RM in the strict and loose settings, the score, S1-S3 and the knowledge tree rolled up;
`--out` also writes score.json, score.txt and wemath.png. `run` asks an OpenAI-compatible vision
endpoint every question with its image, streams the answers to OUT/responses.jsonl (rerunning the same
command resumes), then scores them into OUT.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides
from proofzero.outputs import check_output_dir

TRAILING_POSITIONALS = "rest"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("score", help="score responses (JSONL or a JSON list of {ID, key, response})",
                       description="score WE-Math responses with the official answer extraction and metric")
    s.add_argument("responses", type=Path, help="JSON lines or a JSON list; records with string ID, key, response")
    s.add_argument("--data", default="testmini", help="testmini (bundled, default), a testmini JSON file, or hf "
                   "(the Hugging Face dataset We-Math/We-Math from the local cache)")
    s.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    s.add_argument("--leaves", action="store_true", help="list every leaf concept, not only the first two levels")
    s.add_argument("--out", type=Path, help="also write score.json, score.txt and wemath.png here")
    s.set_defaults(rest=[])
    r = sub.add_parser("run", help="ask an OpenAI-compatible vision endpoint every question, then score",
                       description="ask an OpenAI-compatible vision endpoint every WE-Math question (with its image), "
                                   "stream the answers to OUT/responses.jsonl, resume on rerun, then score")
    r.add_argument("rest", nargs="*", metavar="CONFIG|key=value", help="a config (path or name under configs/) and "
                   "key=value overrides of eval.wemath_run.WeMathRunConfig (e.g. workers=8 max_tokens=1024)")
    r.add_argument("--endpoint", help="base URL of the API, e.g. http://127.0.0.1:8000/v1")
    r.add_argument("--model", help="the model name the endpoint serves")
    r.add_argument("--images", help="the folder holding upstream's 2steps/ and 3steps/ image folders")
    r.add_argument("--data", help="testmini (default), a testmini JSON file, or hf")
    r.add_argument("--out", help="run directory (default runs/wemath)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.action == "score":
        if args.rest:
            raise UserError(f"unrecognized arguments: {' '.join(args.rest)}")
        return _score(args)
    return _run(args)


def _load(data: str, groups: int = 0):
    from data.wemath import WeMathDataError, load_testmini

    try:
        testmini = load_testmini(data)
    except WeMathDataError as e:
        raise UserError(str(e)) from None
    return testmini.first_groups(groups) if groups else testmini


def _scored(testmini, path: Path):
    from eval.wemath import ResponsesError, match_responses, read_responses, score

    try:
        return score(testmini, match_responses(testmini, read_responses(path), str(path)))
    except ResponsesError as e:
        raise UserError(str(e)) from None


def _score(args: argparse.Namespace) -> int:
    from eval.wemath_report import format_table, write_report

    if args.out is not None:
        check_output_dir(args.out, "--out")
    result = _scored(_load(args.data), args.responses)
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(format_table(result, leaves=args.leaves))
    if args.out is not None:
        paths = write_report(result, args.out)
        if not args.json:
            print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _run(args: argparse.Namespace) -> int:
    from eval.wemath_run import RunnerError, WeMathRunConfig, run_endpoint

    configs, overrides = split_overrides(args.rest)
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    flags = {"url": args.endpoint, "model": args.model, "images": args.images, "data": args.data, "out": args.out}
    cfg = load_config(WeMathRunConfig, configs[0] if configs else None, overrides)
    try:
        cfg = dataclasses.replace(cfg, **{k: v for k, v in flags.items() if v is not None})
    except ValueError as e:
        raise UserError(f"bad config: {e}") from None
    if not cfg.url or not cfg.model:
        raise UserError("run needs --endpoint URL and --model NAME")
    if not cfg.images and not cfg.text_only:
        raise UserError("run needs --images DIR (the WE-Math images; they are not bundled), or text_only=true")
    out = Path(cfg.out)
    check_output_dir(out, "--out")
    testmini = _load(cfg.data, cfg.groups)
    try:
        outcome = run_endpoint(testmini, cfg, out, progress=not args.no_progress)
    except RunnerError as e:
        raise UserError(str(e)) from None
    print(f"{cfg.model}: {outcome.answered} answered now, {outcome.resumed} earlier, {len(outcome.failed)} failed "
          f"({len(testmini.items)} rows; responses in {out / 'responses.jsonl'})")
    if not outcome.complete:
        first = next(iter(outcome.failed.items()))
        print(f"not scored: {len(outcome.failed)} rows got no answer (first: {first[0]}: {first[1]}); "
              "rerun the same command to ask them again")
        return 1
    from eval.wemath_report import format_table, write_report

    result = _scored(testmini, out / "responses.jsonl")
    print(format_table(result))
    paths = write_report(result, out)
    print("\nwrote " + ", ".join(str(p) for p in paths.values()))
    return 0


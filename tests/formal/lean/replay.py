"""A stand-in Lean REPL that replays recorded outputs (tests only; Lean cannot run here).

    python replay.py TRANSCRIPT [--log FILE] [--sleep-on TEXT SECONDS] [--crash-on TEXT]
                     [--crash-once MARKER] [--noise] [--strict]

TRANSCRIPT is a path without extension: `TRANSCRIPT.in` holds the commands a real REPL was sent
and `TRANSCRIPT.expected.out` what it answered, blocks separated by blank lines (see
tests/fixtures/lean-repl/SOURCE.md). The program speaks the REPL's wire protocol over real pipes:
it reads stdin the way the REPL does (lines up to a blank line, each right-trimmed, joined without
newlines; a block starting with `#` or `--` is skipped; EOF ends it) and answers each request
with the recorded answer of the recorded command that matches it, byte for byte, plus a blank line.

Matching: requests and recorded commands are compared as parsed JSON, with every string's runs of
whitespace collapsed to one space (so `theorem t :\n    P := by sorry` matches a one-line
recording; `by\nsorry` joined by the REPL into `bysorry` does not match `by sorry`, as in Lean).
Each recorded command answers once, in order; when all its matches are used, the last one answers
again. An unmatched request gets the REPL's error shape, `{"message": "replay: no recorded ..."}`
(with --strict the program exits with status 3 instead).

Faults, for the tests of timeouts and crashes: --sleep-on sleeps before answering any request
whose JSON contains TEXT; --crash-on exits with status 1 without answering such a request (with
--crash-once MARKER only if the file MARKER does not exist yet; it is created, so the next process
answers normally). --noise prints a non-JSON block first, as lake does when it builds. --log
appends every request, one JSON line each, to FILE.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def read_blocks(lines) -> list[str]:
    """Requests as the REPL reads them: non-blank lines right-trimmed and joined, up to a blank."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append("".join(current))
            current = []
    if current:
        blocks.append("".join(current))
    return [b for b in blocks if not b.startswith(("#", "--"))]


def normalize(obj):
    if isinstance(obj, str):
        return " ".join(obj.split())
    if isinstance(obj, dict):
        return {k: normalize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalize(v) for v in obj]
    return obj


def load(prefix: str) -> list[tuple[object, str]]:
    """(normalised command, raw recorded answer) pairs, in order."""
    commands = read_blocks(Path(prefix + ".in").read_text(encoding="utf-8").split("\n"))
    answers = [b.strip() for b in Path(prefix + ".expected.out").read_text(encoding="utf-8").split("\n\n")]
    answers = [a for a in answers if a]
    if len(commands) != len(answers):
        raise SystemExit(f"{prefix}: {len(commands)} commands but {len(answers)} answers")
    return [(normalize(json.loads(c, strict=False)), a) for c, a in zip(commands, answers)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("transcript")
    ap.add_argument("--log")
    ap.add_argument("--sleep-on", nargs=2, metavar=("TEXT", "SECONDS"))
    ap.add_argument("--crash-on")
    ap.add_argument("--crash-once")
    ap.add_argument("--noise", action="store_true")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    pairs = load(args.transcript)
    used = [False] * len(pairs)
    out = sys.stdout
    if args.noise:
        out.write("Processing incremental state [pos: 0..0]:\n{ not json\n\n")
        out.flush()
    current: list[str] = []
    while True:
        line = sys.stdin.readline()
        eof = line == ""
        if line.strip():
            current.append(line.rstrip())
            continue
        if not current:  # a blank line between blocks, or EOF with nothing pending
            if eof:
                return 0
            continue
        query, current = "".join(current), []
        if query.startswith(("#", "--")):
            continue
        text = query
        if args.log:
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(text + "\n")
        if args.crash_on and args.crash_on in text:
            marker = Path(args.crash_once) if args.crash_once else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text("crashed once\n")
                return 1
        if args.sleep_on and args.sleep_on[0] in text:
            time.sleep(float(args.sleep_on[1]))
        try:
            request = normalize(json.loads(query, strict=False))
        except json.JSONDecodeError as e:
            answer = json.dumps({"message": f"Could not parse JSON:\n{e}"})
        else:
            matches = [i for i, (cmd, _) in enumerate(pairs) if cmd == request]
            fresh = [i for i in matches if not used[i]]
            if fresh:
                used[fresh[0]] = True
                answer = pairs[fresh[0]][1]
            elif matches:
                answer = pairs[matches[-1]][1]
            elif args.strict:
                return 3
            else:
                answer = json.dumps({"message": f"replay: no recorded command matches {query[:200]}"})
        out.write(answer + "\n\n")
        out.flush()
        if eof:
            return 0


if __name__ == "__main__":
    sys.exit(main())

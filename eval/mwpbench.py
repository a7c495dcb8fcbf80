"""MWPBench-style answer scoring (MathScale, arXiv:2403.02884, section 3), with two judges.

`mwpbench` follows the benchmark's own scorer (`MWPBench/eval_vllm/util.py`): from the lower-cased
completion take the last \\boxed{} answer, else (numeric reference) the last number, else the text after
"answer is"/"solution is", else after the last "is"; normalise both sides (MATH-style `strip_string`)
and accept numeric equality, containment either way (3+ characters, neither negative), or equal text.
Its quirks are kept on purpose, so numbers compare with the published ones: `0.25` is not `\\frac{1}{4}`,
and a reference wrapped in `\\( \\)` rejects a negative answer.

`equivalent` reads the same extracted answer but judges by value: delimiters, units and spacing
dropped, then equal text, or equal values (numbers, fractions, radicals, pi, i; expressions with
variables at random points; equations up to a constant factor), element by element for tuples,
intervals and sets of the same brackets. No containment: "1" does not match "10".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from eval.latex_value import Unreadable, equal_values

BUNDLED = Path(__file__).resolve().parent.parent / "benchmarks" / "mathscale"
DATASETS = {"fresh_gaokao": BUNDLED / "fresh_gaokao_math_2023.jsonl"}
JUDGES = ("mwpbench", "equivalent")


class MWPError(ValueError):
    """Unusable benchmark or responses file (one line)."""


# -- the benchmark's own rules ---------------------------------------------------------------------

def _fix_fracs(s: str) -> str:
    parts = s.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if part.startswith("{"):
            out += part
        elif len(part) < 2:
            return s
        elif part[1] != "{":
            out += "{" + part[0] + "}{" + part[1] + "}" + part[2:]
        else:
            out += "{" + part[0] + "}" + part[1:]
    return out


def _fix_sqrt(s: str) -> str:
    parts = s.split("\\sqrt")
    return parts[0] + "".join("\\sqrt" + (p if p.startswith("{") else "{" + p[:1] + "}" + p[1:]) for p in parts[1:])


def strip_string(s: str) -> str:
    """The MATH-style normalisation MWPBench applies to both sides (its steps, in its order)."""
    s = re.sub(r"\(\((\d+)\)/\((\d+)\)\)", r"\\frac{\1}{\2}", s)
    for old, new in ((",", ""), ("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
                     ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", "")):
        s = s.replace(old, new)
    if "\\text{ " in s:
        head, *rest = s.split("\\text{ ")
        if len(rest) != 1:
            raise ValueError("more than one unit")  # upstream asserts here; its caller compares raw text
        s = head
    s = s.replace("\\%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    if len(s.split("=")) == 2 and len(s.split("=")[0]) <= 2:
        s = s.split("=")[1]
    s = _fix_sqrt(s).replace("\\quad", " ").replace(" ", "")
    s = _fix_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    if s.count("/") == 1:
        a, b = s.split("/")
        if re.fullmatch(r"-?\d+", a) and re.fullmatch(r"-?\d+", b) and s == f"{int(a)}/{int(b)}":
            s = f"\\frac{{{int(a)}}}{{{int(b)}}}"
    return s


def is_number(s: str) -> bool:
    try:
        float(s.strip("$"))
        return True
    except ValueError:
        return False


def judge_mwpbench(pred: str | None, ref: str) -> bool:
    if pred is None:
        return False
    try:
        p, r = strip_string(pred), strip_string(ref)
    except (ValueError, IndexError):
        return pred == ref
    if is_number(p) and is_number(r):
        return float(p.strip("$")) == float(r.strip("$"))
    if re.fullmatch(r"\$[^$]+\$", r):
        return r.strip("$") in p.strip("$")
    if len(p) >= 3 and not is_number(p) and not p.startswith("-") and not r.startswith("-") and p in r:
        return True
    if len(r) >= 3 and not is_number(r) and not p.startswith("-") and not r.startswith("-") and r in p:
        return True
    return p == r


def extract_answer(completion: str, reference: str) -> str | None:
    """The answer MWPBench reads from a completion (both lower-cased, as upstream)."""
    text, ref = completion.lower(), reference.lower()
    boxed = _all_boxed(text)
    if boxed:
        return boxed[-1].strip()
    try:
        numeric = is_number(strip_string(ref))
    except (ValueError, IndexError):
        numeric = False
    if numeric:
        numbers = re.findall(r"[\-+]?\d*[\.,/]?\d+", text)
        return numbers[-1] if numbers else None
    for marker in ("answer is", "solution is"):
        if marker in text:
            return _after(text.split(marker)[-1])
    if "is" in text:
        return _after(text[text.rfind("is") + 2:])
    return None


def _after(tail: str) -> str:
    ans = tail.strip().lstrip(":").strip().split(".\n")[0].strip().strip(".")
    return ans.strip()


def _all_boxed(text: str) -> list[str]:
    """The contents of every `\\boxed{...}` with balanced braces, in order."""
    out, start = [], text.find("\\boxed{")
    while start >= 0:
        close = _closing(text, start + 6)
        if close >= 0:
            out.append(text[start + 7:close])
        start = text.find("\\boxed{", start + 1)
    return out


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


# -- by value --------------------------------------------------------------------------------------

_DROP = ("\\(", "\\)", "\\[", "\\]", "$", "\\left", "\\right", "\\!", "\\,", "\\;", "\\quad", "^{\\circ}", "^\\circ",
         "\\%", "%", "\\displaystyle")


def normalise(s: str) -> str:
    for d in _DROP:
        s = s.replace(d, "")
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}", lambda m: m.group(1) if not m.group(1).strip().isalpha() else "", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ")
    s = " ".join(s.split()).strip().rstrip(".").strip()
    m = re.match(r"^(?:\\[a-zA-Z]+\s*)?[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?!.*=)", s)  # "x = 3", "\sin A = 3" -> "3"
    if m:
        s = s[m.end():]
    return s.replace(" ", "")


def _split_top(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [*parts, cur]


def judge_equivalent(pred: str | None, ref: str) -> bool:
    if pred is None:
        return False
    p, r = normalise(pred), normalise(ref)
    if p == r:
        return True
    for o in ("\\{", "(", "["):
        for c in ("\\}", ")", "]"):
            if p.startswith(o) and p.endswith(c) and r.startswith(o) and r.endswith(c):
                pi, ri = _split_top(p[len(o):-len(c)]), _split_top(r[len(o):-len(c)])
                if len(pi) > 1 or o == "\\{":
                    return len(pi) == len(ri) and all(_same(a, b) for a, b in zip(pi, ri))
    return _same(p, r)


def _same(p: str, r: str) -> bool:
    if p == r:
        return True
    try:
        return equal_values(p, r)
    except (Unreadable, RecursionError):
        return False


# -- the benchmark and the responses ---------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: str


def load_problems(data: str) -> tuple[list[Problem], str]:
    path = DATASETS.get(data, Path(data))
    rows = read_records(path, MWPError)
    out = []
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise MWPError(f"{path}: record {k + 1} needs string fields question and answer")
        out.append(Problem(str(row.get("question_number", row.get("id", k))), row["question"], row["answer"]))
    if len({p.id for p in out}) != len(out):
        raise MWPError(f"{path}: question numbers repeat")
    return out, data if data in DATASETS else str(path)


def read_records(path: Path, error: type[Exception]) -> list:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read it ({e})") from None
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    except json.JSONDecodeError as e:
        raise error(f"{path}: not JSON or JSON lines ({e.msg})") from None
    if not rows:
        raise error(f"{path}: no records")
    return rows


def read_responses(path: Path, problems: list[Problem]) -> dict[str, str]:
    """question number -> completion; exactly one per problem (missing, duplicate, unknown: an error)."""
    got: dict[str, str] = {}
    known = {p.id for p in problems}
    for k, row in enumerate(read_records(Path(path), MWPError), 1):
        qid = row.get("question_number", row.get("id")) if isinstance(row, dict) else None
        if qid is None or not isinstance(row.get("response"), str):
            raise MWPError(f"{path}: record {k} needs question_number (or id) and a string response")
        qid = str(qid)
        if qid not in known:
            raise MWPError(f"{path}: record {k}: no question {qid!r} in the benchmark")
        if qid in got:
            raise MWPError(f"{path}: record {k}: a second response to {qid}")
        got[qid] = row["response"]
    missing = [p.id for p in problems if p.id not in got]
    if missing:
        raise MWPError(f"{path}: no response for {len(missing)} questions: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    return got


def score(problems: list[Problem], responses: dict[str, str]) -> dict:
    rows = []
    for p in problems:
        extracted = extract_answer(responses[p.id], p.answer)
        rows.append({"id": p.id, "reference": p.answer, "extracted": extracted,
                     "mwpbench": judge_mwpbench(extracted, p.answer.lower()),
                     "equivalent": judge_equivalent(extracted, p.answer.lower())})
    n = len(rows)
    return {"questions": n, **{j: {"correct": sum(r[j] for r in rows), "accuracy": sum(r[j] for r in rows) / n} for j in JUDGES},
            "rows": rows}

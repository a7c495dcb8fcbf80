"""What a model reads and writes for one record: plain (`53+33=` -> `86`), scratchpad (the column-addition
lines, then the answer) or RFFT (the code in the prompt, its executed trace as the target).

`answer_of` reads the final answer back out of a generation; `is_correct` compares it with the record's
gold answer exactly (as a string: `"086"` is not `86`).
"""

from __future__ import annotations

from dataclasses import dataclass

from data.caseorrule.rfft import rfft_answer, rfft_prompt, rfft_target
from data.caseorrule.scratchpad import SCRATCHPAD_TASKS, scratchpad
from data.caseorrule.tasks import BASE, to_base

FORMATS = ("plain", "scratchpad", "rfft")
RFFT_TASKS = ("addition", "base_addition")


@dataclass(frozen=True)
class Example:
    prompt: str
    target: str


def check_format(task: str, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "scratchpad" and task not in SCRATCHPAD_TASKS:
        raise ValueError(f"the scratchpad format exists for {', '.join(SCRATCHPAD_TASKS)}, not {task}")
    if fmt == "rfft" and task not in RFFT_TASKS:
        raise ValueError(f"the RFFT format exists for {', '.join(RFFT_TASKS)}, not {task}")


def make_example(task: str, record: dict, fmt: str) -> Example:
    a, b = record.get("a"), record.get("b")
    if fmt == "plain":
        return Example(record["question"], str(record["answers"][0]))
    if fmt == "scratchpad":
        return Example(record["question"], scratchpad(task, a, b))
    if task == "base_addition":
        return Example(rfft_prompt(to_base(a, BASE), to_base(b, BASE), BASE), rfft_target(to_base(a, BASE), to_base(b, BASE), BASE))
    return Example(rfft_prompt(a, b), rfft_target(a, b))


def answer_of(fmt: str, generated: str) -> str | None:
    """The final answer in a generation (the text after the prompt), or None when there is none."""
    if fmt == "rfft":
        return rfft_answer(generated)
    text = generated.strip()
    if fmt == "scratchpad":
        text = text.rsplit("\n", 1)[-1].strip()
    return text or None


def is_correct(fmt: str, record: dict, generated: str) -> bool:
    return answer_of(fmt, generated) == str(record["answers"][0] if "gt" not in record else record["gt"])


def cot_records(task: str, records: list[dict]) -> list[dict]:
    """Upstream's `_cot` split files: the scratchpad in `answers`, the plain answer moved to `gt`."""
    return [{**r, "answers": [scratchpad(task, r["a"], r["b"])], "gt": r["answers"][0]} for r in records]

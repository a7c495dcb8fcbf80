"""Ask an OpenAI-compatible vision endpoint every WE-Math question, stream the answers to disk, resume.

Each row (sub-problem or composite) is one chat request: the prompt with its question and options, and
its image (read from the user's copy of the WE-Math images, sent inline as a base64 data URL). Every
answer is appended to `responses.jsonl` as soon as it arrives (flushed and synced), so a killed run
loses at most the requests in flight; rerunning the same command asks only the rows not answered yet.
A request the endpoint fails (after the client's retries) leaves its row unanswered, to be asked again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from data.chat import LLMClient, LLMError, check_endpoint
from data.journal import Journal, JournalError
from data.wemath import Testmini, WeMathItem

log = logging.getLogger(__name__)

# The benchmark asks for `<Answer>: <<letter>>`, which is what the official extraction reads; the
# wording is ours (set `prompt` to the official one to compare with published numbers).
PROMPT = (
    "Solve the multiple-choice math question below; it refers to the image. Describe your reasoning "
    "briefly, then give the final answer as one option letter.\n"
    "Question: {question}\n"
    "Options: {option}\n"
    "Answer in exactly this format, keeping both pairs of angle brackets:\n"
    "<Thought process>: <<your thought process>> <Answer>: <<your option>>"
)
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
MAX_IMAGE_BYTES = 20 * 2**20
RESPONSES = "responses.jsonl"


class RunnerError(ValueError):
    """The run cannot start or continue (one line: missing images, another run's output, ...)."""


@dataclass(frozen=True)
class WeMathRunConfig:
    url: str = ""  # base of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (--endpoint)
    model: str = ""  # (--model)
    api_key_env: str = "OPENAI_API_KEY"  # the environment variable holding the key; "" = none
    images: str = ""  # the folder the rows' image_path is relative to: upstream's data/ (--images)
    data: str = "testmini"  # testmini (bundled), a testmini JSON file, or hf (--data)
    out: str = "runs/wemath"  # responses.jsonl, run.json and the score (--out)
    prompt: str = PROMPT  # a template with {question} and {option}
    text_only: bool = False  # send no image (a text-only baseline; the questions need their figures)
    temperature: float = 0.0
    max_tokens: int = 2048
    timeout_s: float = 120.0
    retries: int = 3  # extra attempts after a connection error, a 429 or a 5xx
    workers: int = 4  # requests in flight
    groups: int = 0  # only the first N problem groups (all their rows; scored as their own benchmark); 0: all

    def __post_init__(self) -> None:
        check_endpoint(self.url, self.model, "wemath")
        try:
            self.prompt.format(question="q", option="o")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"prompt must be a template with {{question}} and {{option}} only ({type(e).__name__}: {e})") from None
        if "{question}" not in self.prompt:
            raise ValueError("prompt has no {question}")
        for name, low in (("max_tokens", 1), ("retries", 0), ("workers", 1), ("groups", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")
        if not (math.isfinite(self.temperature) and 0 <= self.temperature <= 2):
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature!r}")

    def identity(self) -> dict:
        """What makes two runs' responses comparable: resuming under another one is refused."""
        return {"model": self.model, "prompt_sha256": hashlib.sha256(self.prompt.encode()).hexdigest()[:16],
                "text_only": self.text_only, "temperature": self.temperature}


@dataclass
class RunOutcome:
    asked: int = 0  # requests made in this invocation
    answered: int = 0  # of them, answered
    resumed: int = 0  # rows already answered by an earlier invocation
    failed: dict[str, str] = field(default_factory=dict)  # "ID/key" -> the endpoint's error

    @property
    def complete(self) -> bool:
        return not self.failed


def messages(item: WeMathItem, cfg: WeMathRunConfig, images: Path | None) -> list[dict]:
    text = cfg.prompt.format(question=item.question, option=item.option)
    if images is None:
        return [{"role": "user", "content": text}]
    path = images / item.image_path
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    url = f"data:{IMAGE_TYPES[path.suffix.lower()]};base64,{data}"
    return [{"role": "user", "content": [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]}]


def check_images(items: list[WeMathItem], images: Path) -> None:
    """Every row to ask has a readable image of a known type under `images`, before the first request."""
    if not images.is_dir():
        raise RunnerError(f"images {images}: not a directory (the folder holding upstream's 2steps/ and 3steps/ image folders)")
    root = images.resolve()
    bad = []
    for item in items:
        path = (images / item.image_path).resolve()
        if not item.image_path or not path.is_relative_to(root):
            bad.append(f"{item.id}/{item.key}: image path {item.image_path!r} is not inside {images}")
        elif not path.is_file():
            bad.append(f"{item.id}/{item.key}: {images / item.image_path} missing")
        elif path.suffix.lower() not in IMAGE_TYPES:
            bad.append(f"{item.id}/{item.key}: {item.image_path} is not one of {', '.join(IMAGE_TYPES)}")
        elif path.stat().st_size > MAX_IMAGE_BYTES:
            bad.append(f"{item.id}/{item.key}: {item.image_path} is larger than {MAX_IMAGE_BYTES >> 20} MiB")
    if bad:
        raise RunnerError(f"{len(bad)} of {len(items)} images unusable: {'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")


def answered(path: Path, data: Testmini) -> set[tuple[str, str]]:
    """The rows `responses.jsonl` already answers (a torn last line from a kill is cut off; a line that
    answers no row of `data` is an error: another run's file is never silently mixed in)."""
    def key(rec: dict) -> str | None:
        ok = isinstance(rec["response"], str) and rec["key"] in data.groups.get(rec["ID"], {})
        return f"{rec['ID']}\0{rec['key']}" if ok else None

    try:
        return {tuple(k.split("\0")) for k in Journal(path, key).read()}
    except JournalError as e:
        raise RunnerError(str(e)) from None


def run_endpoint(data: Testmini, cfg: WeMathRunConfig, out_dir: Path, client: LLMClient | None = None,
                 progress: bool = True) -> RunOutcome:
    """Ask every row not answered yet; append each answer to `out_dir/responses.jsonl` as it arrives."""
    _check_identity(out_dir / "run.json", cfg, data)
    path = out_dir / RESPONSES
    done = answered(path, data)
    todo = [item for item in data.items if item.ref not in done]
    images = None if cfg.text_only else Path(cfg.images)
    if images is not None and todo:
        check_images(todo, images)  # before anything is written: a refused run leaves no directory
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_identity(out_dir / "run.json", cfg, data)
    outcome = RunOutcome(resumed=len(done))
    if not todo:
        return outcome
    client = client or LLMClient(cfg)
    from tqdm import tqdm

    def ask(item: WeMathItem) -> str:
        texts = client.complete(messages(item, cfg, images), cfg.temperature)
        if not texts:
            raise LLMError(f"{client.endpoint}: no text in the response")
        return texts[0]

    journal = Journal(path, lambda rec: None)
    bar = tqdm(total=len(data.items), initial=len(done), desc="WE-Math", unit="q", disable=not progress)
    with ThreadPoolExecutor(max_workers=cfg.workers) as pool:
        futures = {pool.submit(ask, item): item for item in todo}
        try:
            for future in as_completed(futures):
                item = futures[future]
                outcome.asked += 1
                try:
                    text = future.result()
                except LLMError as e:
                    outcome.failed[f"{item.id}/{item.key}"] = str(e)
                    log.warning("%s/%s: no answer: %s", item.id, item.key, e)
                    continue
                journal.append({"ID": item.id, "key": item.key, "question number": item.number,
                                "model": cfg.model, "response": text})
                outcome.answered += 1
                bar.update(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            bar.close()
    return outcome


def _identity(cfg: WeMathRunConfig, data: Testmini) -> dict:
    return {**cfg.identity(), "data": data.source, "rows": len(data.items)}


def _check_identity(path: Path, cfg: WeMathRunConfig, data: Testmini) -> None:
    mine = _identity(cfg, data)
    if path.exists():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = None
        if not isinstance(theirs, dict):
            raise RunnerError(f"{path}: unreadable; is this directory a WE-Math run?")
        diff = sorted(k for k in mine if theirs.get(k) != mine[k])
        if diff:
            raise RunnerError(f"{path.parent} holds a run with another {', '.join(diff)} "
                              f"({', '.join(f'{k}={theirs.get(k)!r}' for k in diff)}); use another --out")


def _write_identity(path: Path, cfg: WeMathRunConfig, data: Testmini) -> None:
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_identity(cfg, data), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)

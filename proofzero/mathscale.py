"""`proofzero mathscale graph|extract|generate|formal|score`: MathScale on this project's floors.

    proofzero mathscale graph [--json] [key=value ...]
    proofzero mathscale extract QUESTIONS --endpoint URL --model NAME --out FILE [key=value ...]
    proofzero mathscale generate [--endpoint URL --model NAME] [--out DIR] [key=value ...]
    proofzero mathscale formal [--out DIR] [key=value ...]
    proofzero mathscale score RESPONSES [--data fresh_gaokao] [--json] [--out DIR]

`graph`: the concept graph of the extraction records (`concepts`, default the bundled MATH extraction)
and one epoch of walks. `extract`: topics and knowledge points of seed questions from an endpoint.
`generate`: one question per walk from an endpoint, few-shot and decontaminated (without an endpoint,
the prompts). `formal`: walks realised as Coq statements, decided by Coq, filtered; the kept ones are
a problem source for `proofzero rl` (`pool.mathscale=[DIR]`). `score`: MWPBench-style answer scoring.
Every command takes `configs/mathscale/default.yaml` and key=value overrides; reruns resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from data.mathscale.formal import FormalConfig
from data.mathscale.pipeline import EndpointConfig
from eval.config import EvalConfig
from proofzero.cli import UserError
from proofzero.config import load_config, split_overrides, to_dict
from proofzero.outputs import check_output_dir, check_output_file

TRAILING_POSITIONALS = "rest"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MathScaleConfig:
    concepts: str = "benchmarks/mathscale/xylonfu_math_extraction.json"  # extraction records (JSON / JSON lines)
    min_count: int = 2  # concepts seen in fewer seed questions are dropped
    seed: int = 0
    epochs: int = 1  # each epoch starts one walk at every topic
    out: str = "runs/mathscale"
    fewshot: int = 2  # seed questions shown per generation prompt (nearest by Jaccard distance of KP sets)
    decontaminate: tuple[str, ...] = ("fresh_gaokao",)  # test sets generated questions must not overlap
    ngram: int = 10  # words in a run shared with a test question that make a generated question contaminated
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    formal: FormalConfig = field(default_factory=FormalConfig)
    session: EvalConfig = field(default_factory=EvalConfig)  # the Coq sessions and trusted checker `formal` uses

    def __post_init__(self) -> None:
        if isinstance(self.decontaminate, (list, str)):
            object.__setattr__(self, "decontaminate", tuple([self.decontaminate] if isinstance(self.decontaminate, str)
                                                          else self.decontaminate))
        for name, low in (("min_count", 1), ("epochs", 1), ("fewshot", 0), ("ngram", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_, description=help_)
        c.add_argument("rest", nargs="*", metavar="CONFIG|key=value",
                       help="a config (default configs/mathscale/default.yaml) and key=value overrides")
        return c

    g = command("graph", "the concept graph of extraction records and one epoch of walks")
    g.add_argument("--json", action="store_true", help="print the graph's summary and the walks as JSON")
    e = command("extract", "topics and knowledge points of seed questions, from an OpenAI-compatible endpoint")
    e.add_argument("questions", type=Path, help="JSON or JSON lines: records with question (or problem), optional id, answer")
    e.add_argument("--out", type=Path, required=True, help="the records file (JSON lines; rerunning resumes)")
    gen = command("generate", "one new question per concept walk from an endpoint (few-shot, decontaminated); "
                              "without --endpoint, the prompts")
    f = command("formal", "concept walks as Coq statements decided by Coq and filtered: a problem source for RL")
    for c in (e, gen):
        c.add_argument("--endpoint", help="base URL of an OpenAI-compatible API (e.g. http://127.0.0.1:8000/v1)")
        c.add_argument("--model", help="the model the endpoint serves")
    for c in (gen, f):
        c.add_argument("--out", help="output directory (default: the config's out)")
    for c in (e, gen, f):
        c.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = sub.add_parser("score", help="MWPBench-style answer scoring of model responses",
                       description="score responses (records with question_number and response) on an MWPBench set")
    s.add_argument("responses", type=Path, help="JSON lines or a JSON list: question_number (or id) and response")
    s.add_argument("--data", default="fresh_gaokao", help="fresh_gaokao (bundled, default) or a JSON/JSONL file "
                   "with question, answer, question_number")
    s.add_argument("--json", action="store_true", help="print the scores and every row as JSON")
    s.add_argument("--out", type=Path, help="also write score.json here")
    s.set_defaults(rest=[])


def run(args: argparse.Namespace) -> int:
    if args.action == "score":
        if args.rest:
            raise UserError(f"unrecognized arguments: {' '.join(args.rest)}")
        return _score(args)
    cfg = _config(args)
    return {"graph": _graph, "extract": _extract, "generate": _generate, "formal": _formal}[args.action](args, cfg)


def _config(args: argparse.Namespace) -> MathScaleConfig:
    configs, overrides = split_overrides(args.rest)
    if len(configs) > 1:
        raise UserError(f"one CONFIG at most, got {configs}")
    cfg = load_config(MathScaleConfig, configs[0] if configs else "mathscale/default.yaml", overrides)
    endpoint = {k: v for k, v in (("url", getattr(args, "endpoint", None)), ("model", getattr(args, "model", None))) if v}
    try:
        if endpoint:
            cfg = dataclasses.replace(cfg, endpoint=dataclasses.replace(cfg.endpoint, **endpoint))
        if isinstance(getattr(args, "out", None), str):
            cfg = dataclasses.replace(cfg, out=args.out)
    except ValueError as e:
        raise UserError(f"bad config: {e}") from None
    return cfg


def _path(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() or path.exists() else REPO / path


def _graph_of(cfg: MathScaleConfig):
    from data.mathscale.concepts import ConceptDataError, load_records
    from data.mathscale.graph import build_graph

    try:
        records = load_records(_path(cfg.concepts))
    except ConceptDataError as e:
        raise UserError(str(e)) from None
    graph = build_graph(records, cfg.min_count)
    if not graph.topics:
        raise UserError(f"{cfg.concepts}: no topic is named by {cfg.min_count} or more seed questions")
    return records, graph


def _graph(args: argparse.Namespace, cfg: MathScaleConfig) -> int:
    from data.mathscale.pipeline import compositions

    records, graph = _graph_of(cfg)
    walks = compositions(graph, 1, cfg.seed)
    if args.json:
        print(json.dumps({"records": len(records), **graph.describe(),
                          "walks": [{"key": k, **w.to_dict(graph)} for k, w in walks]}, indent=1))
        return 0
    d = graph.describe()
    print(f"{cfg.concepts}: {len(records)} seed questions -> {d['topics']} topics, {d['knowledge_points']} knowledge points "
          f"(seen in >= {cfg.min_count}); edges: " + ", ".join(f"{k} {v}" for k, v in d["edges"].items()))
    print(f"\none epoch (seed {cfg.seed}): a walk from every topic")
    for _, w in walks:
        print("  " + " -> ".join(graph.topics[t] for t in w.topics) + "  |  " + (" -> ".join(graph.kps[k] for k in w.kps) or "(no KP)"))
    return 0


def _need_endpoint(cfg: MathScaleConfig) -> None:
    if not cfg.endpoint.url or not cfg.endpoint.model:
        raise UserError("needs --endpoint URL and --model NAME (or endpoint.url= and endpoint.model=)")


def _extract(args: argparse.Namespace, cfg: MathScaleConfig) -> int:
    from data.journal import JournalError
    from data.mathscale.pipeline import extract_concepts
    from eval.mwpbench import MWPError, read_records

    _need_endpoint(cfg)
    check_output_file(args.out, "--out")
    try:
        rows = read_records(args.questions, MWPError)
    except MWPError as e:
        raise UserError(str(e)) from None
    questions = []
    for k, row in enumerate(rows):
        text = row.get("question", row.get("problem")) if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"{args.questions}: record {k + 1} has no question (or problem) text")
        answer = row.get("answer", row.get("solution", ""))
        questions.append({"id": str(row.get("id", k)), "question": text, "answer": answer if isinstance(answer, str) else ""})
    if len({q["id"] for q in questions}) != len(questions):
        raise UserError(f"{args.questions}: ids repeat")
    try:
        outcome = extract_concepts(questions, cfg.endpoint, args.out, progress=not args.no_progress)
    except JournalError as e:
        raise UserError(str(e)) from None
    return _summary(f"extract -> {args.out}", outcome)


def _summary(what: str, outcome) -> int:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(outcome.counts.items()))
    print(f"{what}: {counts or 'nothing new'} ({outcome.resumed} from an earlier run, {len(outcome.errors)} endpoint errors)")
    if outcome.errors:
        key, message = next(iter(outcome.errors.items()))
        print(f"{len(outcome.errors)} requests failed (first: {key}: {message}); rerun the same command to ask them again")
        return 1
    return 0


def _generate(args: argparse.Namespace, cfg: MathScaleConfig) -> int:
    from data.journal import JournalError
    from data.mathscale.fewshot import NgramIndex
    from data.mathscale.pipeline import compositions, generate_questions
    from eval.mwpbench import DATASETS, MWPError, load_problems

    out = Path(cfg.out)
    check_output_dir(out, "--out")
    records, graph = _graph_of(cfg)
    tests: dict[str, str] = {}
    for name in cfg.decontaminate:
        try:
            problems, label = load_problems(name if name in DATASETS else str(_path(name)))
        except MWPError as e:
            raise UserError(f"decontaminate: {e}") from None
        tests.update({f"{label}/{p.id}": p.question for p in problems})
    index = NgramIndex(tests, cfg.ngram) if tests else None
    out.mkdir(parents=True, exist_ok=True)
    file = out / ("generated.jsonl" if cfg.endpoint.url else "prompts.jsonl")
    try:
        outcome = generate_questions(compositions(graph, cfg.epochs, cfg.seed), graph, records, cfg.fewshot, cfg.endpoint,
                                     file, index, progress=not args.no_progress)
    except JournalError as e:
        raise UserError(str(e)) from None
    if not cfg.endpoint.url:
        print("no endpoint (endpoint.url): wrote the prompts only")
    return _summary(f"generate -> {file} (decontaminated against {len(tests)} test questions)", outcome)


def _formal(args: argparse.Namespace, cfg: MathScaleConfig) -> int:
    from data.mathscale.formal import realise
    from data.mathscale.report import format_yield, write_yield, yield_table
    from eval.attempts import backend_for, make_pools, with_prelude
    from formal.theorem import Theorem

    out = Path(cfg.out)
    check_output_dir(out, "--out")
    _, graph = _graph_of(cfg)
    _same_run(out / "config.json", cfg)
    session = cfg.session

    def progress(epoch: int, y: dict) -> None:
        if not args.no_progress:
            print(f"epoch {epoch}: {y['walks']} walks, {y['statements']} statements, "
                  f"{y['outcomes'].get('kept', 0)} kept ({y['seconds']} s)", flush=True)

    with make_pools(session, max_idle=cfg.formal.workers) as pools:
        backend = backend_for(Theorem("mathscale", "True"), session, pools)
        results = realise(graph, cfg.formal, out, cfg.epochs, cfg.seed, lambda t: backend.open_session(with_prelude(t, session)),
                          lambda t, script: backend.check(with_prelude(t, session), script), progress)
    print(format_yield(yield_table(results)))
    paths = write_yield(results, out)
    print(f"\nkept statements: {out / 'problems.jsonl'} (use as pool.mathscale=[{out}]); "
          + ", ".join(str(p) for p in paths.values()))
    return 0


def _same_run(path: Path, cfg: MathScaleConfig) -> None:
    """Finished epochs are read back on rerun: only a run of the same settings may continue (more epochs is fine)."""
    mine = {k: v for k, v in to_dict(cfg).items() if k in ("concepts", "min_count", "seed", "formal")}
    mine = json.loads(json.dumps(mine))
    if path.exists():
        try:
            theirs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            theirs = None
        if not isinstance(theirs, dict):
            raise UserError(f"{path}: unreadable; is {path.parent} a `mathscale formal` output?")
        diff = sorted(k for k in mine if theirs.get(k) != mine[k])
        if diff:
            raise UserError(f"{path.parent} holds a run with other {', '.join(diff)}; use another --out")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=1) + "\n", encoding="utf-8")


def _score(args: argparse.Namespace) -> int:
    from eval.mwpbench import MWPError, load_problems, read_responses, score

    if args.out is not None:
        check_output_dir(args.out, "--out")
    try:
        problems, label = load_problems(args.data)
        result = score(problems, read_responses(args.responses, problems))
    except MWPError as e:
        raise UserError(str(e)) from None
    result = {"data": label, **result}
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print(f"MWPBench {label}: {result['questions']} questions")
        for judge in ("mwpbench", "equivalent"):
            r = result[judge]
            print(f"  {judge:<11} {100 * r['accuracy']:6.2f}%  ({r['correct']}/{result['questions']})")
        differ = [r for r in result["rows"] if r["mwpbench"] != r["equivalent"]]
        for r in differ[:10]:
            print(f"  {r['id']}: extracted {r['extracted']!r}, reference {r['reference']!r}: "
                  f"mwpbench {'right' if r['mwpbench'] else 'wrong'}, by value {'right' if r['equivalent'] else 'wrong'}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        tmp = args.out / ".score.json.tmp"
        tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(args.out / "score.json")
    return 0

"""MathScale's model-facing steps against a TEST DOUBLE (tests/chat_double.py: a local HTTP server
answering by hand-written rules; no model runs): the prompts and the parsers of untrusted answers,
few-shot selection by Jaccard distance, n-gram decontamination, concept extraction and question
generation streamed to journals and resumed, and the commands."""

import json

import numpy as np
import pytest

from data.mathscale.concepts import ConceptRecord, load_records
from data.mathscale.fewshot import NgramIndex, jaccard_distance, nearest_examples
from data.mathscale.graph import Walk, build_graph
from data.mathscale.pipeline import EndpointConfig, compositions, extract_concepts, generate_questions
from data.mathscale.prompts import last_boxed, parse_extraction, parse_generation
from eval.mwpbench import load_problems
from proofzero.cli import main
from tests.chat_double import Replay, chat
from tests.conftest import REPO

FIXTURE = REPO / "benchmarks/mathscale/xylonfu_math_extraction.json"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """urllib honours http_proxy: keep the test double's loopback traffic off any proxy."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def server():
    servers = []

    def start(respond):
        s = Replay(respond)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def endpoint(url, **kw):
    return EndpointConfig(**{"url": url, "model": "double", "timeout_s": 5, "retries": 0, "workers": 2, **kw})


# -- parsers of untrusted answers ------------------------------------------------------------------

def test_extraction_answers_are_read_from_the_first_complete_object():
    text = 'Sure! {"topics": ["Algebra", "algebra", "Geometry", "Counting"], "knowledge_points": ["a", "b", "c", "d", "e", "f"]} bye'
    assert parse_extraction(text) == (("Algebra", "Geometry"), ("a", "b", "c", "d", "e"))  # 1-2 topics, 1-5 KPs
    assert parse_extraction('{"topics": "Algebra", "knowledge_points": ["a"]}') is None
    assert parse_extraction('{"topics": [], "knowledge_points": ["a"]}') is None
    assert parse_extraction('{"topics": ["A"], "knowledge_points": [1, 2]}') is None
    assert parse_extraction("{{{{ not json") is None and parse_extraction(None) is None  # type: ignore[arg-type]


def test_generations_are_read_by_section():
    text = "Here you go.\n**Question:** What is 2+3?\n**Solution:** 2+3 = \\boxed{5}."
    assert parse_generation(text) == ("What is 2+3?", "2+3 = \\boxed{5}.")
    assert parse_generation("Question: only a question") is None
    assert parse_generation("Solution: 5\nQuestion: late") is None
    assert parse_generation("Question: " + "x" * 5000 + "\nSolution: y") is None
    assert last_boxed("a \\boxed{\\frac{1}{2}} then \\boxed{x^{2}}") == "x^{2}"
    assert last_boxed("\\boxed{unclosed") is None and last_boxed("no box") is None


# -- few-shot and decontamination ------------------------------------------------------------------

def test_nearest_examples_by_jaccard_distance_ties_in_record_order():
    """
        target {a, b}:  r0 {a}        1 - 1/2 = 0.5
                        r1 {a, b}     0
                        r2 {c}        1
                        r3 {A, B, c}  1 - 2/3 = 1/3   (names compared canonically)
                        r4 {a, b}     0   but no question text: never shown
    """
    recs = [ConceptRecord(str(i), q, "s", ("T",), kps) for i, (q, kps) in enumerate(
        [("q0", ("a",)), ("q1", ("a", "b")), ("q2", ("c",)), ("q3", ("A", "B", "c")), ("", ("a", "b"))])]
    assert jaccard_distance({"a", "b"}, {"a", "b", "c"}) == pytest.approx(1 / 3)
    assert [r.id for r in nearest_examples(["a", "b"], recs, 3)] == ["1", "3", "0"]


def test_ngram_decontamination():
    index = NgramIndex({"t1": "Find the coefficient of x in the expansion of (2x - 1/x)^5.", "t2": "Compute 2+2."}, n=6)
    assert index.match("Please find the coefficient of x in the expansion of (2x + 1)^3") == "t1"
    assert index.match("Find the coefficient of y in a different expansion entirely") is None
    assert index.match("compute 2 + 2") == "t2"  # shorter than n words: the whole text
    with pytest.raises(ValueError):
        NgramIndex({}, n=0)


# -- extraction against the double -----------------------------------------------------------------

QUESTIONS = [{"id": f"q{i}", "question": f"Question number {i}: solve {i}x = {2 * i}.", "answer": f"x = 2 (#{i})"} for i in range(6)]


def extractor(fail=(), garbage=()):
    def respond(body):
        user = body["messages"][-1]["content"]
        i = int(user.split("Question number ")[1].split(":")[0])
        if i in fail:
            return 500, b"down"
        if i in garbage:
            return chat("I cannot answer that.")
        topics = ["Algebra"] if i % 2 else ["Algebra", "Equations"]
        return chat(json.dumps({"topics": topics, "knowledge_points": ["Solving Linear Equations", f"kp{i % 3}"]}))
    return respond


def test_extraction_streams_records_and_resumes(tmp_path, server):
    first = server(extractor(fail={2}, garbage={4}))
    out = tmp_path / "records.jsonl"
    outcome = extract_concepts(QUESTIONS, endpoint(first.url), out, progress=False)
    assert dict(outcome.counts) == {"extracted": 4, "unparsable": 1} and set(outcome.errors) == {"q2"}
    body = first.requests[0]["body"]
    assert body["temperature"] == 0.0 and "1-2 topics" in body["messages"][-1]["content"]
    second = server(extractor())
    outcome = extract_concepts(QUESTIONS, endpoint(second.url), out, progress=False)
    assert len(second.requests) == 1 and outcome.resumed == 5 and not outcome.errors
    records = load_records(out)
    assert {r.id for r in records} == {f"q{i}" for i in range(6)}
    graph = build_graph(records)
    assert set(graph.topics) == {"algebra", "equations"} and "solving linear equations" in graph.kps
    assert graph.topic_kp["algebra"]["solving linear equations"] == 5  # q4's unparsable answer adds nothing


# -- generation against the double -----------------------------------------------------------------

@pytest.fixture(scope="module")
def seeds():
    records = load_records(FIXTURE)
    return records, build_graph(records)


def test_generation_is_few_shot_decontaminated_and_resumable(tmp_path, server, seeds):
    records, graph = seeds
    gaokao = load_problems("fresh_gaokao")[0]
    tests = NgramIndex({f"fresh_gaokao/{p.id}": p.question for p in gaokao})
    walks = compositions(graph, 1, seed=0)[:6]
    replies = {0: "Question: A train leaves at noon at 60 km/h. How far has it gone at 3 pm?\nSolution: 3 * 60 = \\boxed{180} km.",
               1: f"Question: {gaokao[3].question}\nSolution: \\boxed{{80}}",  # a test question, copied
               2: "I'd rather not."}

    def respond(body):
        k = len([r for r in s.requests]) - 1
        return chat(replies.get(k % 3, replies[0]))
    s = server(respond)
    out = tmp_path / "generated.jsonl"
    cfg = endpoint(s.url, workers=1)
    outcome = generate_questions(walks, graph, records, 2, cfg, out, tests, progress=False)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sum(outcome.counts.values()) == len(lines) == 6
    assert outcome.counts["contaminated"] >= 1 and outcome.counts["unparsable"] >= 1 and outcome.counts["kept"] >= 1
    copied = next(x for x in lines if x["status"] == "contaminated")
    assert copied["contaminated_by"] == f"fresh_gaokao/{gaokao[3].id}"
    kept = next(x for x in lines if x["status"] == "kept")
    assert kept["answer"] == "180" and kept["kps"] and len(kept["examples"]) == 2
    first_prompt = s.requests[0]["body"]["messages"][-1]["content"]
    key, walk = next((k, w) for k, w in walks if w.kps)
    assert all(graph.kps[x] in first_prompt for x in walk.kps) and "Example 1 (knowledge points:" in first_prompt
    example = next(r for r in records if r.id == next(x for x in lines if x["key"] == key)["examples"][0])
    assert example.question.strip()[:60] in first_prompt  # the nearest seed question is shown
    asked = len(s.requests)
    again = generate_questions(walks, graph, records, 2, cfg, out, tests, progress=False)
    assert len(s.requests) == asked and again.resumed == 6  # nothing asked twice


def test_without_an_endpoint_the_prompts_are_written_and_nothing_is_asked(tmp_path, seeds):
    records, graph = seeds
    walks = [("e0_w0000", Walk(("algebra",), ("solving linear equations",), (1, 0))), ("e0_w0001", Walk(("algebra",), (), (1, 0)))]
    outcome = generate_questions(walks, graph, records, 1, EndpointConfig(), tmp_path / "prompts.jsonl", None, progress=False)
    assert dict(outcome.counts) == {"prompt": 1, "no_kp": 1}
    rec = json.loads((tmp_path / "prompts.jsonl").read_text().splitlines()[0])
    assert rec["messages"][1]["content"].count("Example") == 1 and "Solving Linear Equations" in rec["messages"][1]["content"]


def test_compositions_are_a_function_of_seed_and_epoch(seeds):
    _, graph = seeds
    two = compositions(graph, 2, seed=5)
    assert len(two) == 2 * len(graph.topics) and two[: len(graph.topics)] == compositions(graph, 1, seed=5)
    assert [w for _, w in two[: len(graph.topics)]] != [w for _, w in two[len(graph.topics):]]
    assert np.all([k.startswith("e1_") for k, _ in two[len(graph.topics):]])


# -- the commands ----------------------------------------------------------------------------------

def test_extract_command(tmp_path, server, capsys):
    s = server(extractor())
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"id": q["id"], "problem": q["question"], "solution": q["answer"]}) + "\n" for q in QUESTIONS))
    code = main(["mathscale", "extract", str(questions), "--endpoint", s.url, "--model", "double", "--out", str(tmp_path / "r.jsonl"),
                 "--no-progress", "endpoint.retries=0"])
    assert code == 0, capsys.readouterr().err
    assert "extracted 6" in capsys.readouterr().out and len(load_records(tmp_path / "r.jsonl")) == 6
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "no question field"}\n')
    assert main(["mathscale", "extract", str(bad), "--endpoint", s.url, "--model", "double", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "record 1 has no question" in capsys.readouterr().err
    assert main(["mathscale", "extract", str(questions), "--out", str(tmp_path / "y.jsonl")]) == 2
    assert "needs --endpoint URL and --model NAME" in capsys.readouterr().err


def test_generate_command_without_endpoint_and_bad_config(tmp_path, capsys):
    assert main(["mathscale", "generate", "--out", str(tmp_path / "g"), "--no-progress"]) == 0
    assert "wrote the prompts only" in capsys.readouterr().out and (tmp_path / "g/prompts.jsonl").is_file()
    assert main(["mathscale", "generate", "--out", str(tmp_path / "h"), "fewshot=-1"]) == 2
    assert "fewshot must be an integer >= 0" in capsys.readouterr().err
    assert main(["mathscale", "graph", f"concepts={tmp_path / 'none.json'}"]) == 2
    assert "no such file" in capsys.readouterr().err

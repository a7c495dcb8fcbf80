"""`proofzero wemath run` against a TEST DOUBLE: a local HTTP server (tests/chat_double.py) stands in
for an OpenAI-compatible vision endpoint; no model runs. The double reads the image each request
carries (a file written by the test that names its row) and answers by a hand-written rule. What is
tested: the requests (prompt, image, model), streaming to disk, resuming after failures and after a
torn line, the refusals before any request, and that the score is the scorer's on the same answers."""

import base64
import json

import pytest

from data.wemath import load_testmini
from eval.wemath import match_responses, read_responses, score
from eval.wemath_run import RunnerError, WeMathRunConfig, run_endpoint
from proofzero.cli import main
from tests.chat_double import Replay, chat

GROUPS = 4  # two-step groups: 12 rows


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """urllib honours http_proxy: keep the test double's loopback traffic off any proxy."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def small():
    return load_testmini().first_groups(GROUPS)


@pytest.fixture
def images(tmp_path, small):
    """One file per row, at its image_path, whose bytes name the row (the double reads them back)."""
    root = tmp_path / "images"
    for item in small.items:
        path = root / item.image_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{item.id}|{item.key}".encode())
    return root


def row_of(body: dict) -> tuple[str, str]:
    parts = body["messages"][-1]["content"]
    url = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
    assert url.startswith("data:image/png;base64,")
    return tuple(base64.b64decode(url.split(",", 1)[1]).decode().split("|"))


def answering(small, rule, fail=()):
    """A respond function: `rule(item)` gives the letter; rows in `fail` get HTTP 400."""
    def respond(body):
        ref = row_of(body)
        if ref in fail:
            return 400, b'{"error": "bad request"}'
        item = small.groups[ref[0]][ref[1]]
        return chat(f"<Thought process>: looked at the figure <Answer>: <<{rule(item)}>>")
    return respond


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


def config(url, images, **kw):
    return WeMathRunConfig(url=url, model="double-vl", images=str(images), timeout_s=5, retries=0, workers=3, **kw)


def wrong(item):
    return "B" if item.answer == "A" else "A"


def test_every_row_asked_once_with_its_image_and_the_score_follows(tmp_path, small, images, server):
    rule = {0: lambda i: i.answer, 1: wrong}  # sub-problems right, composites wrong: all IG
    s = server(answering(small, lambda i: rule[i.composite](i)))
    outcome = run_endpoint(small, config(s.url, images), tmp_path / "run", progress=False)
    assert (outcome.asked, outcome.answered, outcome.resumed, outcome.failed) == (12, 12, 0, {})
    assert sorted(row_of(r["body"]) for r in s.requests) == sorted(i.ref for i in small.items)
    body = s.requests[0]["body"]
    assert body["model"] == "double-vl" and body["temperature"] == 0.0 and body["max_tokens"] == 2048
    item = small.groups[row_of(body)[0]][row_of(body)[1]]
    assert item.question in s.prompt(0) and item.option in s.prompt(0) and "<Answer>: <<your option>>" in s.prompt(0)
    lines = [json.loads(x) for x in (tmp_path / "run/responses.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and all(x["model"] == "double-vl" for x in lines)
    result = score(small, match_responses(small, read_responses(tmp_path / "run/responses.jsonl")))
    assert (result.strict.IG, result.s1.correct, result.s2.correct) == (GROUPS, 2 * GROUPS, 0)


def test_failed_rows_are_asked_again_on_rerun_and_nothing_else(tmp_path, small, images, server):
    fail = {small.items[0].ref, small.items[5].ref}
    first = server(answering(small, lambda i: i.answer, fail=fail))
    outcome = run_endpoint(small, config(first.url, images), tmp_path / "run", progress=False)
    assert set(outcome.failed) == {f"{a}/{b}" for a, b in fail} and outcome.answered == 10
    second = server(answering(small, lambda i: i.answer))
    outcome = run_endpoint(small, config(second.url, images), tmp_path / "run", progress=False)
    assert (outcome.asked, outcome.resumed, outcome.complete) == (2, 10, True)
    assert {row_of(r["body"]) for r in second.requests} == fail
    result = score(small, match_responses(small, read_responses(tmp_path / "run/responses.jsonl")))
    assert result.strict.CM == GROUPS


def test_a_torn_last_line_is_cut_and_its_row_asked_again(tmp_path, small, images, server):
    s = server(answering(small, lambda i: i.answer))
    run_endpoint(small, config(s.url, images), tmp_path / "run", progress=False)
    path = tmp_path / "run/responses.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][:25])  # killed in the middle of the last write
    lost = json.loads(lines[-1])
    again = server(answering(small, lambda i: i.answer))
    outcome = run_endpoint(small, config(again.url, images), tmp_path / "run", progress=False)
    assert (outcome.asked, outcome.resumed) == (1, 11)
    assert row_of(again.requests[0]["body"]) == (lost["ID"], lost["key"])
    assert len(read_responses(path)) == 12


def test_refusals_before_any_request(tmp_path, small, images, server):
    s = server(answering(small, lambda i: i.answer))
    (images / small.items[3].image_path).unlink()
    with pytest.raises(RunnerError, match=rf"1 of 12 images unusable: {small.items[3].id}/{small.items[3].key}: .* missing"):
        run_endpoint(small, config(s.url, images), tmp_path / "run", progress=False)
    with pytest.raises(RunnerError, match="not a directory"):
        run_endpoint(small, config(s.url, tmp_path / "nowhere"), tmp_path / "run2", progress=False)
    assert s.requests == [] and not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()
    text = server(lambda body: chat("<Answer>: A"))
    run_endpoint(small, config(text.url, images, text_only=True), tmp_path / "text", progress=False)
    assert isinstance(text.requests[0]["body"]["messages"][0]["content"], str)  # no image part
    with pytest.raises(RunnerError, match="another model, text_only"):
        run_endpoint(small, WeMathRunConfig(url=text.url, model="other", images=str(images)), tmp_path / "text", progress=False)


@pytest.mark.parametrize("kw, message", [
    ({"prompt": "no placeholders {answer}"}, "prompt must be a template"),
    ({"prompt": "only options {option}"}, "no {question}"),
    ({"workers": 0}, "workers"),
    ({"temperature": 3.0}, "temperature"),
    ({"url": "ftp://x"}, "http"),
])
def test_config_validates(kw, message):
    with pytest.raises(ValueError, match=message):
        WeMathRunConfig(**{"url": "http://127.0.0.1:1/v1", "model": "m", **kw})


def test_cli_runs_scores_and_reports(tmp_path, small, images, server, capsys):
    s = server(answering(small, lambda i: i.answer if not i.composite else "A"))
    out = tmp_path / "run"
    code = main(["wemath", "run", "--endpoint", s.url, "--model", "double-vl", "--images", str(images), "--out", str(out),
                 "--no-progress", f"groups={GROUPS}", "retries=0", "timeout_s=5"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "12 answered now, 0 earlier, 0 failed" in printed.out and "strict" in printed.out
    report = json.loads((out / "score.json").read_text())
    expected = score(small, {i.ref: f"<Answer>: <<{i.answer if not i.composite else 'A'}>>" for i in small.items})
    assert report["strict"]["counts"] == {k: getattr(expected.strict, k) for k in ("IK", "IG", "CM", "RM")}
    assert (out / "wemath.png").exists() and json.loads((out / "run.json").read_text())["model"] == "double-vl"
    code = main(["wemath", "run", "--endpoint", s.url, "--model", "double-vl", "--images", str(images), "--out", str(out),
                 "--no-progress", f"groups={GROUPS}"])
    assert code == 0 and "0 answered now, 12 earlier" in capsys.readouterr().out
    assert len(s.requests) == 12  # the rerun asked nothing


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert main(["wemath", "run", "--model", "m", "--images", str(tmp_path)]) == 2
    assert "needs --endpoint URL and --model NAME" in capsys.readouterr().err
    assert main(["wemath", "run", "--endpoint", "http://127.0.0.1:1/v1", "--model", "m"]) == 2
    assert "needs --images DIR" in capsys.readouterr().err
    assert main(["wemath", "run", "--endpoint", "http://127.0.0.1:1/v1", "--model", "m", "--images", str(tmp_path),
                 "--out", str(tmp_path / "o"), "workers=-1"]) == 2
    assert "workers must be an integer >= 1" in capsys.readouterr().err

"""The LLM variant strategy against a TEST DOUBLE: a local HTTP server that replays hand-written
chat-completion responses. No real model runs here; what is tested is the client (request body,
headers, errors), the parser of untrusted answers, and the evolutions' bookkeeping (provenance,
seeding the next evolution with the variant closest to the target)."""

import logging

import numpy as np
import pytest

from data.variants import variant_name
from data.variants_llm import TEMPLATES, LLMClient, LLMConfig, LLMError, llm_variants, parse_response
from formal.theorem import Theorem
from tests.chat_double import Replay, chat, closed_port

T1 = Theorem("t1", "forall n : nat, n + 0 = n", header="Require Import Arith.")


def coq(*sentences: str) -> str:
    return "```coq\n" + "\n".join(sentences) + "\n```"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """urllib honours http_proxy: keep the test double's loopback traffic off any proxy."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def replay():
    r = Replay()
    yield r
    r.close()


def config(url: str, **kw) -> LLMConfig:
    return LLMConfig(**{"url": url, "model": "test-double", "timeout_s": 2, "retries": 0, "evolutions": 1, **kw})


def run(cfg: LLMConfig, seed: int = 0, **kw):
    return llm_variants(T1, cfg, np.random.default_rng(seed), client=LLMClient(cfg, backoff_s=0), **kw)


TWO_BLOCKS = (
    "Here are two variants.\n"
    + coq("Theorem t1_a (n : nat) : 0 + n = n.") + "\nand\n"
    + coq("Lemma t1_b : forall n m : nat, n + m + 0 = n + m.")
)


# -- off by default --------------------------------------------------------------------------------

def test_off_by_default_makes_no_request(replay):
    assert LLMConfig().url == ""
    assert llm_variants(T1, LLMConfig(), np.random.default_rng(0), client=LLMClient(config(replay.url))) == []
    assert replay.requests == []


# -- provenance, request, headers ----------------------------------------------------------------

def test_two_coq_blocks_give_variants_with_provenance(replay):
    replay.replies = [chat(TWO_BLOCKS)]
    cfg = config(replay.url)
    variants = run(cfg, round_=3)
    assert [(v.theorem.binders, v.theorem.statement) for v in variants] == [
        ("(n : nat)", "0 + n = n"), ("", "forall n m : nat, n + m + 0 = n + m")]
    strategy = variants[0].strategy
    assert strategy.startswith("llm_") and strategy[4:] in cfg.strategies
    for v in variants:
        assert (v.parent, v.strategy, v.round) == ("t1", strategy, 3)
        assert v.note in {f"temperature {t}" for t in cfg.temperatures}
        assert v.theorem.name == variant_name("t1", strategy, v.theorem)
        assert v.theorem.name.startswith(f"t1__{strategy}_")
        assert v.theorem.header == T1.header and v.theorem.backend == "coq"
    replay.replies = [chat(TWO_BLOCKS)]  # the same answer, the same rng: the same names
    assert [v.theorem.name for v in run(cfg, round_=3)] == [v.theorem.name for v in variants]


def test_request_carries_model_temperature_and_the_parent_statement(replay):
    replay.replies = [chat(TWO_BLOCKS)]
    cfg = config(replay.url, temperatures=[0.5, 1.5], max_tokens=77)  # a list, as OmegaConf hands it
    assert cfg.temperatures == (0.5, 1.5)
    run(cfg)
    (request,) = replay.requests
    body = request["body"]
    assert request["path"] == "/v1/chat/completions"
    assert body["model"] == "test-double" and body["max_tokens"] == 77
    assert body["temperature"] in cfg.temperatures
    assert "n" not in body  # left out: not every compatible server takes it
    assert "Require Import Arith." in replay.prompt(0) and "forall n : nat, n + 0 = n" in replay.prompt(0)


def test_authorization_header_when_the_key_is_set(replay, monkeypatch):
    cfg = config(replay.url, api_key_env="PZ_TEST_LLM_KEY")
    monkeypatch.delenv("PZ_TEST_LLM_KEY", raising=False)
    replay.replies = [chat("")]
    run(cfg)
    assert "Authorization" not in replay.requests[0]["headers"]
    monkeypatch.setenv("PZ_TEST_LLM_KEY", "sekret")  # read at call time, not when the config is made
    replay.replies = [chat("")]
    run(cfg)
    assert replay.requests[1]["headers"]["Authorization"] == "Bearer sekret"


# -- hostile answers -----------------------------------------------------------------------------

HOSTILE = {
    "proof inside the statement": chat(coq("Theorem x : forall n : nat, n = n Proof. admit. Qed.")),
    "axiom": chat(coq("Theorem x : Axiom cheat : False.", "Axiom cheat : forall P : Prop, P.")),
    "require inside": chat(coq("Theorem x : forall n : nat, Require Import Evil. n = n.")),
    "unbalanced parens": chat(coq("Theorem x : (forall n : nat, n + 0 = n.", "Theorem y : n = n).")),
    "empty statement": chat(coq("Theorem x : .", "Theorem y .")),
    "a body, not a statement": chat(coq("Theorem x : True := I.")),
    "a comment hiding a sentence end": chat(coq("Theorem x : True (* . Proof. *) /\\ True.")),
    "non-JSON body": (200, b"<html><body>Bad gateway</body></html>"),
    "JSON without choices": (200, b'{"error": {"message": "overloaded"}}'),
    "choices not a list": (200, b'{"choices": "nope"}'),
    "content not text": (200, b'{"choices": [{"message": {"content": null}}, {"message": 3}, 7]}'),
    "HTTP 500": (500, b'{"error": "boom"}'),
    "HTTP 401": (401, b'{"error": "no key"}'),
    "huge garbage": chat("Theorem a : (" * 50_000),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_answers_give_no_variants_and_no_exception(replay, name):
    replay.replies = [HOSTILE[name]]
    assert run(config(replay.url)) == []
    assert len(replay.requests) == 1


def test_closed_port_gives_no_variants_and_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="data.variants_llm"):
        assert run(config(f"http://127.0.0.1:{closed_port()}/v1", evolutions=3)) == []
    assert "failed" in caplog.text


def test_client_raises_llm_error_naming_the_url(replay):
    cfg = config(replay.url, retries=1)
    replay.replies = [(500, b"boom"), (500, b"boom")]
    with pytest.raises(LLMError, match=r"127\.0\.0\.1.*/v1/chat/completions.*HTTP 500"):
        LLMClient(cfg, backoff_s=0).complete([{"role": "user", "content": "hi"}], 1.0)
    assert len(replay.requests) == 2  # one retry of a 5xx
    replay.replies = [(200, b"not json")]
    with pytest.raises(LLMError, match="not chat-completion JSON"):
        LLMClient(cfg, backoff_s=0).complete([{"role": "user", "content": "hi"}], 1.0)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    with pytest.raises(LLMError, match=rf"{url}/chat/completions: request failed"):
        LLMClient(config(url), backoff_s=0).complete([{"role": "user", "content": "hi"}], 1.0)


def test_client_returns_every_choice(replay):
    replay.replies = [chat("a", "b")]
    texts = LLMClient(config(replay.url)).complete([{"role": "user", "content": "hi"}], 0.5, n=2)
    assert texts == ["a", "b"] and replay.requests[0]["body"]["n"] == 2


# -- the parser ----------------------------------------------------------------------------------

def test_parser_ends_a_statement_at_a_sentence_end_only():
    text = coq("Theorem r : forall x : nat, Nat.add x 0 = x /\\ 1.5 = 1.5.  Proof. auto. Qed.",
               "Lemma s n : n * 1 = n.", "Theorem u : let k := 2 in k = 2.", "Theorem u2 : let k := 2 in k = 2.")
    got = [(t.name, t.binders, t.statement) for t in parse_response(text, T1)]
    assert got == [("r", "", "forall x : nat, Nat.add x 0 = x /\\ 1.5 = 1.5"),  # the proof after it dropped
                   ("s", "n", "n * 1 = n"), ("u", "", "let k := 2 in k = 2")]  # u2: the same statement


def test_parser_reads_bare_text_without_fences():
    (t,) = parse_response("Sure. Theorem v : forall n : nat, n <= n + 1. Hope it helps.", T1)
    assert (t.statement, t.header) == ("forall n : nat, n <= n + 1", T1.header)
    assert parse_response("Theorem 1: every n is n. <html>", T1) == []
    assert parse_response(None, T1) == []  # type: ignore[arg-type]


# -- the evolutions ------------------------------------------------------------------------------

def test_evolutions_seed_the_next_prompt_with_the_closest_variant(replay):
    close = "forall n : nat, n + 0 + 0 = n"
    far = "True"
    replay.replies = [
        chat(coq(f"Theorem a : {far}.", f"Theorem b : {close}.", f"Theorem same : {T1.statement}.")),
        chat(coq("Theorem c : forall n : nat, 0 + n + 0 = n.")),
        chat(coq("Theorem d : forall m : nat, m + 0 = m.")),
    ]
    variants = run(config(replay.url, evolutions=3), round_=1)
    assert len(replay.requests) == 3
    assert close in replay.prompt(1) and far not in replay.prompt(1).split("original statement")[1]
    assert [v.theorem.statement for v in variants] == [far, close, "forall n : nat, 0 + n + 0 = n",
                                                       "forall m : nat, m + 0 = m"]  # not the target itself
    chosen = variants[1].theorem.name
    assert chosen in replay.prompt(1)
    assert [v.parent for v in variants] == ["t1", "t1", chosen, variants[2].theorem.name]
    assert all(v.round == 1 for v in variants)


def test_a_failed_evolution_keeps_what_was_collected(replay, caplog):
    replay.replies = [chat(TWO_BLOCKS), (500, b"down")]
    with caplog.at_level(logging.WARNING, logger="data.variants_llm"):
        variants = run(config(replay.url, evolutions=3))
    assert len(variants) == 2 and len(replay.requests) == 2
    assert "evolution 2/3 failed" in caplog.text


def test_duplicates_across_evolutions_are_kept_once(replay):
    replay.replies = [chat(TWO_BLOCKS)] * 3
    variants = run(config(replay.url, evolutions=3, strategies=["simplify"]))
    assert len(variants) == 2 and len({v.theorem.name for v in variants}) == 2


# -- the config ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kw, message", [
    ({"evolutions": 0}, "evolutions"),
    ({"samples": 0}, "samples"),
    ({"retries": -1}, "retries"),
    ({"timeout_s": 0}, "timeout_s"),
    ({"temperatures": []}, "temperatures"),
    ({"temperatures": [3.0]}, "temperatures"),
    ({"strategies": ["persuade"]}, "strategies"),
    ({"model": ""}, "model"),
    ({"url": "ftp://x"}, "http"),
])
def test_config_validates(kw, message):
    with pytest.raises(ValueError, match=message):
        config(kw.pop("url", "http://127.0.0.1:1/v1"), **kw)


def test_templates_cover_the_default_strategies_and_ask_for_coq_theorems():
    assert set(LLMConfig().strategies) == set(TEMPLATES)
    for template in TEMPLATES.values():
        text = template.format(samples=4, header="H", declaration="D")
        assert "```coq" in text and "Theorem NAME : STATEMENT." in text and "D" in text

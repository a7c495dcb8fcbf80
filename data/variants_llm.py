"""The TTRL variant generator's LLM strategy (ALGORITHMS.md, "TTRL variant generator").

AlphaProof asks a language model for variants of a hard target: each call runs a few "evolutions";
each picks a temperature and a prompting strategy, keeps the syntactically valid statements the model
wrote, and seeds the next evolution with the variant closest to the target. Here the model sits behind
an OpenAI-compatible endpoint (`POST {url}/chat/completions`), spoken to through `data.chat.LLMClient`.

Off by default: with `LLMConfig.url == ""` nothing runs and `llm_variants` returns [] without touching
the network. No real model runs in the tests; they replay hand-written responses from a local server.

The model's answer is untrusted text. `parse_response` keeps only `Theorem NAME BINDERS : STATEMENT.`
declarations whose statement is a plain term (no proof, no vernacular, balanced brackets); whether a
variant is well-typed, true or interesting is for the statement filters (`data/filters.py`) to decide.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass

import numpy as np

from data.chat import MAX_TEXT, LLMClient, LLMError, check_endpoint
from data.decontaminate import proposition_key
from data.statement import balanced, top_level
from data.variants import Variant, similarity, variant_name
from formal.theorem import Theorem

log = logging.getLogger(__name__)

MAX_DECLARATION = 4_000  # characters of one declaration (binders and statement)
MAX_CANDIDATES = 200  # `Theorem`/`Lemma` keywords examined per response (bounds the work on garbage)
MAX_PER_RESPONSE = 64  # statements kept per response

SYSTEM = ("You are an expert in the Coq proof assistant and in competition mathematics. You write new "
          "Coq theorem statements that help to prove a hard one. You never write proofs.")

_FORMAT = (
    "Write {samples} such statements. Answer with ```coq code blocks containing only sentences of the form\n"
    "`Theorem NAME : STATEMENT.` (binders before the colon are allowed): no proofs, no `Proof`, `Qed` or\n"
    "`Admitted`, no `Require` or other commands, no definitions or axioms. The statements are read under\n"
    "the same header as the original one, so use only what it imports.\n\n"
    "The original statement:\n```coq\n{header}\n\n{declaration}\n```"
)

TEMPLATES: dict[str, str] = {
    "reformulate": (
        "Restate the Coq theorem below in other words: the same mathematical content written differently, "
        "for example with the quantifiers or hypotheses reordered, a definition unfolded, an inequality "
        "turned around or a condition expressed another way. Each restatement must be equivalent to the "
        "original.\n\n" + _FORMAT),
    "simplify": (
        "Write easier versions of the Coq theorem below: special cases, smaller numbers, fewer variables, "
        "an extra hypothesis that makes it simpler, or a weaker conclusion. Each should be a stepping stone "
        "that is easier to prove than the original but still teaches something about it.\n\n" + _FORMAT),
    "generalise": (
        "Write generalisations of the Coq theorem below: replace a constant by a variable with the "
        "hypotheses it needs, drop a hypothesis that may be unnecessary, or state the pattern behind the "
        "result. A generalisation may be false; prefer those you believe are true.\n\n" + _FORMAT),
    "lemma": (
        "Write lemmas that a proof of the Coq theorem below would likely use: intermediate facts, key "
        "inequalities or identities, or properties of the objects involved. Each lemma should be useful "
        "on its own and easier than the original.\n\n" + _FORMAT),
    "decompose": (
        "Break the Coq theorem below into parts: the cases of a case split, the separate conjuncts of the "
        "goal, the directions of an equivalence, or the successive steps of a proof, each stated as a "
        "theorem (earlier steps may appear as hypotheses of later ones). Together the parts should give "
        "the original.\n\n" + _FORMAT),
}


@dataclass(frozen=True)
class LLMConfig:
    """Where the model is and how the evolutions sample it; `url == ""` turns the strategy off."""

    url: str = ""  # base of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1; "" = off
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"  # the environment variable holding the key (read per request)
    strategies: tuple[str, ...] = ("reformulate", "simplify", "generalise", "lemma", "decompose")
    evolutions: int = 3  # per call (AlphaProof: 1, 3, 6, 10 or 15)
    temperatures: tuple[float, ...] = (0.5, 1.0, 1.5)
    samples: int = 4  # variants asked for per request
    max_tokens: int = 1024
    timeout_s: float = 60
    retries: int = 2  # extra attempts after a connection error, a 429 or a 5xx

    def __post_init__(self) -> None:
        # OmegaConf hands sequences as lists: frozen and hashable they must be tuples.
        object.__setattr__(self, "strategies", tuple(self.strategies))
        object.__setattr__(self, "temperatures", tuple(float(t) for t in self.temperatures))
        check_endpoint(self.url, self.model)
        unknown = [s for s in self.strategies if s not in TEMPLATES]
        if unknown or not self.strategies:
            raise ValueError(f"llm strategies must be a non-empty subset of {sorted(TEMPLATES)}, got {list(self.strategies)}")
        if not self.temperatures or not all(math.isfinite(t) and 0 <= t <= 2 for t in self.temperatures):
            raise ValueError(f"llm temperatures must be a non-empty list of values in [0, 2], got {list(self.temperatures)}")
        for name, low in (("evolutions", 1), ("samples", 1), ("max_tokens", 1), ("retries", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"llm {name} must be an integer >= {low}, got {value!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"llm timeout_s must be > 0, got {self.timeout_s!r}")


# -- parsing the untrusted response ---------------------------------------------------------------

_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)  # an unclosed last block (truncated) runs to the end
_DECLARATION = re.compile(r"(?<![\w'.])(?:Theorem|Lemma)\s+([A-Za-z_][\w']*)(?![\w'.])")
_END = re.compile(r"(?<!\.)\.(?=\s|\Z)")  # Coq's sentence end: '.' then a blank (not `1.5`, `Nat.add`, `..`)
# Words that have no business in a term: proof commands and vernacular (Coq would run them, or the
# statement ran on into the next sentence). Conservative: a rare identifier spelt so is lost, never let in.
_VERNACULAR = re.compile(r"(?<![\w'])(?:" + "|".join(sorted("""
    Proof Qed Defined Admitted Abort Save admit Admit give_up Axiom Axioms Parameter Parameters Conjecture
    Hypothesis Hypotheses Variable Variables Context Require Import Export From Load Redirect Declare Drop
    Definition Fixpoint CoFixpoint Inductive CoInductive Record Structure Class Instance Existing Example
    Theorem Lemma Corollary Fact Remark Proposition Property Goal Ltac Ltac2 Tactic Hint Module Section End
    Notation Infix Reserved Delimit Bind Open Close Arguments Coercion Canonical Implicit Generalizable
    Unset Local Global Opaque Transparent Strategy Obligation Obligations Program Next Extraction
    Print Compute Eval Check Search Locate Show Time Timeout Fail Succeed Back Reset Undo Restart Focus
    Unfocus Cd Pwd Add Remove Scheme Combined Derive Functional Register Primitive Attributes Optimize
    """.split(), key=len, reverse=True)) + r")(?![\w'])")


def parse_response(text: str, parent: Theorem) -> list[Theorem]:
    """The valid declarations of a model's answer, as Theorems under `parent`'s header (their names
    are the model's, replaced by the caller); everything else is skipped, nothing raises."""
    if not isinstance(text, str):
        return []
    text = text[:MAX_TEXT]
    blocks = [m.group(1) for m in _FENCE.finditer(text)] or [text]
    out: list[Theorem] = []
    seen: set[tuple[str, str]] = set()
    examined = 0
    for block in blocks:
        for m in _DECLARATION.finditer(block):
            examined += 1
            if examined > MAX_CANDIDATES or len(out) >= MAX_PER_RESPONSE:
                return out
            parsed = _declaration(block, m.end())
            if parsed is None or parsed in seen:
                continue
            seen.add(parsed)
            binders, statement = parsed
            out.append(Theorem(m.group(1), statement, header=parent.header, binders=binders, backend=parent.backend))
    return out


def _declaration(text: str, start: int) -> tuple[str, str] | None:
    """(binders, statement) of the declaration whose name ends at `start`, or None if it is not clean."""
    end = _END.search(text, start, start + MAX_DECLARATION)
    if end is None:
        return None
    decl = text[start:end.start()]
    if not balanced(decl) or any(bad in decl for bad in ("(*", "*)", '"', "`")) or _VERNACULAR.search(decl):
        return None
    depths = top_level(decl)
    colon = next((i for i, ch in enumerate(decl) if ch == ":" and depths[i] == 0
                  and decl[i + 1:i + 2] not in ("=", ":", ">") and decl[i - 1:i] != ":"), None)
    if colon is None:
        return None
    binders, statement = " ".join(decl[:colon].split()), " ".join(decl[colon + 1:].split())  # stable names
    # Binders: bracketed groups and bare names only (nothing else at depth 0).
    if not statement or not all(depths[i] > 0 or ch in "()[]{}_'" or ch.isspace() or ch.isalnum()
                                for i, ch in enumerate(decl[:colon])):
        return None
    # A top-level `:=` outside a `let` is a body (a proof term), not a statement.
    sdepths = top_level(statement)
    defs = sum(1 for i in range(len(statement)) if statement.startswith(":=", i) and sdepths[i] == 0)
    if defs > len(re.findall(r"(?<![\w'])let(?![\w'])", statement)):
        return None
    return binders, statement


# -- the evolutions -------------------------------------------------------------------------------

def prompt(strategy: str, seed: Theorem, samples: int) -> list[dict]:
    """The chat messages asking for `samples` variants of `seed` by `strategy`."""
    user = TEMPLATES[strategy].format(samples=samples, header=seed.header.strip(), declaration=seed.declaration())
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def llm_variants(target: Theorem, cfg: LLMConfig, rng: np.random.Generator, round_: int = 0,
                 seed: Theorem | None = None, client: LLMClient | None = None) -> list[Variant]:
    """Variants of `target` from `cfg.evolutions` evolutions of prompting; [] when the strategy is off.

    Each evolution samples a temperature and a strategy with `rng`, prompts with the current seed
    (first `seed or target`), and hands the variant closest to the target to the next one. A failed
    request ends the call with what was collected: the TTRL loop must outlive the endpoint.
    """
    if not cfg.url:
        return []
    if target.backend != "coq":  # the prompts and the parser speak Coq
        log.warning("LLM variants: %s is a %s theorem; only Coq is supported", target.name, target.backend)
        return []
    client = client or LLMClient(cfg)
    target_key = proposition_key(target)
    current = seed or target
    out: list[Variant] = []
    names: set[str] = set()
    for evolution in range(cfg.evolutions):
        temperature = cfg.temperatures[int(rng.integers(len(cfg.temperatures)))]
        strategy = cfg.strategies[int(rng.integers(len(cfg.strategies)))]
        try:
            texts = client.complete(prompt(strategy, current, cfg.samples), temperature, n=1)
        except LLMError as e:
            log.warning("LLM variants of %s: evolution %d/%d failed, keeping %d variants: %s",
                        target.name, evolution + 1, cfg.evolutions, len(out), e)
            break
        made: list[Variant] = []
        current_key = proposition_key(current)
        for text in texts:
            for theorem in parse_response(text, current):
                if proposition_key(theorem) in (target_key, current_key):
                    continue  # the model repeated its input
                name = variant_name(target.name, "llm_" + strategy, theorem)
                if name in names:
                    continue
                names.add(name)
                made.append(Variant(dataclasses.replace(theorem, name=name), parent=current.name,
                                    strategy="llm_" + strategy, round=round_, note=f"temperature {temperature}"))
        log.debug("LLM variants of %s: evolution %d (%s, temperature %s) gave %d", target.name, evolution + 1,
                  strategy, temperature, len(made))
        out.extend(made)
        if made:
            current = max(made, key=lambda v: similarity(v.theorem, target)).theorem
    return out

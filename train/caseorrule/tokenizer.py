"""Tokenizers for the from-scratch model: a Hugging Face fast tokenizer built in memory, no download.

`numbers`: every string of 1-3 digits is one token (longer digit runs split left to right into chunks of
three), every other printable ASCII character is one token. This is how GPT-2's BPE, the paper's
tokenizer, treats the numbers of these tasks: `53`, `33` and `86` are single tokens, so a+b is a lookup
over number tokens, not digit arithmetic. `chars`: one token per character, digits included.
Both save with `save_pretrained` and load back with `AutoTokenizer`, like any Hugging Face tokenizer.
"""

from __future__ import annotations

import string

TOKENIZERS = ("numbers", "chars")
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
CHARS = [c for c in string.printable if c not in "\t\r\x0b\x0c"]  # printable ASCII, space and newline
_PATTERNS = {"numbers": r"\d{1,3}|[\s\S]", "chars": r"[\s\S]"}


def build_tokenizer(kind: str):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if kind not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {kind!r}")
    tokens = [PAD, BOS, EOS, UNK, *CHARS]
    if kind == "numbers":
        tokens += [f"{i:0{width}d}" for width in (1, 2, 3) for i in range(10**width)]
    vocab: dict[str, int] = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(_PATTERNS[kind]), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK)

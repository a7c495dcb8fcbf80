import numpy as np
import pytest

from model.tokenizer import ByteTokenizer
from train.objectives import (
    IGNORE,
    next_token,
    pretrain_example,
    span_corruption,
    span_window,
    strip_padding,
)

TOK = ByteTokenizer()


def _text_tokens(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return TOK.encode_array(bytes(rng.integers(97, 123, n).astype(np.uint8))).astype(np.int64)


def _uncorrupt(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Put each masked span back in place of its sentinel."""
    spans, current = {}, None
    for t in targets[:-1]:
        if t >= TOK.vocab_size - TOK.num_sentinels:
            current = t
            spans[current] = []
        else:
            spans[current].append(t)
    out = []
    for t in inputs[:-1]:
        out.extend(spans.get(t, [t]))
    return np.array(out)


@pytest.mark.parametrize("n", [2, 3, 50, 400, 1024])
def test_span_corruption_masks_about_the_density_and_is_invertible(n):
    tokens = _text_tokens(n)
    inputs, targets = span_corruption(tokens, np.random.default_rng(1), TOK, 0.15, 20.0)
    assert inputs[-1] == TOK.eos_id and targets[-1] == TOK.eos_id
    assert np.array_equal(_uncorrupt(inputs, targets), tokens)
    sentinels = [t for t in targets if t >= TOK.vocab_size - TOK.num_sentinels]
    assert sentinels == [TOK.sentinel(i) for i in range(len(sentinels))]  # in order, <extra_id_0> first
    masked = len(targets) - len(sentinels) - 1
    assert masked == min(max(round(n * 0.15), 1), n - 1)


def test_span_windows_fit_the_encoder_and_decoder_limits():
    window = span_window(1024, 512, 64, 0.15, 20.0, TOK.num_sentinels)
    assert 300 < window < 1024
    for seed in range(20):
        inputs, targets = span_corruption(_text_tokens(window, seed), np.random.default_rng(seed), TOK, 0.15, 20.0)
        assert len(inputs) <= 512 and len(targets) <= 64


def test_next_token_continues_the_prefix():
    tokens = _text_tokens(300)
    for seed in range(10):
        inputs, labels = next_token(tokens, np.random.default_rng(seed), TOK, max_input=128, max_target=32)
        assert inputs[-1] == TOK.eos_id and len(inputs) <= 128 and 1 <= len(labels) <= 32
        joined = np.concatenate([inputs[:-1], labels])
        assert np.array_equal(joined, tokens[len(tokens) - len(joined):])  # prefix then its continuation


def test_examples_are_a_function_of_the_seed_and_padding_is_stripped():
    seq = np.concatenate([_text_tokens(200), np.zeros(56, dtype=np.int64)])  # a split's last, padded sequence
    assert len(strip_padding(seq, TOK.pad_id)) == 200
    kw = {"objective": "mixed", "max_input": 128, "max_target": 32}
    a = pretrain_example(seq, np.random.default_rng([0, 1, 2]), TOK, **kw)
    b = pretrain_example(seq, np.random.default_rng([0, 1, 2]), TOK, **kw)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert TOK.pad_id not in a[0] and TOK.pad_id not in a[1] and IGNORE not in a[1]
    assert pretrain_example(np.zeros(64, dtype=np.int64), np.random.default_rng(0), TOK, **kw) is None

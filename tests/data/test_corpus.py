"""Pretraining corpora: exact byte-token counts, fixed-length packing, streaming, stable splits."""

from pathlib import Path

import numpy as np
import pytest

from data import corpus as corpus_module
from data.corpus import CorpusConfig, build_corpus, load_corpus_split
from data.splits import SplitConfig, assign_split, theorem_split
from model.tokenizer import ByteTokenizer
from proofzero.cli import main
from tests.data.traced_fixtures import library, write_shard

TOK = ByteTokenizer()
SPLIT = SplitConfig(seed="corpus-test", val=0.25, test=0.25)


def test_tokenizer_is_bytes_in_the_byt5_layout():
    assert (TOK.pad_id, TOK.eos_id, TOK.unk_id, TOK.vocab_size) == (0, 1, 2, 384)
    assert TOK.encode("a⊢", add_eos=True) == [ord("a") + 3, 0xE2 + 3, 0x8A + 3, 0xA2 + 3, 1]
    assert TOK.sentinel(0) == 383 and TOK.sentinel(124) == 259
    with pytest.raises(ValueError):
        TOK.sentinel(125)
    text = "∀ n : ℕ, n + 0 = n"
    assert TOK.decode(TOK.encode(text)) == text
    assert TOK.decode([*TOK.encode("x "), TOK.sentinel(2), TOK.pad_id, TOK.eos_id]) == "x <extra_id_2>"
    assert TOK.encode_array("ab").dtype == np.uint16


def _text_tree(root: Path) -> dict[str, str]:
    conj = "True /\\ "
    docs = {f"dir{d}/file{i}.v": f"(* file {d}/{i} *)\nLemma l{i} : {conj * (i * 7 + d)}True.\n"
            for d in range(3) for i in range(8)}
    docs["notes.md"] = "# ∀ notes\n" * 40
    docs["empty.v"] = ""
    for rel, text in docs.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "ignored.py").write_text("not a source")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.v").write_text("hidden")
    return docs


def _expected(docs: dict[str, str], prefix: str = "") -> dict[str, np.ndarray]:
    """The token stream of each split: documents in sorted order, each followed by eos."""
    streams = {s: [] for s in ("train", "val", "test")}
    for rel in sorted(docs):
        if docs[rel]:
            streams[assign_split(prefix + rel, SPLIT)] += TOK.encode(docs[rel], add_eos=True)
    return {s: np.array(v, dtype=np.uint16) for s, v in streams.items()}


def _stream(out: Path, split: str) -> np.ndarray:
    arrays = load_corpus_split(out, split)
    return np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0, np.uint16)


def test_packing_gives_exact_tokens_in_fixed_length_sequences(tmp_path):
    docs = _text_tree(tmp_path / "src")
    cfg = CorpusConfig(seq_len=64, shard_sequences=4, split=SPLIT)
    manifest = build_corpus([str(tmp_path / "src")], tmp_path / "out", cfg)
    expected = _expected(docs)
    for split, stream in expected.items():
        info = manifest["splits"][split]
        assert len(stream), f"{split} should hold some documents with these fractions"
        assert info["tokens"] == len(stream) == sum(len(d.encode()) + 1 for r, d in docs.items()
                                                      if d and assign_split(r, SPLIT) == split)
        assert info["documents"] == sum(1 for r, d in docs.items() if d and assign_split(r, SPLIT) == split)
        shards = load_corpus_split(tmp_path / "out", split)
        assert all(a.shape[1] == 64 and a.dtype == np.uint16 for a in shards)
        assert all(a.shape[0] == 4 for a in shards[:-1])  # full shards, then the rest
        got = _stream(tmp_path / "out", split)
        assert len(got) == info["sequences"] * 64 == len(stream) + info["padding"]
        assert info["padding"] < 64 and np.array_equal(got[: len(stream)], stream)
        assert not got[len(stream):].any()  # padding is pad (0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["corpus.json", "test", "train", "val"]


def test_streaming_holds_at_most_one_shard(tmp_path, monkeypatch):
    """A file larger than a shard, read in small blocks: many shards, never more buffered than a shard."""
    big = "".join(f"Lemma l{i} : {i} = {i}.\nProof. reflexivity. Qed.\n" for i in range(400))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Big.v").write_text(big)
    cfg = CorpusConfig(seq_len=32, shard_sequences=8, read_bytes=100, split=SplitConfig(val=0.0, test=0.0))
    most = 0
    add = corpus_module.PackedSplit.add

    def watched(self, ids):
        nonlocal most
        add(self, ids)
        most = max(most, self._buffered)

    monkeypatch.setattr(corpus_module.PackedSplit, "add", watched)
    manifest = build_corpus([str(tmp_path / "src")], tmp_path / "out", cfg)
    train = manifest["splits"]["train"]
    assert train["tokens"] == len(big.encode()) + 1 and len(train["shards"]) == -(-train["sequences"] // 8) > 10
    assert most < 32 * 8
    assert np.array_equal(_stream(tmp_path / "out", "train")[: train["tokens"]], TOK.encode_array(big, add_eos=True))


def test_builds_are_deterministic(tmp_path):
    _text_tree(tmp_path / "src")
    write_shard(tmp_path / "trace" / "shards" / "a.jsonl", library(files=4, per_file=2))
    cfg = CorpusConfig(seq_len=48, shard_sequences=3, split=SPLIT)
    sources = [str(tmp_path / "src"), str(tmp_path / "trace")]
    m1, m2 = build_corpus(sources, tmp_path / "one", cfg), build_corpus(sources, tmp_path / "two", cfg)
    assert m1["splits"] == m2["splits"]
    for split in ("train", "val", "test"):
        assert np.array_equal(_stream(tmp_path / "one", split), _stream(tmp_path / "two", split))


def _ids(text: str) -> bytes:
    return TOK.encode_array(text).tobytes()


def test_traced_states_follow_the_novel_files_split(tmp_path):
    """A traced file and its source text land in the split the SFT dataset holds that file out in."""
    theorems = library(files=8, per_file=1)
    write_shard(tmp_path / "trace" / "shards" / "a.jsonl", theorems)
    (tmp_path / "lib").mkdir()
    for t in theorems:  # the text of each traced file, under a source root called `lib`
        (tmp_path / "lib" / Path(t.file_path).name).write_text(f"(* text of {t.file_path} *)\n")
    cfg = CorpusConfig(seq_len=16, shard_sequences=2, split=SPLIT)
    build_corpus([str(tmp_path / "trace"), f"lib:{tmp_path / 'lib'}"], tmp_path / "out", cfg)
    for t in theorems:
        split = theorem_split("novel_files", t.full_name, t.file_path, SPLIT)
        text = _stream(tmp_path / "out", split).tobytes()
        assert _ids(f"{t.traced_tactics[0].state_before}\n{t.traced_tactics[0].tactic}") in text
        assert _ids(f"(* text of {t.file_path} *)") in text
        for other in {"train", "val", "test"} - {split}:
            assert _ids(f"(* text of {t.file_path} *)") not in _stream(tmp_path / "out", other).tobytes()


def test_cli_reports_tokens_per_split(tmp_path, capsys):
    docs = _text_tree(tmp_path / "src")
    code = main(["corpus", str(tmp_path / "src"), "--out", str(tmp_path / "out"), "--seq-len", "32",
                 "split.seed=corpus-test", "split.val=0.25", "split.test=0.25"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    train = next(line.split() for line in lines if line.startswith("train"))
    assert int(train[2]) == len(_expected(docs)["train"])
    assert main(["corpus", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "no such source" in capsys.readouterr().err

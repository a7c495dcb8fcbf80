"""SFT datasets from hand-built shards: deterministic, disjoint splits; dedupe; decontamination."""

import dataclasses
import json
from pathlib import Path

import datasets
import pytest

from data.dataset import DatasetConfig, build_dataset, load_scheme, row_to_state_tactic
from data.decontaminate import benchmark_keys
from data.records import to_state_tactics
from data.splits import SplitConfig
from proofzero.cli import main
from tests.data.traced_fixtures import library, theorem, write_shard

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "minif2f-rocq-valid"
CFG = DatasetConfig(split=SplitConfig(seed="test", val=0.2, test=0.2), batch_rows=7)

datasets.disable_progress_bars()


def _rows(out: Path, scheme: str) -> dict[str, list[dict]]:
    dd = load_scheme(out, scheme)
    return {split: dd[split].to_list() for split in ("train", "val", "test")}


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    lib = library()
    write_shard(tmp_path / "trace" / "shards" / "a.jsonl", lib[:30])
    write_shard(tmp_path / "trace" / "shards" / "b.jsonl", lib[30:])
    return tmp_path / "trace"


def test_two_builds_give_identical_splits(shards, tmp_path):
    r1 = build_dataset([shards], tmp_path / "one", CFG)
    r2 = build_dataset([shards], tmp_path / "two", CFG)
    assert r1.splits == r2.splits
    for scheme in ("random", "novel_files"):
        one, two = _rows(tmp_path / "one", scheme), _rows(tmp_path / "two", scheme)
        assert one == two
        assert all(one[s] for s in one), f"{scheme}: every split should be non-empty with 20% fractions"
        assert sum(len(v) for v in one.values()) == 60 * 3
    summary = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert summary["splits"] == r1.splits and summary["config"]["split"]["seed"] == "test"


def test_splits_are_disjoint_by_theorem_and_by_file(shards, tmp_path):
    build_dataset([shards], tmp_path / "out", CFG)
    random, novel = _rows(tmp_path / "out", "random"), _rows(tmp_path / "out", "novel_files")
    theorems = {s: {(r["file_path"], r["full_name"]) for r in rows} for s, rows in random.items()}
    files = {s: {r["file_path"] for r in rows} for s, rows in novel.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not theorems[a] & theorems[b]
        assert not files[a] & files[b]
    # every theorem keeps all three of its tactics in its split
    for rows in (*random.values(), *novel.values()):
        per_theorem = {}
        for r in rows:
            per_theorem.setdefault(r["full_name"], []).append(r["tactic"])
        assert all(tactics == ["tac0.", "tac1.", "tac2."] for tactics in per_theorem.values())


def test_rows_round_trip_to_state_tactics(shards, tmp_path):
    build_dataset([shards], tmp_path / "out", CFG)
    rows = [r for rows in _rows(tmp_path / "out", "random").values() for r in rows]
    got = {(st.full_name, st.tactic): st for st in map(row_to_state_tactic, rows)}
    for t in library():
        for st in to_state_tactics(t, "coq-trace"):
            assert got[st.full_name, st.tactic] == st
    assert {r["value_target"] for r in rows} == {-3, -2, -1}


def test_identical_pairs_are_kept_once_per_split(tmp_path):
    same = [("n : nat |- n = n", "reflexivity.")]
    copies = [theorem(f"Dup.t{i}", "lib/Dup.v", same) for i in range(6)]  # one file: one novel_files split
    write_shard(tmp_path / "in" / "s.jsonl", [*copies, *library(files=2)])
    report = build_dataset([tmp_path / "in"], tmp_path / "out", CFG)
    novel = _rows(tmp_path / "out", "novel_files")
    pairs = [(r["state"], r["tactic"]) for rows in novel.values() for r in rows]
    assert pairs.count(same[0]) == 1
    assert sum(c["duplicates"] for c in report.splits["novel_files"].values()) == 5
    kept = build_dataset([tmp_path / "in"], tmp_path / "all", dataclasses.replace(CFG, dedupe=False))
    assert sum(c["rows"] for c in kept.splits["novel_files"].values()) == 6 + 2 * 5 * 3


def test_incomplete_and_empty_traces_are_skipped(tmp_path):
    admitted = theorem("T.admitted", "lib/T.v", [("|- False", "idtac.")], complete=False)
    empty = dataclasses.replace(theorem("T.empty", "lib/T.v", []), traced_tactics=())
    write_shard(tmp_path / "s.jsonl", [admitted, empty, *library(files=1, per_file=1)])
    report = build_dataset([tmp_path / "s.jsonl"], tmp_path / "out", CFG)
    assert (report.skipped_incomplete, report.skipped_empty) == (1, 1)
    assert sum(c["rows"] for c in report.splits["random"].values()) == 3
    with_all = build_dataset([tmp_path / "s.jsonl"], tmp_path / "o2", dataclasses.replace(CFG, include_incomplete=True))
    assert sum(c["rows"] for c in with_all.splits["random"].values()) == 4


def test_decontamination_drops_planted_benchmark_statements(tmp_path, capsys):
    # mathd_algebra_109 is stated `(a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 0` in the suite
    binder_form = theorem("Planted.binders", "lib/P.v", [("a, b : R |- b = 0", "lra.")],
                          statement="(a b : R) :\n  3 * a + 2 * b = 12 ->\n  a = 4 ->\n  b = 0.")
    forall_form = theorem("Planted.forall", "lib/Q.v", [("|- forall a b : R, b = 0", "intros.")],
                          statement=": forall a b : R, (* the same *) 3*a + 2*b = 12 -> a = 4 -> b = 0.")
    near_miss = theorem("Planted.near", "lib/Q.v", [("|- b = 1", "lra.")],
                        statement="(a b : R) : 3 * a + 2 * b = 12 -> a = 4 -> b = 1.")
    write_shard(tmp_path / "in" / "s.jsonl", [binder_form, forall_form, near_miss, *library(files=3)])
    report = build_dataset([tmp_path / "in"], tmp_path / "out", CFG, benchmark_keys([SUITE]))
    assert report.dropped == [
        {"full_name": "Planted.binders", "file_path": "lib/P.v", "benchmark": "minif2f-rocq-valid/mathd_algebra_109"},
        {"full_name": "Planted.forall", "file_path": "lib/Q.v", "benchmark": "minif2f-rocq-valid/mathd_algebra_109"},
    ]
    names = {r["full_name"] for rows in _rows(tmp_path / "out", "random").values() for r in rows}
    assert "Planted.near" in names and not names & {"Planted.binders", "Planted.forall"}

    code = main(["dataset", str(tmp_path / "in"), "--out", str(tmp_path / "cli"), "--decontaminate", str(SUITE),
                 "split.val=0.2", "split.test=0.2", "split.seed=test"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dropped 2 theorems" in out and "Planted.forall (lib/Q.v) = minif2f-rocq-valid/mathd_algebra_109" in out
    assert _rows(tmp_path / "cli", "random") == _rows(tmp_path / "out", "random")


def test_cli_user_errors(tmp_path, capsys):
    assert main(["dataset", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert main(["dataset", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o")]) == 2
    assert "bad.jsonl:1: not a traced theorem" in capsys.readouterr().err

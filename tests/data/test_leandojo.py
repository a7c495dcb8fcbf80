"""LeanDojo Benchmark files load into the same records and datasets as Coq traces."""

import json
from pathlib import Path

import datasets
import pytest

from data.dataset import DatasetConfig, build_dataset, load_scheme
from data.decontaminate import benchmark_keys
from data.leandojo import chain_value_targets, load_leandojo, to_leandojo_json
from data.records import TracedTactic, traced_theorem_from_json, traced_theorem_to_json
from data.shards import TraceInputError, find_trace_files, read_theorems
from data.splits import SplitConfig
from tests.conftest import FIXTURES
from tests.data.traced_fixtures import library, write_shard

SAMPLE = FIXTURES / "leandojo" / "benchmark4_sample.json"
SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "minif2f-rocq-valid"

datasets.disable_progress_bars()


def test_sample_holds_the_real_record(shared_dir):
    real = json.loads((shared_dir / "fixtures" / "leandojo" / "leandojo_benchmark4_record.json").read_text())
    first = json.loads(SAMPLE.read_text())[0]
    assert first["traced_tactics"] == [real["last_traced_tactic"]]
    assert {k: first[k] for k in ("url", "commit", "file_path", "full_name")} == {
        k: real[k] for k in ("url", "commit", "file_path", "full_name")
    }


def test_load_gives_theorems_with_checked_value_targets():
    theorems = load_leandojo(SAMPLE)
    names = ["Algebra.intTrace_eq_trace", "ProofZeroTest.zero_add_comm", "ProofZeroTest.and_swap"]
    assert [t.full_name for t in theorems] == names
    real = theorems[0]
    assert real.backend == "lean" and real.file_path == "Mathlib/RingTheory/IntegralRestrict.lean"
    assert real.start == (0, 0) and real.statement == ""  # not in the record; LeanDojo has no statement field
    assert real.traced_tactics[0].tactic.startswith("rw [Algebra.algebraMap_intTrace_fractionRing")
    assert [[t.value_target for t in th.traced_tactics] for th in theorems] == [[-1], [-2, -1], [None, -1, -1]]


def test_chain_targets_need_one_goal_and_matching_states():
    def tac(before, after):
        return TracedTactic(tactic="t", state_before=before, state_after=after)

    assert chain_value_targets([tac("⊢ a", "⊢ b"), tac("⊢ b", "⊢ c"), tac("⊢ c", "no goals")]) == [-3, -2, -1]
    # a gap (a left-out tactic between the two): the state after the first is not the next state before
    assert chain_value_targets([tac("⊢ a", "⊢ b"), tac("⊢ c", "no goals")]) == [None, -1]
    # two goals after: the longest branch below is not known
    assert chain_value_targets([tac("⊢ a", "⊢ b\n\n⊢ c"), tac("⊢ b\n\n⊢ c", "no goals")]) == [None, None]


def test_round_trips():
    original = json.loads(SAMPLE.read_text())
    for record, t in zip(original, load_leandojo(SAMPLE)):
        assert traced_theorem_from_json(traced_theorem_to_json(t)) == t
        back = to_leandojo_json(t)
        for key in ("url", "commit", "file_path", "full_name"):
            assert back[key] == record[key]
        assert back["start"] == record.get("start", [0, 0]) and back["end"] == record.get("end", [0, 0])
        keep = ("tactic", "state_before", "state_after")
        assert back["traced_tactics"] == [{k: x[k] for k in keep} for x in record["traced_tactics"]]


def test_lean_data_flows_through_the_dataset_builder(tmp_path):
    write_shard(tmp_path / "coq" / "shards" / "a.jsonl", library(files=2, per_file=2))
    cfg = DatasetConfig(split=SplitConfig(val=0.0, test=0.0))  # everything in train
    report = build_dataset([SAMPLE, tmp_path / "coq"], tmp_path / "out", cfg, benchmark_keys([SUITE]))
    assert report.theorems_read == 3 + 4 and report.unchecked == 3 and report.dropped == []
    train = load_scheme(tmp_path / "out", "novel_files")["train"].to_list()
    lean = [r for r in train if r["origin"] == "leandojo"]
    assert len(lean) == 6 and sum(r["origin"] == "coq-trace" for r in train) == 12
    by_tactic = {r["tactic"]: r for r in lean}
    assert by_tactic["constructor"]["value_target"] is None and by_tactic["exact hp"]["value_target"] == -1
    assert by_tactic["constructor"]["goals_before"] == "[]"  # no structured goals in LeanDojo


def test_a_leandojo_directory_and_bad_files(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "train.json").write_text(SAMPLE.read_text())
    files = find_trace_files([tmp_path / "bench"])
    assert [f.format for f in files] == ["leandojo"] and len(list(read_theorems(files[0]))) == 3
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    with pytest.raises(TraceInputError, match="JSON list"):
        list(read_theorems(find_trace_files([tmp_path / "bad.json"])[0]))
    (tmp_path / "bad2.json").write_text('[{"full_name": "x"}]')
    with pytest.raises(TraceInputError, match="record 0"):
        list(read_theorems(find_trace_files([tmp_path / "bad2.json"])[0]))

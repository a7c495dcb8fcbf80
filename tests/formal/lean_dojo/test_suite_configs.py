"""configs/suites/minif2f_lean4_*.yaml: each names real statement and informal files that load
through formal.suite, pins the versions the benchmark pins, and configures the Lean checker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from formal.lean.checker import STANDARD_AXIOMS, LeanCheckerConfig
from formal.suite import load_suite

REPO = Path(__file__).resolve().parents[3]
SPLITS = {"valid": "Valid", "test": "Test"}


def load(split: str):
    return OmegaConf.load(REPO / "configs" / "suites" / f"minif2f_lean4_{split}.yaml")


@pytest.mark.parametrize("split", SPLITS)
def test_suite_config_loads_the_split_with_informal_statements(split, shared_dir, monkeypatch):
    monkeypatch.setenv("PROOFZERO_BENCHMARKS", str(shared_dir / "benchmarks"))
    cfg = load(split)
    assert cfg.backend == "lean" and cfg.format == "lean4" and cfg.split == split
    assert Path(cfg.statements).name == SPLITS[split]
    suite = load_suite(cfg.statements, informal_path=cfg.informal)
    assert suite.format == cfg.format and len(suite) == 244 and not suite.problems
    assert all(t.backend == "lean" and t.header.startswith("import Mathlib") for t in suite.theorems)
    assert len(suite.informal) == 244  # every statement joined with its informal text by name
    rows = [json.loads(line) for line in Path(cfg.informal).read_text(encoding="utf-8").splitlines() if line]
    # Same problems in the same split (one name differs in case: notEquiv / notequiv, joined anyway).
    assert {r["name"].casefold() for r in rows if r["split"] == split} == {t.name.casefold() for t in suite.theorems}


@pytest.mark.parametrize("split", SPLITS)
def test_suite_config_pins_what_the_benchmark_pins(split, shared_dir):
    cfg = load(split)
    root = shared_dir / "benchmarks" / "minif2f-lean4"
    assert cfg.lean.toolchain == (root / "lean-toolchain").read_text().strip()
    manifest = json.loads((root / "lake-manifest.json").read_text())
    (mathlib,) = [p for p in manifest["packages"] if p["name"] == "mathlib"]
    assert cfg.lean.mathlib_rev == mathlib["rev"]
    assert list(cfg.imports) == ["Mathlib"]


@pytest.mark.parametrize("split", SPLITS)
def test_suite_config_default_paths_and_project_from_the_environment(split, monkeypatch):
    monkeypatch.delenv("PROOFZERO_BENCHMARKS", raising=False)
    monkeypatch.delenv("PROOFZERO_LEAN_PROJECT", raising=False)
    cfg = load(split)
    assert cfg.statements == f"../shared/benchmarks/minif2f-lean4/MiniF2F/{SPLITS[split]}"
    assert cfg.lean.project is None
    monkeypatch.setenv("PROOFZERO_LEAN_PROJECT", "/cluster/lean/minif2f")
    cfg = load(split)
    assert cfg.lean.project == "/cluster/lean/minif2f"
    checker = LeanCheckerConfig(project=cfg.lean.project, **OmegaConf.to_container(cfg.checker))
    assert checker.allowed_axioms == STANDARD_AXIOMS and checker.timeout_s == 300

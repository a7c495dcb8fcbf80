"""The Coq templates of MathScale's formal realisation: what Python says an atom means (`holds`, used to
look for witnesses and counterexamples) is what Coq says, for every template, at the point x0 it was
drawn for, true and false. One file of ground facts compiled by the trusted checker (real Coq)."""

import numpy as np
import pytest

from data.mathscale.concepts import canonical, load_records
from data.mathscale.graph import build_graph
from data.mathscale.templates import TEMPLATES, lit, template_for
from formal.coq.checker import CheckerConfig, verify_source
from tests.conftest import REPO, requires_coq

INSTANCES = 3  # per template and truth value
GROUND = "first [reflexivity | lia | nia | (Z.to_euclidean_division_equations; nia)]"
REFUTE = "first [discriminate H | lia | nia | (Z.to_euclidean_division_equations; nia) | (vm_compute in H; discriminate H)]"


def instances():
    rng = np.random.default_rng(11)
    for t in TEMPLATES:
        for truth in (True, False):
            for _ in range(INSTANCES):
                x0 = int(rng.integers(-9, 10))
                yield t, truth, x0, t.make(rng, x0, truth)


def test_python_meaning_holds_exactly_when_drawn_true():
    for t, truth, x0, atom in instances():
        assert atom.holds(x0) is truth, (t.kp, truth, x0, atom.coq)


def test_every_bundled_knowledge_point_that_survives_the_graph_has_a_template():
    graph = build_graph(load_records(REPO / "benchmarks/mathscale/xylonfu_math_extraction.json"))
    assert [graph.kps[k] for k in graph.kps if template_for(k) is None] == []
    assert len({canonical(t.kp) for t in TEMPLATES}) == len(TEMPLATES)  # one template per knowledge point
    names = [n for t in TEMPLATES for n in t.names]
    assert len(names) == len(set(names))  # no name claimed by two templates


@requires_coq
def test_coq_agrees_with_python_at_x0():
    """For each instance, Coq proves the atom at x0 when Python says it holds, and its negation when not."""
    lines = ["From Coq Require Import ZArith Lia.", "Open Scope Z_scope.", ""]
    names = []
    for k, (t, truth, x0, atom) in enumerate(instances()):
        claim = f"(fun x : Z => {atom.coq}) {lit(x0)}"
        name = f"t{k}_{'true' if truth else 'false'}"
        names.append(name)
        if truth:
            lines.append(f"Theorem {name} : {claim}.\nProof. cbv beta. {GROUND}. Qed.")
        else:
            lines.append(f"Theorem {name} : ~ ({claim}).\nProof. cbv beta. intro H. {REFUTE}. Qed.")
    verdict = verify_source("\n".join(lines) + "\n", names, CheckerConfig(timeout_s=120))
    assert verdict.verified, verdict.message[:2000]
    assert len(names) == 2 * INSTANCES * len(TEMPLATES)


@pytest.mark.parametrize("n, text", [(3, "3"), (0, "0"), (-4, "(-4)")])
def test_negative_literals_are_bracketed(n, text):
    assert lit(n) == text

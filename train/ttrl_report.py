"""What a TTRL run leaves for a person: the verified proof, the variant tree (which variants were proved,
in what order), a per-round table and a plot, under `RUN_DIR/ttrl/`."""

from __future__ import annotations

import logging
from pathlib import Path

from train.matchmaker import read_jsonl
from train.rl import _write_json

log = logging.getLogger(__name__)


def first_decided(run_dir: Path) -> dict[str, tuple[int, int, str]]:
    """problem -> (order, round, proved|disproved) of its first decided game, in the order games finished."""
    out: dict[str, tuple[int, int, str]] = {}
    seen: set[str] = set()
    for g in read_jsonl(run_dir / "games.jsonl"):
        if g.get("id") in seen:
            continue
        seen.add(g.get("id"))
        if g.get("status") in ("proved", "disproved") and g["problem"] not in out:
            out[g["problem"]] = (len(out) + 1, int(g.get("round", 0)) + 1, g["status"])
    return out


def round_rows(loop) -> list[dict]:
    """One row per finished TTRL round: its variants, games, target attempt and the compute spent."""
    rl_rows = {r["round"]: r for r in read_jsonl(loop.run_dir / "rounds.jsonl") if "round" in r}  # last write wins
    gens = {g["round"]: g for g in loop.generations()}
    rows, total = [], 0
    start = next((a for a in loop.attempts() if a.get("round") == 0), None)
    if start is not None:
        total += start.get("tactics", 0)
    for k in sorted(rl_rows):
        rl, gen = rl_rows[k], gens.get(k - 1, {})
        target = rl.get("heldout") or {}
        spent = rl.get("tactics", 0) + gen.get("tactics", 0) + target.get("tactics", 0)
        total += spent
        rows.append({"round": k, "seed": gen.get("seed", ""), "generated": gen.get("generated", 0),
                     "kept": gen.get("counts", {}).get("kept", 0),
                     "rejected": {r: n for r, n in gen.get("counts", {}).items() if r != "kept"},
                     "pool": rl.get("pool", 0), "games": rl.get("attempts", 0), "decided": rl.get("proved", 0) + rl.get("disproved", 0),
                     "new_solved": rl.get("new_solved", 0), "solved_total": rl.get("solved_total", 0),
                     "target": ("proved" if target.get("proved") else "failed") if target else "-",
                     "tactics": spent, "tactics_total": total, "learner_step": rl.get("learner_step", 0),
                     "seconds": rl.get("seconds", {}).get("total", 0.0) + gen.get("seconds", 0.0)})
    return rows


def variant_tree(loop) -> str:
    """The target and every kept variant under its parent, with when (and whether) it was proved."""
    decided = first_decided(loop.run_dir)
    children: dict[str, list] = {}
    for v in loop.variants.values():
        children.setdefault(v.parent, []).append(v)

    def mark(name: str) -> str:
        if name not in decided:
            return "open"
        order, round_, status = decided[name]
        return f"{status} #{order} (round {round_})"

    found = loop.solved()
    head = f"{'proved' if found['mode'] == 'prove' else 'disproved'} ({found['how']}, round {found['round']})" if found else "open"
    lines = [f"{loop.target.name}  [target]  {head}"]

    def walk(parent: str, prefix: str, depth: int) -> None:
        kids = sorted(children.get(parent, []), key=lambda v: (v.round, v.theorem.name))
        for i, v in enumerate(kids):
            last = i == len(kids) - 1
            statement = " ".join(f"{v.theorem.binders} : {v.theorem.statement}".split()) if v.theorem.binders \
                else " ".join(v.theorem.statement.split())
            lines.append(f"{prefix}{'└─' if last else '├─'} {v.strategy} (round {v.round + 1}; {v.note}): {mark(v.theorem.name)}")
            lines.append(f"{prefix}{'   ' if last else '│  '}   {statement[:160]}")
            if depth < 20:
                walk(v.theorem.name, prefix + ("   " if last else "│  "), depth + 1)

    walk(loop.target.name, "", 0)
    return "\n".join(lines)


def proof_file(target, found: dict) -> str:
    """The checker's whole file for the found proof (of the negation, for a disproof)."""
    theorem = target.negation() if found["mode"] == "disprove" else target
    closer = "Qed." if theorem.backend == "coq" else ""
    return "\n".join(x for x in (theorem.header, "", theorem.declaration(), "Proof." if closer else "",
                                 found["proof"], closer) if x is not None) + "\n"


def write_report(loop, stop: str, seconds: float) -> dict:
    from train.learner import latest

    out = loop.run_dir / "ttrl"
    out.mkdir(parents=True, exist_ok=True)
    rows = round_rows(loop)
    found = loop.solved()
    control = loop.control(found)
    tree = variant_tree(loop)
    (out / "tree.txt").write_text(tree + "\n", encoding="utf-8")
    if found is not None:
        (out / "proof.v").write_text(proof_file(loop.target, found), encoding="utf-8")
    published = latest(loop.run_dir)
    decided = first_decided(loop.run_dir)
    gens = loop.generations()
    summary = {
        "target": loop.target.name, "stop": stop, "result": stop if stop in ("proved", "disproved") else "not proved",
        "found": found, "start_network_same_attempt": control, "rounds": len(rows),
        "variants_generated": sum(g["generated"] for g in gens), "variants_kept": len(loop.variants),
        "variants_decided": sum(1 for n in decided if n != loop.target.name),
        "by_strategy": _by_strategy(gens, decided),
        "tactics": loop.tactics_spent(), "learner_steps": rows[-1]["learner_step"] if rows else 0,
        "seconds": round(seconds, 1), "specialist": str(published[1]) if published is not None else None,
        "rows": rows, "tree": str(out / "tree.txt"),
    }
    _write_json(out / "summary.json", summary)
    plot(rows, out / "ttrl.png", loop.target.name)
    return summary


def _by_strategy(gens: list[dict], decided: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for g in gens:
        for v in g["variants"]:
            s = out.setdefault(v["strategy"], {"generated": 0, "kept": 0, "decided": 0})
            s["generated"] += 1
            s["kept"] += v["reason"] == "kept"
            s["decided"] += v["reason"] == "kept" and v["name"] in decided
    return out


def plot(rows: list[dict], path: Path, name: str) -> None:
    if not rows:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    x = [r["round"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(x, [r["pool"] for r in rows], "o-", label="pool (target + kept variants)")
    a.plot(x, [r["solved_total"] for r in rows], "s-", label="proved or disproved (cumulative)")
    for r in rows:
        if r["target"] == "proved":
            a.axvline(r["round"], color="green", ls="--", lw=1)
    a.set_xlabel("TTRL round")
    a.set_title(f"{name}: variants")
    a.legend(fontsize=8)
    b.plot(x, [r["tactics_total"] for r in rows], "o-", color="tab:red")
    b.set_xlabel("TTRL round")
    b.set_ylabel("tactic executions (cumulative)")
    b.set_title("compute (games + filters + target attempts)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_summary(summary: dict) -> str:
    lines = [f"TTRL {summary['target']}: {summary['result']} (stopped: {summary['stop']}) after {summary['rounds']} rounds, "
             f"{summary['tactics']} tactic executions, {summary['learner_steps']} learner steps, {summary['seconds']:.0f} s"]
    lines.append(f"variants: {summary['variants_generated']} generated, {summary['variants_kept']} kept, "
                 f"{summary['variants_decided']} proved or disproved")
    if summary["rows"]:
        lines.append(f"{'round':>5} {'seed':<34} {'gen':>4} {'kept':>4} {'pool':>4} {'games':>5} {'decided':>7} "
                     f"{'target':>7} {'tactics':>8}")
        for r in summary["rows"]:
            lines.append(f"{r['round']:>5} {r['seed'][:34]:<34} {r['generated']:>4} {r['kept']:>4} {r['pool']:>4} {r['games']:>5} "
                         f"{r['decided']:>7} {r['target']:>7} {r['tactics_total']:>8}")
    tree = Path(summary["tree"])
    if tree.is_file():
        lines += ["", "variant tree:", tree.read_text(encoding="utf-8").rstrip()]
    if summary["found"]:
        f = summary["found"]
        lines += ["", f"verified {'proof' if f['mode'] == 'prove' else 'disproof'} ({f['how']}, round {f['round']}):", f["proof"]]
    c = summary.get("start_network_same_attempt")
    if c:
        verdict = "so the specialist's learning made the difference" if c["status"] != "proved" else \
            "so this round's attempt would have found it without the learning"
        lines.append(f"the start network on the same attempt (same seeds and budget): {c['status']} "
                     f"({c['tactics']} tactic executions), {verdict}")
    if summary["specialist"]:
        lines.append(f"\nspecialist checkpoint: {summary['specialist']}")
    return "\n".join(lines)

"""A search tree a person can read: a self-contained HTML page of nested, collapsible nodes with
visits, priors, values and the proof path highlighted, and the JSON it is drawn from.

It draws the serialized form (`Node.serialize()`; the HTPS graph unfolds to the same shape), so one
view serves every search and a saved JSON can be drawn again later.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

_STYLE = """
body{font:13px/1.4 system-ui,sans-serif;margin:1.5em}
details{margin-left:1.2em;border-left:1px solid #ddd;padding-left:.6em}
summary{cursor:pointer;white-space:nowrap}
.and>summary{color:#7a3ea0}.proof>summary{background:#dff5dd;font-weight:600}
.invalid{color:#999}.stats{color:#555;font-size:12px}
pre{margin:.2em 0 .4em 1.2em;background:#f6f6f6;padding:.3em;max-width:70em;overflow:auto}
"""


def _edge_cost(c: dict) -> tuple[int, int]:
    """(longest branch, size) of the cheapest proof through the tactic edge into proved node `c`,
    as `ProofStep.depth()/size()` count them."""
    if c["terminal"]:
        return 1, 1
    costs = [_or_cost(s) for s in (c["children"] if c["kind"] == "and" else [c])]
    return 1 + max(x[0] for x in costs), 1 + sum(x[1] for x in costs)


def _or_cost(d: dict) -> tuple[int, int]:
    if "proof_cost" in d:  # the HTPS graph's unfolding states it (a shared goal is drawn once, elsewhere)
        return tuple(d["proof_cost"])
    proved = [c for c in d["children"] if c["proved"]]
    return min(map(_edge_cost, proved)) if proved else (0, 0)


def _best(d: dict) -> dict:
    return min((c for c in d["children"] if c["proved"]), key=_edge_cost)


def mark_proof(tree: dict) -> dict:
    """Set `on_proof` on the nodes of the extracted proof: the cheapest proved child (longest branch,
    then size) at OR nodes, every child at AND nodes. Returns `tree`."""
    stack = [tree] if tree["proved"] else []
    while stack:
        d = stack.pop()
        d["on_proof"] = True
        if d["kind"] == "and":
            stack.extend(d["children"])
        elif not d["terminal"] and any(c["proved"] for c in d["children"]):
            stack.append(_best(d))
    return tree


def render_html(tree: dict, title: str = "search tree") -> str:
    """`tree`: a serialized search tree (`Node.serialize()` or the HTPS graph's unfolding)."""
    mark_proof(tree)

    def node_html(d: dict, is_root: bool) -> str:
        label = "AND" if d["kind"] == "and" else ("proved" if d["terminal"] else "OR")
        edge = html.escape(d["tactic"]) if d.get("tactic") else ("root" if is_root else "focus")
        net = d.get("net_value")
        stats = (f"N={d['visits']} prior={d['prior']:.3g} value={d['value']:.2f}"
                 + (f" net={net:.2f}" if net is not None else "") + (" ✔" if d["proved"] else "")
                 + (" (shared, drawn above)" if d.get("shared") else ""))
        on = d.get("on_proof", False)
        classes = " ".join(c for c in ("and" if d["kind"] == "and" else "", "proof" if on else "") if c)
        body = f"<pre>{html.escape(d['state'])}</pre>" if d.get("state") is not None else ""
        if d.get("invalid"):
            body += f"<div class='invalid'>invalid: {html.escape(', '.join(d['invalid']))}</div>"
        kids = sorted(d["children"], key=lambda c: (not c.get("on_proof", False), -c["visits"]))
        body += "".join(node_html(c, False) for c in kids)
        return (f"<details class='{classes}'{' open' if on or is_root else ''}><summary><b>{label}</b> {edge} "
                f"<span class='stats'>{stats}</span></summary>{body}</details>")

    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<h1>{html.escape(title)}</h1>{node_html(tree, True)}")


def write_tree(tree, out: str | Path, title: str = "search tree") -> tuple[Path, Path]:
    """OUT.html and OUT.json (appended, not replacing a suffix); `tree` is a serialized tree or
    anything with `serialize()`."""
    data = tree if isinstance(tree, dict) else tree.serialize()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    page, js = out.with_name(out.name + ".html"), out.with_name(out.name + ".json")  # names may hold dots
    page.write_text(render_html(data, title), encoding="utf-8")
    js.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return page, js

"""A search tree a person can read: a self-contained HTML page of nested, collapsible nodes with
visits, priors, values and the proof path highlighted (and the JSON it is drawn from)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from search.node import Kind, Node

_STYLE = """
body{font:13px/1.4 system-ui,sans-serif;margin:1.5em}
details{margin-left:1.2em;border-left:1px solid #ddd;padding-left:.6em}
summary{cursor:pointer;white-space:nowrap}
.and>summary{color:#7a3ea0}.proof>summary{background:#dff5dd;font-weight:600}
.invalid{color:#999}.stats{color:#555;font-size:12px}
pre{margin:.2em 0 .4em 1.2em;background:#f6f6f6;padding:.3em;max-width:70em;overflow:auto}
"""


def proof_path(root: Node) -> set[int]:
    """ids of the nodes on the extracted proof (shortest proved child at OR nodes, all at AND nodes)."""
    from search.proof import _cost, _step

    on, stack = set(), [root] if root.proved else []
    while stack:
        node = stack.pop()
        on.add(id(node))
        if node.kind is Kind.AND:
            stack.extend(node.children)
        elif not node.terminal:
            best = min((c for c in node.children if c.proved), key=lambda c: _cost(_step(c)))
            stack.append(best)
    return on


def render_html(root: Node, title: str = "search tree") -> str:
    on_proof = proof_path(root)

    def node_html(node: Node, open_: bool) -> str:
        label = "AND" if node.kind is Kind.AND else ("proved" if node.terminal else "OR")
        edge = html.escape(node.tactic) if node.tactic else ("focus" if node.parent is not None else "root")
        stats = (f"N={node.visit_count} prior={node.prior:.3g} value={node.mean_value():.2f}"
                 + (f" net={node.net_value:.2f}" if node.net_value is not None else "")
                 + (" ✔" if node.proved else ""))
        classes = " ".join(c for c in ("and" if node.kind is Kind.AND else "", "proof" if id(node) in on_proof else "") if c)
        body = f"<pre>{html.escape(node.state.printed)}</pre>" if node.state is not None else ""
        if node.invalid_tactics:
            body += f"<div class='invalid'>invalid: {html.escape(', '.join(sorted(node.invalid_tactics)))}</div>"
        kids = sorted(node.children, key=lambda c: (id(c) not in on_proof, -c.visit_count))
        body += "".join(node_html(c, id(c) in on_proof) for c in kids)
        return (f"<details class='{classes}'{' open' if open_ else ''}><summary><b>{label}</b> {edge} "
                f"<span class='stats'>{stats}</span></summary>{body}</details>")

    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{_STYLE}</style>"
            f"<h1>{html.escape(title)}</h1>{node_html(root, True)}")


def write_tree(root: Node, out: str | Path, title: str = "search tree") -> tuple[Path, Path]:
    """OUT.html and OUT.json."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    page, data = out.with_suffix(".html"), out.with_suffix(".json")
    page.write_text(render_html(root, title), encoding="utf-8")
    data.write_text(json.dumps(root.serialize(), ensure_ascii=False), encoding="utf-8")
    return page, data

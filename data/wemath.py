"""WE-Math testmini (Qiao et al., arXiv:2407.01284): the questions and the knowledge tree, as records.

testmini holds 525 composite problems: 360 two-step and 165 three-step groups. A group (`ID`, e.g.
"2steps_17") has one row per one-step sub-problem (`key` "2steps_1", "2steps_2"; "3steps_1".."3steps_3")
and one row for the composite problem itself (`2steps_multi`, `3steps_multi`). Each sub-problem tests
one leaf concept of the knowledge tree (67 leaves under 5 first-level and 12 second-level nodes).

Sources: the bundled copy (`benchmarks/wemath/`, text fields only; images are the user's), an upstream
`testmini.json`, or the Hugging Face dataset `We-Math/We-Math` (read from the local cache: nothing is
downloaded unless the user turns `HF_HUB_OFFLINE` off). Every row is validated and every group must be
complete; a malformed file is a `WeMathDataError` naming the row, never a silently smaller benchmark.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent.parent / "benchmarks" / "wemath"
HF_NAME = "We-Math/We-Math"
LETTERS = "ABCDEFGH"
GROUP_KEYS = {2: ("2steps_1", "2steps_2", "2steps_multi"), 3: ("3steps_1", "3steps_2", "3steps_3", "3steps_multi")}
_KEY = re.compile(r"^([23])steps_([123]|multi)$")


class WeMathDataError(ValueError):
    """The testmini data or the knowledge tree is unusable (one line, naming the file and the row)."""


@dataclass(frozen=True)
class WeMathItem:
    """One row of testmini: a one-step sub-problem or a composite problem."""

    id: str  # the problem group, e.g. "2steps_17"
    key: str  # "2steps_1" .. "3steps_multi"
    question: str
    option: str
    answer: str  # the gold letter
    concept: str  # the leaf concept; ";"-joined leaves on composite rows
    image_path: str  # relative to the images root, e.g. "2steps/image/17-1.png"
    number: int  # "question number"

    @property
    def steps(self) -> int:
        return int(self.key[0])

    @property
    def composite(self) -> bool:
        return self.key.endswith("_multi")

    @property
    def ref(self) -> tuple[str, str]:
        """(ID, key): what names a row in a responses file."""
        return self.id, self.key


@dataclass(frozen=True)
class ConceptNode:
    """A leaf of the knowledge tree and the path down to it: (root1, root2, root3[, root4])."""

    path: tuple[str, ...]

    @property
    def leaf(self) -> str:
        return self.path[-1]


@dataclass
class Testmini:
    items: list[WeMathItem]
    tree: dict[str, ConceptNode]  # leaf name -> node (67)
    source: str = ""
    groups: dict[str, dict[str, WeMathItem]] = field(default_factory=dict)  # ID -> key -> row

    def __post_init__(self) -> None:
        for item in self.items:
            self.groups.setdefault(item.id, {})[item.key] = item

    def first_groups(self, n: int) -> Testmini:
        """The first `n` problem groups in file order, every row of each: a smaller benchmark of its own."""
        keep = set(list(dict.fromkeys(i.id for i in self.items))[:n])
        return Testmini([i for i in self.items if i.id in keep], self.tree, f"{self.source}, first {n} groups")

    @property
    def composites(self) -> list[WeMathItem]:
        return [i for i in self.items if i.composite]

    @property
    def one_step(self) -> list[WeMathItem]:
        return [i for i in self.items if not i.composite]


def load_testmini(data: str = "testmini", tree: str | Path | None = None) -> Testmini:
    """`data`: "testmini" (bundled), a path to a testmini JSON file, or "hf" / "We-Math/We-Math"."""
    tree_path = Path(tree) if tree else None
    if data == "testmini":
        rows, source = _read_json_list(BUNDLED / "testmini_nodesc.json"), "bundled testmini (benchmarks/wemath)"
    elif data in ("hf", HF_NAME):
        rows, source = _read_hf(), f"Hugging Face {HF_NAME} (testmini)"
    else:
        path = Path(data)
        rows, source = _read_json_list(path), str(path)
        if tree_path is None and (path.parent / "knowledge_structure_nodes.json").is_file():
            tree_path = path.parent / "knowledge_structure_nodes.json"
    nodes = load_knowledge_tree(tree_path or BUNDLED / "knowledge_structure_nodes.json")
    items = [_item(row, k, source) for k, row in enumerate(rows)]
    _check_groups(items, nodes, source)
    return Testmini(items, nodes, source)


def load_knowledge_tree(path: str | Path) -> dict[str, ConceptNode]:
    """`knowledge_structure_nodes.json`: fields root0..root4 and "full node" (root1_..._leaf)."""
    nodes: dict[str, ConceptNode] = {}
    for k, row in enumerate(_read_json_list(Path(path))):
        if not isinstance(row, dict) or not all(isinstance(row.get(f"root{i}"), str) for i in (1, 2, 3)):
            raise WeMathDataError(f"{path}: node {k} needs string fields root1, root2 and root3")
        parts = tuple(row[f"root{i}"] for i in (1, 2, 3, 4) if isinstance(row.get(f"root{i}"), str) and row[f"root{i}"])
        full = row.get("full node")
        if isinstance(full, str) and full.split("_")[-1] != parts[-1]:
            raise WeMathDataError(f"{path}: node {k}: 'full node' ends in {full.split('_')[-1]!r}, not {parts[-1]!r}")
        if parts[-1] in nodes:
            raise WeMathDataError(f"{path}: leaf concept {parts[-1]!r} appears twice")
        nodes[parts[-1]] = ConceptNode(parts)
    if not nodes:
        raise WeMathDataError(f"{path}: no knowledge concepts")
    return nodes


def _read_json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeMathDataError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WeMathDataError(f"{path}: cannot read it ({e})") from None
    except json.JSONDecodeError as e:
        raise WeMathDataError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, list):
        raise WeMathDataError(f"{path}: expected a JSON list of records, got a {type(data).__name__}")
    return data


def _read_hf() -> list:
    """The `testmini` split from the local Hugging Face cache (images dropped: the runner reads files)."""
    try:
        import datasets
    except ImportError:
        raise WeMathDataError("the Hugging Face source needs the `datasets` package") from None
    try:
        ds = datasets.load_dataset(HF_NAME, split="testmini")
    except Exception as e:  # noqa: BLE001 -- the library raises many types for "not cached", "offline", "no such split"
        raise WeMathDataError(f"{HF_NAME}: cannot load the testmini split ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                              "it is read from the local cache (HF_HUB_OFFLINE=1): download it once with HF_HUB_OFFLINE=0, "
                              "or use the bundled copy (--data testmini)") from None
    wanted = ["ID", "key", "question", "option", "answer", "knowledge concept", "image_path", "question number"]
    ds = ds.select_columns([c for c in wanted if c in ds.column_names])
    return [dict(row) for row in ds]


def _item(row: object, k: int, source: str) -> WeMathItem:
    where = f"{source}: row {k}"
    if not isinstance(row, dict):
        raise WeMathDataError(f"{where}: not a JSON object")
    for name in ("ID", "key", "question", "option", "answer", "knowledge concept"):
        if not isinstance(row.get(name), str):
            raise WeMathDataError(f"{where}: field {name!r} missing or not a string")
    m = _KEY.match(row["key"])
    if m is None:
        raise WeMathDataError(f"{where}: unknown key {row['key']!r}")
    if not row["ID"].startswith(f"{m.group(1)}steps_"):
        raise WeMathDataError(f"{where}: ID {row['ID']!r} does not belong with key {row['key']!r}")
    answer = row["answer"].strip()
    if len(answer) != 1 or answer not in LETTERS:
        raise WeMathDataError(f"{where}: answer {row['answer']!r} is not one letter {LETTERS[0]}-{LETTERS[-1]}")
    number = row.get("question number", k)
    image = row.get("image_path")
    return WeMathItem(row["ID"], row["key"], row["question"], row["option"], answer, row["knowledge concept"],
                      image if isinstance(image, str) else "", int(number) if isinstance(number, int) else k)


def _check_groups(items: list[WeMathItem], nodes: dict[str, ConceptNode], source: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for k, item in enumerate(items):
        if item.ref in seen:
            raise WeMathDataError(f"{source}: rows {seen[item.ref]} and {k} are both ({item.id}, {item.key})")
        seen[item.ref] = k
        if not item.composite and item.concept not in nodes:
            raise WeMathDataError(f"{source}: row {k} ({item.id}, {item.key}): concept {item.concept!r} "
                                  "is not a leaf of the knowledge tree")
    groups: dict[str, set[str]] = {}
    for item in items:
        groups.setdefault(item.id, set()).add(item.key)
    for gid, keys in sorted(groups.items()):
        want = set(GROUP_KEYS[int(gid[0])])
        if keys != want:
            raise WeMathDataError(f"{source}: group {gid} has rows {sorted(keys)}; a {gid[0]}-step group needs {sorted(want)}")
    if not items:
        raise WeMathDataError(f"{source}: no rows")

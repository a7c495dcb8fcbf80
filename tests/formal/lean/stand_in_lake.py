"""A STAND-IN for `lake env lean FILE` (tests only): NOT Lean. A small Python script that prints
output in Lean 4's formats (messages `FILE:L:C: error: ..`, `#print axioms` reports between the
checker's nonce markers), chosen by $FAKE_LEAN, for the file the checker wrote; it logs its argv,
working directory and the file's text to $FAKE_LEAN_LOG. It exercises the checker's process
handling and output parsing for real and proves nothing about Lean itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

STAND_IN = r'''
# STAND-IN for `lake env lean FILE`: NOT Lean. Prints output in Lean 4's formats, chosen by
# $FAKE_LEAN, for the file the checker wrote (the nonce markers and the name are read from it).
import json, os, re, signal, subprocess, sys, time
args = sys.argv[1:]
path = args[-1]
text = open(path, encoding="utf-8").read()
with open(os.environ["FAKE_LEAN_LOG"], "w") as f:
    json.dump({"argv": args, "cwd": os.getcwd(), "text": text}, f)
markers = re.findall(r'#print "(PZAUDIT-\w+ (?:BEGIN|END))"', text)
name = re.search(r"#print axioms (\S+)", text).group(1)
line = text[: text.index("#print axioms")].count("\n") + 1
mode = os.environ["FAKE_LEAN"]
def audit(report):
    print(markers[0]); print(report); print(markers[1])
std = f"'{name}' depends on axioms: [propext, Classical.choice, Quot.sound]"
if mode == "verified":
    audit(std)
elif mode == "no_axioms":
    audit(f"'{name}' does not depend on any axioms")
elif mode == "located":
    print(f"{path}:{line - 1}:0: info: {markers[0]}")
    print(f"{path}:{line}:0: info: '{name}' depends on axioms: [propext,\n Quot.sound]")
    print(f"{path}:{line + 1}:0: info: {markers[1]}")
elif mode == "sorry":
    print(f"{path}:7:8: warning: declaration uses 'sorry'")
    audit(f"'{name}' depends on axioms: [propext, sorryAx]")
elif mode == "native_decide":
    audit(f"'{name}' depends on axioms: [propext, Lean.ofReduceBool]")
elif mode == "spoof":  # what a proof could print while it is elaborated: before the markers
    print(f"'{name}' does not depend on any axioms")
    audit(f"'{name}' depends on axioms: [sorryAx]")
elif mode == "error":
    print(f"{path}:9:2: error: linarith failed to find a contradiction\ncase a\nx : ℝ\n⊢ False")
    audit(f"'{name}' depends on axioms: [sorryAx]")
    sys.exit(1)
elif mode == "statement_error":
    print(f"{path}:8:4: error(lean.unknownIdentifier): unknown identifier 'foo'")
    sys.exit(1)
elif mode == "no_mathlib":
    print(f"{path}:1:0: error: unknown module prefix 'Mathlib'\n\n"
          "No directory 'Mathlib' or file 'Mathlib.olean' in the search path entries:")
    sys.exit(1)
elif mode == "lake_broken":
    print("error: no such file or directory (error code: 2)\n  file: ./lakefile.lean")
    sys.exit(1)
elif mode == "no_markers":
    print(f"'{name}' does not depend on any axioms")
elif mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    open(os.environ["FAKE_LEAN_LOG"] + ".child", "w").write(str(child.pid))
    time.sleep(60)
elif mode == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
'''


def write_stand_in_lake(path: Path) -> Path:
    """Write the stand-in as an executable at `path` (run by this interpreter); returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{STAND_IN}")
    path.chmod(0o755)
    return path

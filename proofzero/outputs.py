"""Output paths of the subcommands: checked before any work starts, and removed when a run fails.

A directory given where a file is expected (or a file where a directory is), a parent that is a file,
a directory nobody may write in: each is a one-line user error before the first theorem, shard or
checkpoint is read, not a traceback at the end of a run. `removed_on_failure` takes back what a
failed build created, so a second try starts from the state before the first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proofzero.cli import UserError


def check_output_file(path: str | Path, option: str) -> None:
    """`path` can be written as a file: it is no directory, and its parent is (or can be made) one we may write in."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{option} {path} is a directory; expected the path of a file")
    _check_parent(path, option)


def check_output_dir(path: str | Path, option: str) -> None:
    """`path` is a directory we may write in, or can be made one."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} exists and is not a directory")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{option} {path}: no permission to write in it")
        return
    _check_parent(path, option)


def _check_parent(path: Path, option: str) -> None:
    """The nearest existing ancestor of `path` is a directory we may write in."""
    ancestor = path.absolute().parent
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserError(f"{option} {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"{option} {path}: no permission to write in {ancestor}")


def _first_missing(path: Path) -> Path | None:
    """The topmost ancestor-or-self of `path` that does not exist yet (what a run would create)."""
    missing = None
    p = path.absolute()
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing, p = p, p.parent
    return missing


@contextmanager
def removed_on_failure(path: str | Path) -> Iterator[None]:
    """On any failure inside, remove what did not exist at `path` before (parents it made included);
    a directory that was already there stays, for the builder to have left as it was."""
    created = _first_missing(Path(path))
    try:
        yield
    except BaseException:
        if created is not None:
            if created.is_dir() and not created.is_symlink():
                shutil.rmtree(created, ignore_errors=True)
            else:
                created.unlink(missing_ok=True)
        raise

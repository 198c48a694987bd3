"""Writing files so that a reader, or a crash, never sees half of one, or half of a set.

`replace_files` writes and removes a set of files as one change: every new text is first written
to a temporary file beside its target (where a full disk or a read-only directory shows up,
before anything is touched), then each target is swapped in by rename, keeping the old file
until the end so that a failure part-way puts every file back. `atomic_write` is the one-file
case.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path


class WriteError(OSError):
    """A file or directory could not be written; `path` names which one."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.path = path
        self.reason = cause.strerror or str(cause)


def _stage(path: Path, text: str, mode: int, created: list[Path]) -> Path:
    """A temporary file with `text` beside `path` (making its missing directories)."""
    missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except OSError as exc:
            raise WriteError(directory, exc) from exc
        created.append(directory)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise WriteError(path.parent, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, mode)  # mkstemp makes it private; these are shared artifacts
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, exc) from exc
        raise
    return Path(tmp)


def replace_files(
    files: Mapping[Path, str], remove: Iterable[Path] = (), mode: int = 0o644
) -> None:
    """Write every file of `files` and delete every file of `remove`, all or nothing.

    Raises `WriteError` naming the file or directory that could not be written; the tree is
    then as it was (new directories removed again, replaced files restored).
    """
    created: list[Path] = []
    staged: dict[Path, Path] = {}
    backups: list[tuple[Path, Path]] = []  # (target, its old file renamed aside)
    swapped: list[Path] = []  # targets that now hold their new text
    try:
        for path, text in files.items():
            staged[path] = _stage(path, text, mode, created)
        for path in [*files, *remove]:
            try:
                if path.exists():
                    backup = path.with_name(f".{path.name}.old-{os.getpid()}")
                    os.rename(path, backup)
                    backups.append((path, backup))
                if path in staged:
                    os.rename(staged[path], path)
                    del staged[path]
                    swapped.append(path)
            except OSError as exc:
                raise WriteError(path, exc) from exc
    except BaseException:
        _undo(staged, backups, swapped, created)
        raise
    for _, backup in backups:
        with contextlib.suppress(OSError):
            os.unlink(backup)


def _undo(
    staged: Mapping[Path, Path],
    backups: list[tuple[Path, Path]],
    swapped: list[Path],
    created: list[Path],
) -> None:
    for tmp in staged.values():
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    for target in swapped:
        with contextlib.suppress(OSError):
            os.unlink(target)  # its old file, if any, comes back from the backups below
    for target, backup in reversed(backups):
        with contextlib.suppress(OSError):
            os.replace(backup, target)
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            directory.rmdir()


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename.

    The file is either the old one or the new one, never a mix: on any error (a full disk, a
    read-only directory, Ctrl-C) the temporary file is removed and the error is raised.
    """
    replace_files({path: text}, mode=mode)

"""Walk corpus folders and say, for every entry, whether it is a file to read or why it is not.

Nothing is passed over in silence: dangling links, symlink loops, unsupported file types (legacy .doc and .wps
included), a folder's `_defaults.yaml` (read for the articles beside it, not an article itself), hidden entries,
sockets and pipes each come back as a `Skipped` with a reason. Symlinks to folders are followed once: a link back
into a folder already being walked is reported as a loop instead of recursing forever.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from indexer.records import Skipped

TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
DOCUMENT_SUFFIXES = (".pdf", ".docx")
SUPPORTED_SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, *DOCUMENT_SUFFIXES, ".jsonl")
NOT_YET_SUPPORTED = {".doc": "legacy Word (.doc)", ".wps": "WPS"}
DEFAULTS_FILE = "_defaults.yaml"


def unsupported_reason(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if path.name == DEFAULTS_FILE:
        return "folder defaults (year, source) for the articles in this folder: read with them, not an article"
    if suffix in SUPPORTED_SUFFIXES:
        return None
    if suffix in NOT_YET_SUPPORTED:
        kind = NOT_YET_SUPPORTED[suffix]
        return f"unsupported file type {path.suffix}: {kind} documents are not read; save as .docx or .pdf"
    return f"unsupported file type {path.suffix or '(none)'}; expected one of {SUPPORTED_SUFFIXES}"


def _link_problem(path: Path) -> str | None:
    """Why a path that does not stat cleanly cannot be read: a loop, a dangling link, or another OS error."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (the link resolves to itself)"
        if path.is_symlink() and exc.errno == errno.ENOENT:
            return f"dangling symlink to {os.readlink(path)} (the target does not exist)"
        return f"cannot read: {exc.strerror or exc}"
    return None


def walk_sources(given: Path) -> Iterator[Path | Skipped]:
    """For a file: itself (or why not). For a folder: every entry below it, sorted, as a Path to read or a Skipped."""
    problem = _link_problem(given)
    if problem is not None:
        yield Skipped(str(given), problem)
    elif given.is_dir():
        yield from _walk_dir(given, given, {given.resolve()})
    elif given.is_file():
        yield given
    else:
        yield Skipped(str(given), "not a regular file or folder")


def _walk_dir(root: Path, folder: Path, active: set[Path]) -> Iterator[Path | Skipped]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield Skipped(_shown(root, folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        shown = _shown(root, path)
        if entry.name.startswith("."):
            yield Skipped(shown, "hidden entry (its name starts with a dot): not read")
            continue
        problem = _link_problem(path)
        if problem is not None:
            yield Skipped(shown, problem)
            continue
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            real = path.resolve()
            if real in active:
                yield Skipped(shown, f"symlink loop (links back to the folder {real})")
                continue
            yield from _walk_dir(root, path, active | {real})
        elif not stat.S_ISREG(mode):
            yield Skipped(shown, "not a regular file (a pipe, socket or device)")
        elif (reason := unsupported_reason(path)) is not None:
            yield Skipped(shown, reason)
        else:
            yield path


def _shown(root: Path, path: Path) -> str:
    # As sources.py shows files read under a folder: relative to the folder given.
    return path.relative_to(root).as_posix() if path != root else str(path)

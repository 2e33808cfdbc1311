"""Joining lines into paragraphs the way the .txt corpus writes them: one paragraph per line, a blank line between."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LATIN_END = re.compile(r"[A-Za-z0-9,.;:]$")
_LATIN_START = re.compile(r"^[A-Za-z0-9]")
_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def join_wrapped(lines: Iterable[str]) -> str:
    """Lines of one paragraph, wrapped by a page's width, as one line. Chinese text wraps anywhere, even inside a
    number (「车间4」/「2家」), so lines join without a space; only mostly-Latin lines (wrapped at spaces) get one."""
    out = ""
    for line in (s.strip() for s in lines):
        if not line:
            continue
        latin = len(_CJK.findall(line)) < 0.3 * len(line)
        space = " " if out and latin and _LATIN_END.search(out) and _LATIN_START.match(line) else ""
        out += space + line
    return out


def as_text(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(p.strip() for p in paragraphs if p.strip())

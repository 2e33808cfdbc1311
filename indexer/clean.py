"""Repair the print layout of scanned articles and mark headings, captions and bylines.

The scans break sentences across blank lines ("经过榨汁可\\n\\n生产NFC"), leave photo captions between paragraphs and
put bylines anywhere. `clean_text` joins the broken lines, collapses blank-line runs to one blank line, and reports
headings and excluded spans (captions, bylines, photo credits) as offsets into its own output; every other character
stays as published.

Rules, tuned on the five seed articles (see tests/test_clean.py):
- A paragraph continues in the next one when it does not end in sentence-final punctuation or a colon, exactly one
  blank line separates them, neither is a caption or byline, the next one is not heading-like, and the first one
  either ends in a comma-like mark or is not heading-like itself.
- Heading-like: one line of at most 40 characters, no final punctuation and no 。！？； inside, at most one comma,
  balanced quotes and brackets, not ending in a function word (的, 可, 被, 把...). Such a line is a heading unless
  it is a caption, or no body paragraph follows it anywhere.
- Captions: short paragraphs after an image gap (two or more blank lines, when such gaps are rare in the file),
  except a heading-like line followed by body text on the same topic; lines carrying a photo credit (摄/, 供图,
  图片由) of at most 60 characters; a first body paragraph that is one short sentence between two headline lines
  ("重庆华峰新材料产业园。").
- Bylines: short lines with 记者 / 融媒体中心 / 通讯员 and no sentence punctuation, lines opening with □, and such
  a byline or credit trailing the last sentence of a body line ("...表示。巴南区融媒体中心 伍凤秋").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.records import Span

SENTENCE_FINAL = "。！？；!?;…"
# A colon or a full stop also ends a paragraph legitimately (a list follows, or the text is not Chinese).
PARAGRAPH_FINAL = SENTENCE_FINAL + "：:."
CLOSERS = "”’」』）)】》〉\"'"
SOFT_ENDS = "，、,（(“‘《【〈—-·/"
# Characters a title never ends with but a line broken mid-sentence often does.
FUNCTION_TAIL = "的和与及或被把将可以是从向对其该这那并而且但唯"
BALANCED_PAIRS = ("“”", "‘’", "（）", "()", "《》", "「」")
HEADING_MAX_CHARS = 40
CAPTION_MAX_CHARS = 60
TAIL_MAX_CHARS = 30
SANDWICH_MAX_CHARS = 20
BYLINE_MAX_CHARS = 40
BYLINE_MARKERS = ("记者", "融媒体中心", "通讯员", "撰稿", "责任编辑")
PHOTO_MARKERS = ("摄/", "摄／", "供图", "图片由", "图片均由", "摄于", "图/", "图／")
SOURCE_LINE = re.compile(r"^[（(]?(来源|责任编辑|编辑|作者|记者|通讯员)[:：]")
LIST_ITEM = re.compile(r"^([-*•■□●◆▶]|\d+[.、．]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)])")
SENTENCE_PUNCT = re.compile(r"[，。；！？,;!?]")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class CleanedText:
    text: str
    headings: tuple[Span, ...]
    excluded: tuple[Span, ...]


@dataclass(frozen=True)
class _Block:
    """A paragraph (or several joined across layout breaks) and the blank lines that preceded it."""

    lines: tuple[str, ...]
    gap_before: int | None  # None for the first paragraph of the text


def _strip_closers(s: str) -> str:
    return s.rstrip(CLOSERS)


def ends_paragraph(line: str) -> bool:
    core = _strip_closers(line.strip())
    return bool(core) and core[-1] in PARAGRAPH_FINAL


def _balanced(s: str) -> bool:
    return all(s.count(a) == s.count(b) for a, b in BALANCED_PAIRS)


def is_credit(line: str) -> bool:
    return any(marker in line for marker in PHOTO_MARKERS)


def is_byline(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > BYLINE_MAX_CHARS:
        return False
    if s.startswith("□") or SOURCE_LINE.match(s):
        return True
    return any(m in s for m in BYLINE_MARKERS) and not SENTENCE_PUNCT.search(s)


def is_excluded_line(line: str) -> bool:
    s = line.strip()
    return is_byline(s) or (is_credit(s) and len(s) <= CAPTION_MAX_CHARS)


def heading_like(line: str) -> bool:
    s = line.strip()
    if s.startswith("#"):
        return len(s.lstrip("#").strip()) > 0
    if not s or len(s) > HEADING_MAX_CHARS or ends_paragraph(s) or is_excluded_line(s):
        return False
    if s[-1] in SOFT_ENDS or _strip_closers(s)[-1:] in tuple(FUNCTION_TAIL):
        return False
    if any(ch in s for ch in "。！？；!?;") or s.count("，") + s.count(",") > 1:
        return False
    return _balanced(s)


def _paragraphs(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    current: list[str] = []
    blanks = 0
    gap: int | None = None
    for raw_line in text.split("\n"):
        line = raw_line.rstrip()
        if line:
            if not current:
                gap = blanks if blocks else None
            current.append(line)
            continue
        if current:
            blocks.append(_Block(tuple(current), gap))
            current, blanks = [], 0
        blanks += 1
    if current:
        blocks.append(_Block(tuple(current), gap))
    return blocks


def _continues(prev: _Block, nxt: _Block) -> bool:
    """Whether `nxt` carries on the sentence `prev` was cut in the middle of."""
    last, first = prev.lines[-1].strip(), nxt.lines[0].strip()
    if nxt.gap_before != 1 or len(prev.lines) != 1 or ends_paragraph(last):
        return False
    if is_excluded_line(last) or is_excluded_line(first) or heading_like(first) or LIST_ITEM.match(first):
        return False
    return last[-1] in SOFT_ENDS or not heading_like(last)


def _join_breaks(blocks: list[_Block]) -> list[_Block]:
    joined: list[_Block] = []
    for block in blocks:
        if joined and _continues(joined[-1], block):
            prev = joined[-1]
            head, rest = block.lines[0].lstrip(), block.lines[1:]
            # Latin words broken across lines need their space back; Chinese has none to restore.
            sep = " " if prev.lines[-1][-1:].isascii() and prev.lines[-1][-1:].isalnum() and head[:1].isalnum() else ""
            joined[-1] = _Block((prev.lines[-1] + sep + head, *rest), prev.gap_before)
        else:
            joined.append(block)
    return joined


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1) if CJK.match(s[i]) and CJK.match(s[i + 1])}


def _credit_tail(line: str) -> int | None:
    """Offset in `line` of a byline or credit trailing its last sentence, if any."""
    ends = [i for i, ch in enumerate(line) if ch in SENTENCE_FINAL]
    if not ends:
        return None
    cut = ends[-1] + 1
    while cut < len(line) and line[cut] in CLOSERS:
        cut += 1
    tail = line[cut:].strip()
    if not tail or len(tail) > TAIL_MAX_CHARS or ends_paragraph(tail):
        return None
    if is_credit(tail) or is_byline(tail):
        return len(line) - len(line[cut:].lstrip())
    return None


def _is_gap_caption(block: _Block, gap_captions: bool) -> bool:
    short = all(len(line.strip()) <= CAPTION_MAX_CHARS for line in block.lines)
    return gap_captions and (block.gap_before or 0) >= 2 and short


def _headline_caption(blocks: list[_Block], kinds: list[str]) -> int | None:
    """The first body paragraph, when it is a lone short sentence between two headline lines, captions the lead
    photo (重庆华峰新材料产业园。 between 涪陵工业从“新”再出发 and 数读)."""
    i = next((i for i, k in enumerate(kinds) if k == "body"), 0)
    line = blocks[i].lines[0].strip() if blocks else ""
    short = len(line) <= SANDWICH_MAX_CHARS and line.endswith("。") and "，" not in line
    between = 0 < i < len(kinds) - 1 and kinds[i - 1] == kinds[i + 1] == "heading"
    return i if short and between and len(blocks[i].lines) == 1 else None


def _classify(blocks: list[_Block]) -> list[str]:
    """Per block: "heading", "caption" (excluded as a whole) or "body"."""
    gaps = sum(1 for b in blocks if (b.gap_before or 0) >= 2)
    gap_captions = gaps <= max(2, len(blocks) // 4)  # when every paragraph has a wide gap, gaps mean nothing
    kinds = []
    for block in blocks:
        if _is_gap_caption(block, gap_captions) or all(is_excluded_line(x) for x in block.lines):
            kinds.append("caption")
        elif len(block.lines) == 1 and heading_like(block.lines[0]):
            kinds.append("heading")
        else:
            kinds.append("body")
    if (lead := _headline_caption(blocks, kinds)) is not None:
        kinds[lead] = "caption"
    for i, block in enumerate(blocks[:-1]):
        line = block.lines[0].strip()
        # A short title after a gap still heads the paragraphs below it when they share its topic.
        if kinds[i] == "caption" and len(block.lines) == 1 and heading_like(line) and kinds[i + 1] == "body":
            shared = _bigrams(line) & _bigrams("".join(blocks[i + 1].lines))
            kinds[i] = "heading" if len(shared) >= 2 else "caption"
    last_body = max((i for i, k in enumerate(kinds) if k == "body"), default=-1)
    return [("body" if k == "heading" and i > last_body else k) for i, k in enumerate(kinds)]


def clean_text(raw: str) -> CleanedText:
    """Repaired text with its headings and excluded spans; only whitespace differs from `raw`."""
    text = raw.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = _join_breaks(_paragraphs(text))
    kinds = _classify(blocks)
    parts: list[str] = []
    headings: list[Span] = []
    excluded: list[Span] = []
    pos = 0
    for block, kind in zip(blocks, kinds, strict=True):
        if parts:
            parts.append("\n\n")
            pos += 2
        block_start = None
        for j, line in enumerate(block.lines):
            if j:
                parts.append("\n")
                pos += 1
            lead = len(line) - len(line.lstrip())
            start, end = pos + lead, pos + len(line)
            block_start = start if block_start is None else block_start
            if kind == "heading":
                headings.append(Span(start, end))
            elif kind == "body":
                if is_excluded_line(line):
                    excluded.append(Span(start, end))
                elif (tail := _credit_tail(line)) is not None:
                    excluded.append(Span(pos + tail, end))
            parts.append(line)
            pos += len(line)
        if kind == "caption" and block_start is not None:
            excluded.append(Span(block_start, pos))
    return CleanedText("".join(parts), tuple(headings), tuple(excluded))

"""PDF with a text layer, through pypdf (BSD): text runs with their positions, grouped into lines, lines into
paragraphs. A PDF whose pages carry no text (a scan) is reported as needing OCR, not indexed empty.

Paragraph breaks are not marked in a PDF; a line ends its paragraph when the gap below it is wider than the page's
usual line pitch, when it stops well short of the right margin (the last line of a paragraph, a heading), or when
the next line is indented. Page numbers alone on a line ("- 3 -", "第3页") are dropped.
"""

from __future__ import annotations

import io
import itertools
import re
import statistics
from dataclasses import dataclass

from indexer.readers import Document
from indexer.readers.paragraphs import as_text, join_wrapped

NO_TEXT_LAYER = "no text layer (needs OCR)"
_PAGE_NUMBER = re.compile(r"^[-—－\s]*(?:第\s*)?[0-9]+\s*(?:页|/\s*[0-9]+)?[-—－\s]*$")
_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef“”‘’]")
# A line is "full" when it reaches this share of the page's longest line: wrapped, so the paragraph goes on.
_FULL_SHARE = 0.88
_GAP_FACTOR = 1.4


@dataclass
class _Line:
    y: float
    x: float
    text: str

    @property
    def width(self) -> float:
        """Length in em: Chinese characters are one, Latin letters and digits about half."""
        wide = len(_WIDE.findall(self.text))
        return wide + 0.5 * (len(self.text) - wide)


def _page_lines(page) -> list[_Line]:  # type: ignore[no-untyped-def]
    lines: list[_Line] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, _size: object) -> None:
        if not text or not text.strip("\n"):
            return
        # Position on the page: the text matrix through the current transformation matrix.
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        for number, piece in enumerate(text.split("\n")):
            if number or not lines or abs(lines[-1].y - y) > 1.0:
                if piece.strip():
                    lines.append(_Line(y, x, piece))
            else:
                lines[-1].text += piece

    page.extract_text(visitor_text=visit)
    return [line for line in lines if line.text.strip() and not _PAGE_NUMBER.match(line.text.strip())]


def _paragraphs(pages: list[list[_Line]]) -> list[str]:
    paragraphs: list[str] = []
    current: list[str] = []
    for lines in pages:
        if not lines:
            continue
        full = _FULL_SHARE * max(line.width for line in lines)
        gaps = [a.y - b.y for a, b in itertools.pairwise(lines) if a.y - b.y > 0]
        pitch = statistics.median(gaps) if gaps else 0.0
        margin = min(line.x for line in lines)
        for i, line in enumerate(lines):
            current.append(line.text)
            below = lines[i + 1] if i + 1 < len(lines) else None
            short = line.width < full
            if below is None:
                # The page ends: a full line's paragraph goes on over the page.
                if short:
                    paragraphs.append(join_wrapped(current))
                    current = []
                continue
            gap = line.y - below.y
            indented = below.x - margin > 6.0
            if short or indented or (pitch and gap > _GAP_FACTOR * pitch) or gap < 0:
                paragraphs.append(join_wrapped(current))
                current = []
    if current:
        paragraphs.append(join_wrapped(current))
    return paragraphs


def read_pdf(data: bytes) -> Document | str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return "encrypted PDF (needs a password)"
        pages = [_page_lines(page) for page in reader.pages]
        meta = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        return f"cannot read PDF: {exc}"
    if not any(pages):
        return NO_TEXT_LAYER
    title = str(meta.get("/Title") or "").strip()
    date = meta.get("/CreationDate") or meta.get("/ModDate")
    # /Author is left out: in government PDFs it is mostly a workstation's user name, not the issuing body.
    return Document(as_text(_paragraphs(pages)), title=title, date=str(date) if date else None)

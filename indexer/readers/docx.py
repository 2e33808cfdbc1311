"""Word (.docx) through python-docx: body paragraphs and table rows in document order, title and dates from the
core properties. Legacy .doc and .wps are other formats and stay unsupported (reported by indexer.walk)."""

from __future__ import annotations

import io
import zipfile

from indexer.readers import Document
from indexer.readers.paragraphs import as_text


def _blocks(document) -> list[str]:  # type: ignore[no-untyped-def]
    """Paragraph texts and table rows (cells joined by a tab) in the order they appear in the body."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))  # merged cells repeat
                out.append("\t".join(c for c in cells if c))
    return out


def read_docx(data: bytes) -> Document | str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        return f"cannot read DOCX: {exc or 'not a Word document'}"
    text = as_text(line for block in _blocks(document) for line in block.split("\n"))
    if not text:
        return "no text in the Word document"
    props = document.core_properties
    return Document(text, title=(props.title or "").strip(), date=props.created or props.modified)

"""Readers for binary and marked-up formats: each turns a file's bytes into plain text (paragraphs separated by a
blank line, as the .txt corpus is) plus what the file says about itself (title, date, source, url).

Each format has its own module and its own kept library: PDF through pypdf, DOCX through python-docx, HTML through
trafilatura. A reader returns a `Document`, or a string: the reason the file cannot be indexed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    text: str
    title: str = ""
    date: object = None  # whatever the file's metadata holds: str, datetime; indexer.dates.parse_value reads it
    source: str = ""
    url: str | None = None


BINARY_SUFFIXES = (".pdf", ".docx")


def read_binary(suffix: str, data: bytes) -> Document | str:
    """A PDF or DOCX file's text and metadata, or why it cannot be read."""
    if suffix == ".pdf":
        from indexer.readers.pdf import read_pdf

        return read_pdf(data)
    from indexer.readers.docx import read_docx

    return read_docx(data)

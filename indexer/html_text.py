"""Main text of an HTML page: chrome skipped, block elements as paragraphs, title from <title> or <h1>."""

from __future__ import annotations

import re
from html.parser import HTMLParser

HTML_SKIP = frozenset({"script", "style", "nav", "header", "footer", "aside", "noscript", "template", "svg"})
HTML_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt"}
    | {"dd", "table", "tr", "td", "th", "blockquote", "pre", "figure", "figcaption", "address", "caption", "hr"}
)
# A line break in HTML source between two Chinese characters is not a space in the text.
CJK_WRAP = re.compile(r"(?<=[\u4e00-\u9fff，。、；：！？“”])[ \t]*\n\s*(?=[\u4e00-\u9fff，。、；：！？“”])")


class _HtmlText(HTMLParser):
    """Main text of a page: chrome skipped, block elements as paragraphs, <title> and the first <h1> noted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self._skip = 0
        self._open: set[str] = set()
        self._h1_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in HTML_SKIP
        self.parts.append("\n" if tag == "br" else "\n\n" if tag in HTML_BLOCKS else "")
        if tag == "title" or (tag == "h1" and not self._h1_seen):
            self._open.add(tag)

    def handle_endtag(self, tag: str) -> None:
        self._skip = max(0, self._skip - (tag in HTML_SKIP))
        self.parts.append("\n\n" if tag in HTML_BLOCKS else "")
        self._h1_seen = self._h1_seen or (tag == "h1" and bool(self.h1))
        self._open.discard(tag)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        flat = re.sub(r"\s+", " ", CJK_WRAP.sub("", data))
        if "title" in self._open:
            self.title.append(flat)
            return
        if "h1" in self._open:
            self.h1.append(flat)
        self.parts.append(flat)


def extract_html(html: str) -> tuple[str, str]:
    """(text with paragraphs separated by blank lines, title or "")."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(parser.parts))).strip()
    title = " ".join("".join(parser.title).split()) or " ".join("".join(parser.h1).split())
    return text, title

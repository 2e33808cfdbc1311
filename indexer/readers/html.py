"""A web page's main text, title, date and source through trafilatura (site chrome such as 当前位置, 字号 and the
ICP footer left out; the publication date found by htmldate in meta tags, 发布时间 lines or the text).

Chinese government sites state the source as `<meta name="ContentSource">` or a 「来源：…」 line, which trafilatura
does not report; both are read here. A page too short for trafilatura's main-text heuristics (a bare fragment) is
read with its recall-oriented fallback before giving up with a reason.
"""

from __future__ import annotations

import re

from indexer.readers import Document
from indexer.readers.paragraphs import as_text

_META_SOURCE = re.compile(
    r"<meta\s+[^>]*name=[\"'](?:ContentSource|source|article:source)[\"'][^>]*content=[\"']([^\"']+)[\"']", re.I
)
_SOURCE_LINE = re.compile(r"来源[:：]\s*(?:<[^>]+>\s*)*([^\s<|｜&]{2,30})")
_TITLE_SUFFIX = re.compile(r"\s*[_|｜–—]\s*[^_|｜–—]*$")
# A line break in HTML source between two Chinese characters is not a space in the text (trafilatura makes it one).
_CJK_WRAP = re.compile(r"(?<=[\u4e00-\u9fff，。、；：！？“”])[ \t]*\n\s*(?=[\u4e00-\u9fff，。、；：！？“”])")


def _source(html: str) -> str:
    found = _META_SOURCE.search(html) or _SOURCE_LINE.search(html)
    return found.group(1).strip() if found else ""


def _title(raw: str | None, text: str) -> str:
    title = " ".join((raw or "").split())
    # 「标题_重庆市人民政府网」, 「标题 | 网站」: the site's name is not part of the article's title.
    trimmed = _TITLE_SUFFIX.sub("", title)
    return trimmed if len(trimmed) >= 4 else title


def read_html(html: str) -> Document | str:
    import trafilatura

    options = {"with_metadata": True, "include_comments": False, "include_tables": True, "favor_recall": True}
    try:
        found = trafilatura.bare_extraction(_CJK_WRAP.sub("", html), **options)
    except Exception as exc:  # lxml raises several types for broken markup; any of them makes the page unreadable
        return f"cannot parse HTML: {exc}"
    if found is None:
        return "no main text found in the HTML page"
    fields = found.as_dict() if hasattr(found, "as_dict") else dict(found)
    text = as_text((fields.get("text") or "").split("\n"))
    if not text:
        return "no main text found in the HTML page"
    title = _title(fields.get("title"), text)
    return Document(text, title=title, date=fields.get("date"), source=_source(html), url=fields.get("url"))

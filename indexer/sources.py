"""Read corpus files (.txt/.md with optional YAML front matter, .html, .pdf, .docx, .jsonl) into cleaned articles.

Every problem with one file, or one JSONL line, becomes a `Skipped` with a reason; reading never raises for bad
input, so one broken file cannot stop an index build. Folders are walked by indexer.walk (which reports links,
loops and unsupported types), bytes are decoded by indexer.decode (UTF-8, UTF-16/32 with BOM, GB18030/GBK...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from indexer.clean import SENTENCE_FINAL, CleanedText, clean_text
from indexer.dates import ArticleDate, date_from_text, parse_value
from indexer.decode import BOMS, Decoded, decode_text
from indexer.districts import Gazetteer
from indexer.readers import BINARY_SUFFIXES, Document, read_binary
from indexer.readers.html import read_html
from indexer.records import Article, Section, Skipped, Span
from indexer.settings import DEFAULT_MAX_FILE_BYTES, IndexSettings
from indexer.walk import DEFAULTS_FILE, HTML_SUFFIXES, unsupported_reason, walk_sources

_NO_DATE = ArticleDate("", "partial")
TITLE_MAX_CHARS = 60
TITLE_MIN_CHARS = 4
FRONT_MATTER_FENCE = "---"


@dataclass(frozen=True)
class Meta:
    """What a file says about its article besides the text; `districts` is None when it says nothing."""

    title: str = ""
    date: object = None  # as given (text, date, datetime); indexer.dates.parse_value reads it
    source: str = ""
    url: str | None = None
    districts: tuple[str, ...] | None = None
    year: int | None = None  # completes a partial date (front matter `year`, folder defaults, --default-year)


@dataclass(frozen=True)
class FolderDefaults:
    """`_defaults.yaml` beside the files: what their articles get when they say nothing themselves."""

    year: int | None = None
    source: str = ""


def folder_defaults(file: Path, root: Path | None) -> FolderDefaults | str:
    """The nearest `_defaults.yaml` in the file's folder or above it (up to `root`), or why it is unusable."""
    top = Path(root).resolve() if root is not None else file.parent.resolve()
    folder = file.parent.resolve()
    while True:
        candidate = folder / DEFAULTS_FILE
        if candidate.is_file():
            return _read_defaults(candidate)
        if folder == top or folder.parent == folder or top not in folder.parents:
            return FolderDefaults()
        folder = folder.parent


def _read_defaults(path: Path) -> FolderDefaults | str:
    try:
        fields = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"unusable {path.name} in its folder: {' '.join(str(exc).split())}"
    year = fields.get("year") if isinstance(fields, dict) else None
    if not isinstance(fields, dict) or (year is not None and not (isinstance(year, int) and 1900 <= year <= 2100)):
        return f"unusable {path.name} in its folder: expected a mapping with `year` (e.g. 2023) and/or `source`"
    return FolderDefaults(year, str(fields.get("source") or "").strip())


def iter_source_files(paths: Iterable[Path]) -> list[Path]:
    """Files to read: given files as they are, directories walked recursively (sorted). What is not read from a
    folder (hidden, unsupported, dangling or looping links) is left out here and reported by `unreadable_entries`."""
    found = [item for given in map(Path, paths) for item in walk_sources(given) if isinstance(item, Path)]
    return list(dict.fromkeys(found))


def unreadable_entries(paths: Iterable[Path]) -> list[Skipped]:
    """Every entry under `paths` that `iter_source_files` leaves out, with the reason."""
    return [item for given in map(Path, paths) for item in walk_sources(given) if isinstance(item, Skipped)]


def read_articles(
    paths: Iterable[Path],
    gazetteer: Gazetteer,
    root: Path | None = None,
    max_file_bytes: int | None = None,
    default_year: int | None = None,
) -> Iterator[Article | Skipped]:
    """Articles from files and folders, and a Skipped for everything else. `max_file_bytes` None: the
    POLICYQA_MAX_FILE_BYTES setting (indexer.settings.IndexSettings). `default_year` completes partial dates
    where neither the file nor its folder's `_defaults.yaml` gives a year."""
    if max_file_bytes is None:
        max_file_bytes = IndexSettings().max_file_bytes
    seen: dict[str, str] = {}
    for given in map(Path, paths):
        if not given.exists() and not given.is_symlink():
            yield Skipped(str(given), "no such file or directory")
            continue
        for entry in walk_sources(given):
            if isinstance(entry, Skipped):
                yield entry
                continue
            for item in _read_file(entry, gazetteer, root or (given if given.is_dir() else None), max_file_bytes):
                if isinstance(item, Article):
                    item = _complete_year(item, entry, root or given, default_year)
                if isinstance(item, Article):
                    if item.article_id in seen:
                        first = seen[item.article_id]
                        yield Skipped(item.path, f"duplicate article id {item.article_id!r} (first read from {first})")
                        continue
                    seen[item.article_id] = item.path
                yield item


def _display(file: Path, root: Path | None) -> tuple[str, str]:
    """(path to show, article id) for a file: relative to root when it lies under root."""
    if root is not None:
        try:
            rel = file.resolve().relative_to(Path(root).resolve())
            return rel.as_posix(), rel.with_suffix("").as_posix()
        except ValueError:
            pass
    return str(file), file.stem


def _read_file(
    file: Path, gazetteer: Gazetteer, root: Path | None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> Iterator[Article | Skipped]:
    shown, article_id = _display(file, root)
    suffix = file.suffix.lower()
    reason = unsupported_reason(file)
    if reason is not None:
        yield Skipped(shown, reason)
        return
    try:
        # Checked before reading: the bytes of an oversized file are never loaded, let alone tokenised.
        size = file.stat().st_size
        if size > max_file_bytes:
            limit = f"over the limit of {max_file_bytes:,} (POLICYQA_MAX_FILE_BYTES)"
            yield Skipped(shown, f"file is {size:,} bytes, {limit}")
            return
        data = file.read_bytes()
    except OSError as exc:
        yield Skipped(shown, f"cannot read file: {exc.strerror or exc}")
        return
    if suffix == ".jsonl":
        yield from _read_jsonl(data, shown, gazetteer)
        return
    if suffix in BINARY_SUFFIXES:
        document = read_binary(suffix, data)
        yield (
            Skipped(shown, document)
            if isinstance(document, str)
            else _document_article(document, article_id, shown, gazetteer)
        )
        return
    decoded = decode_text(data)
    if isinstance(decoded, str):
        yield Skipped(shown, decoded)
        return
    text = decoded.text
    if not text.strip():
        yield Skipped(shown, "empty file")
    elif suffix in HTML_SUFFIXES:
        yield _with_encoding(_html_article(text, article_id, shown, gazetteer), decoded)
    else:
        yield _with_encoding(_text_article(text, article_id, shown, gazetteer), decoded)


def _with_encoding(item: Article | Skipped, decoded: Decoded) -> Article | Skipped:
    return dataclasses.replace(item, encoding=decoded.encoding) if isinstance(item, Article) else item


def _text_article(text: str, article_id: str, shown: str, gazetteer: Gazetteer) -> Article | Skipped:
    split = split_front_matter(text)
    if isinstance(split, str):
        return Skipped(shown, split)
    fields, body = split
    meta = _meta(fields, gazetteer)
    if isinstance(meta, str):
        return Skipped(shown, meta)
    return build_article(article_id, body, shown, gazetteer, meta)


def split_front_matter(text: str) -> tuple[Mapping[str, Any], str] | str:
    """(front matter fields, text below it), or the reason the front matter is unusable."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != FRONT_MATTER_FENCE:
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].rstrip() in (FRONT_MATTER_FENCE, "..."):
            try:
                fields = yaml.safe_load("".join(lines[1:i]))
            except yaml.YAMLError as exc:
                return f"bad YAML front matter: {' '.join(str(exc).split())}"
            if fields is not None and not isinstance(fields, dict):
                return f"front matter must be a mapping of keys to values, not {type(fields).__name__}"
            return fields or {}, "".join(lines[i + 1 :])
    return "front matter opened with --- is never closed"


def _meta(fields: Mapping[str, Any], gazetteer: Gazetteer) -> Meta | str:
    def text_of(key: str) -> str | None:
        value = fields.get(key)
        if value is None:
            return None
        return value.isoformat() if isinstance(value, dt.date) else str(value).strip() or None

    districts = None
    if "districts" in fields:
        raw = fields["districts"] or []
        if isinstance(raw, str):
            names = re.split(r"[,，、\s]+", raw)
        elif isinstance(raw, list):
            names = [str(x) for x in raw]
        else:
            return "`districts` must be a list or a comma-separated string"
        # Names the gazetteer does not know are dropped: a typo in metadata should not hide the article.
        districts = tuple(dict.fromkeys(c for n in names if n and (c := gazetteer.canonical(n))))
    year = fields.get("year")
    if year is not None and not (isinstance(year, int) and 1900 <= year <= 2100):
        return "`year` must be a year such as 2023"
    date = fields.get("date")
    date = date if isinstance(date, dt.date) else text_of("date")
    return Meta(text_of("title") or "", date, text_of("source") or "", text_of("url"), districts, year)


def _read_jsonl(data: bytes, shown: str, gazetteer: Gazetteer) -> Iterator[Article | Skipped]:
    # JSON is UTF-8 (RFC 8259), read line by line so one bad line costs one article; a file with a UTF-16/32
    # byte-order mark is decoded whole first. No guessing of legacy encodings here.
    decoded = decode_text(data) if data.startswith(BOMS) else Decoded("", "utf-8")
    if isinstance(decoded, str):
        yield Skipped(shown, decoded)
        return
    lines: list[str] | list[bytes] = decoded.text.split("\n") if decoded.text else data.split(b"\n")
    if not any(line.strip() for line in lines):
        yield Skipped(shown, "empty file")
    for number, line in enumerate(lines, 1):
        where = f"{shown}:{number}"
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
        except UnicodeDecodeError as exc:
            yield Skipped(where, f"not UTF-8 text (invalid byte at column {exc.start + 1})")
            continue
        except json.JSONDecodeError as exc:
            yield Skipped(where, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            yield Skipped(where, f"expected a JSON object, got {type(record).__name__}")
            continue
        ident = record.get("id", record.get("doc_id"))
        text = record.get("text")
        if ident is None or not str(ident).strip():
            yield Skipped(where, "no `id` or `doc_id`")
        elif not isinstance(text, str) or not text.strip():
            yield Skipped(where, "no `text`, or it is empty")
        else:
            meta = _meta(record, gazetteer)
            if isinstance(meta, str):
                yield Skipped(where, meta)
            else:
                article = build_article(str(ident).strip(), text, shown, gazetteer, meta)
                yield _with_encoding(article, decoded)


def _html_article(html: str, article_id: str, shown: str, gazetteer: Gazetteer) -> Article | Skipped:
    document = read_html(html)
    if isinstance(document, str):
        return Skipped(shown, document)
    return _document_article(document, article_id, shown, gazetteer)


def _document_article(document: Document, article_id: str, shown: str, gazetteer: Gazetteer) -> Article | Skipped:
    meta = Meta(title=document.title, date=document.date, source=document.source, url=document.url)
    return build_article(article_id, document.text, shown, gazetteer, meta)


def _complete_year(article: Article, file: Path, root: Path, default_year: int | None) -> Article:
    """A partial date (or no source) completed from the folder's `_defaults.yaml`, then `--default-year`."""
    if article.date_precision != "partial" and article.source:
        return article
    defaults = folder_defaults(file, root if root.is_dir() else None)
    if isinstance(defaults, str):
        defaults = FolderDefaults()
    changes: dict[str, Any] = {}
    if not article.source and defaults.source:
        changes["source"] = defaults.source
    year = defaults.year if defaults.year is not None else default_year
    if article.date_precision == "partial" and article.date and year is not None:
        completed = ArticleDate(article.date, "partial").with_year(year)
        changes.update(date=completed.iso, date_precision=completed.precision)
    return dataclasses.replace(article, **changes) if changes else article


def build_article(article_id: str, raw: str, path: str, gazetteer: Gazetteer, meta: Meta) -> Article | Skipped:
    """Clean `raw` and attach sections, title and districts."""
    cleaned = clean_text(raw)
    if not cleaned.text.strip():
        return Skipped(path, "no text (only front matter or markup)")
    sections = _sections(cleaned, gazetteer)
    title = meta.title or default_title(cleaned)
    districts = meta.districts
    if districts is None:
        districts = _article_districts(title, cleaned, sections, gazetteer)
    # The file's own metadata first, then the text's date lines; a stated year completes a partial date (and is the
    # date, at year precision, of an article that gives none).
    date = (parse_value(meta.date) or date_from_text(cleaned.text) or _NO_DATE).with_year(meta.year)
    return Article(
        article_id=article_id,
        title=title,
        text=cleaned.text,
        path=path,
        source=meta.source,
        date=date.iso or None,
        date_precision=date.precision if date.iso else None,
        url=meta.url,
        districts=districts,
        sections=sections,
        excluded=cleaned.excluded,
    )


def _sections(cleaned: CleanedText, gazetteer: Gazetteer) -> tuple[Section, ...]:
    spans = cleaned.headings
    ends = [s.start for s in spans[1:]] + [len(cleaned.text)] * bool(spans)
    names = [cleaned.text[s.start : s.end].lstrip("#").strip() for s in spans]
    return tuple(Section(n, s.start, e, gazetteer.find(n)) for n, s, e in zip(names, spans, ends, strict=True))


def default_title(cleaned: CleanedText) -> str:
    """The first line that is not a caption or byline, cut to a title's length."""
    offset = 0
    for line in cleaned.text.split("\n"):
        start = offset + len(line) - len(line.lstrip())
        offset += len(line) + 1
        if line.strip() and not any(s.start <= start < s.end for s in cleaned.excluded):
            return _shorten(line.lstrip("#").strip())
    return ""


def _shorten(line: str) -> str:
    if len(line) <= TITLE_MAX_CHARS:
        return line
    # Documents without headings often open with "标题 正文...": the title ends at the first space.
    space = re.search(r"\s", line[TITLE_MIN_CHARS:TITLE_MAX_CHARS])
    if space:
        return line[: TITLE_MIN_CHARS + space.start()]
    stop = next((i for i, ch in enumerate(line[:TITLE_MAX_CHARS]) if ch in SENTENCE_FINAL), None)
    return line[: stop + 1] if stop is not None else line[:TITLE_MAX_CHARS]


def _article_districts(
    title: str, cleaned: CleanedText, sections: tuple[Section, ...], gazetteer: Gazetteer
) -> tuple[str, ...]:
    """What the article is about: all districts of a sequence of district sections ("璧山 ...", "铜梁 ...");
    otherwise those in the title and the headings above the first paragraph; else those of any heading."""
    every = tuple(dict.fromkeys(d for s in sections for d in s.districts))
    led = {gazetteer.canonical(s.heading.split()[0]) for s in sections if " " in s.heading} - {None}
    if len(led) >= 2:
        return every
    end = Span(len(cleaned.text), len(cleaned.text))
    taken = sorted([*cleaned.headings, *cleaned.excluded, end], key=lambda s: s.start)
    body = next((pos for pos, span in _gaps(taken) if cleaned.text[pos : span.start].strip()), len(cleaned.text))
    lead = [*gazetteer.find(title), *(d for s in sections if s.start < body for d in s.districts)]
    return tuple(dict.fromkeys(lead)) or every


def _gaps(spans: list[Span]) -> Iterator[tuple[int, Span]]:
    """(end of what came before, span) for sorted spans: the text between is what the spans leave uncovered."""
    pos = 0
    for span in spans:
        yield pos, span
        pos = max(pos, span.end)

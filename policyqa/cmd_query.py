"""`policyqa search` and `policyqa ask`: the server's operations in the terminal, as a table/text or as its JSON."""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import TYPE_CHECKING

from policyqa.errors import guarded

if TYPE_CHECKING:
    from pydantic import BaseModel

    from server.schemas import AskResponse, PassageOut, SearchResponse


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut and pad to `width` terminal cells: Chinese characters take two."""
    text = " ".join(text.split())
    if _width(text) <= width:
        return text + " " * (width - _width(text))
    out, used = [], 0
    for ch in text:
        if used + _width(ch) > width - 1:
            break
        out.append(ch)
        used += _width(ch)
    return "".join(out) + "…" + " " * (width - 1 - used)


def _passage_table(results: list[PassageOut]) -> str:
    columns = (("#", 3), ("score", 7), ("article", 24), ("districts", 12), ("section", 14), ("text", 44))
    lines = ["  ".join(_fit(name, width) for name, width in columns).rstrip()]
    for p in results:
        cells = (
            str(p.rank),
            f"{p.score:.4f}",
            p.title or p.article_id,
            "、".join(p.districts) or "-",
            p.section or "-",
            p.text + "".join(f"（又见：{r.title or r.article_id}）" for r in p.reprints),
        )
        lines.append("  ".join(_fit(cell, width) for cell, (_, width) in zip(cells, columns, strict=True)).rstrip())
    return "\n".join(lines)


def _print_search(response: SearchResponse) -> None:
    if not response.results:
        print(f"没有找到与「{response.query}」相关的段落。")
        return
    print(_passage_table(response.results))
    print(f"\n{len(response.results)} passage(s) in {response.took_ms:.1f} ms")


def _print_ask(response: AskResponse) -> None:
    if response.answer is None:
        print(response.message or "资料中未找到与该问题直接相关的内容。")
        if response.passages:
            print("\n相关段落：")
            print(_passage_table(response.passages))
        return
    if response.short_answer is not None:
        short = response.short_answer
        print(f"答：{short.text}[{short.citation}]\n")
    print(response.answer)
    if response.citations:
        print("\n引用：")
    for c in response.citations:
        when = f"，{c.date}" if c.date else ""
        print(f"[{c.n}] {c.title}（{c.source}{when}）— {c.shown_text}")


def _print_json(model: BaseModel) -> None:
    print(model.model_dump_json())


def _fail(message: str) -> int:
    print(f"policyqa: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from server.schemas import AskRequest, InputLimitError, SearchRequest
    from server.settings import ServerSettings

    server_settings = ServerSettings()
    # Validate before loading the model: a typo should fail in milliseconds, not after a model load.
    try:
        dates = {"date_from": args.date_from, "date_to": args.date_to, "include_undated": args.include_undated}
        if args.command == "search":
            request: SearchRequest | AskRequest = SearchRequest(
                query=args.query, k=args.k, district=args.district, **dates
            )
        else:
            request = AskRequest(question=args.question, k=args.k, district=args.district, **dates)
        request.check_limits(server_settings.max_query_chars, server_settings.max_k)
    except ValidationError as error:
        return _fail("; ".join(_describe(e) for e in error.errors()))
    except InputLimitError as error:
        return _fail(str(error))

    def work() -> int:
        from indexer.settings import IndexSettings
        from server.resources import load_resources
        from server.retrieval import UnknownDistrictError
        from server.service import run_ask, run_search

        index_settings = IndexSettings(**({"index_dir": args.index_dir} if args.index_dir else {}))
        resources = load_resources(index_settings, server_settings)
        try:
            if isinstance(request, SearchRequest):
                found = run_search(resources, request)
                if args.json:
                    _print_json(found)
                else:
                    _print_search(found)
            else:
                answered = run_ask(resources, request)
                if args.json:
                    _print_json(answered)
                else:
                    _print_ask(answered)
        except UnknownDistrictError as error:
            return _fail(str(error))
        return 0

    return guarded(work)


def _describe(error: dict) -> str:
    field = ".".join(str(p) for p in error.get("loc", ())) or "input"
    flags = {"k": "-k", "district": "--district", "date_from": "--date-from", "date_to": "--date-to"}
    flag = flags.get(field, field)
    return f"{flag}: {str(error.get('msg', 'is invalid')).removeprefix('Value error, ')}"

"""The web page in Debian's headless Chromium (driven by Playwright) against the real app on uvicorn, real model
and real index of the seed corpus: ask, read the cited answer, open the article at the highlighted sentence."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from indexer.embedding import Embedder

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# The real model answers in tens of milliseconds, but the first query and a busy 2-core machine can take seconds.
ANSWER_TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.model,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="chromium is not installed (apt-get install chromium)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(real_index_dir: Path, real_embedder: Embedder) -> Iterator[str]:
    """The FastAPI app on a real uvicorn server in a thread, over the session's real index and model."""
    import uvicorn

    from indexer.settings import IndexSettings
    from server.app import create_app
    from server.resources import load_resources
    from server.settings import ServerSettings

    server_settings = ServerSettings(llm_base_url=None)
    resources = load_resources(IndexSettings(index_dir=real_index_dir), server_settings, embedder=real_embedder)
    app = create_app(IndexSettings(index_dir=real_index_dir), server_settings, resources=resources)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 60 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh profile for every test
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1024, "height": 768},
            locale="zh-CN",
        )
        try:
            yield context
        finally:
            context.close()


def ask(page: Page, app_url: str, question: str, **dates: str | bool) -> dict[str, Any]:
    """Type the question (and a date range: date_from, date_to, include_undated), press 提问, and return the /ask
    response the page received."""
    page.goto(app_url + "/")
    page.fill("#question", question)
    for field in ("date_from", "date_to"):
        if field in dates:
            page.fill(f"#{field.replace('_', '-')}", str(dates[field]))
    if dates.get("include_undated"):
        page.check("#include-undated")
    with page.expect_response(lambda r: r.url.endswith("/ask"), timeout=ANSWER_TIMEOUT_MS) as response:
        page.click("#ask-button")
    assert response.value.status == 200
    return response.value.json()


def test_ask_read_the_citation_and_open_the_article_at_the_sentence(
    browser: BrowserContext, app_url: str, tmp_path: Path
) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    data = ask(page, app_url, "潼南的柠檬种植面积有多少？")
    assert not data["abstained"], data
    cited = data["citations"][0]

    page.wait_for_selector("#answer a.marker", timeout=ANSWER_TIMEOUT_MS)
    markers = page.locator("#answer .answer-text a.marker").all_inner_texts()
    assert markers[0] == "[1]" and len(markers) == len(data["citations"])
    answer_text = page.inner_text("#answer .answer-text")
    assert "32万亩" in answer_text
    # The citation card shows the passage with exactly the cited sentence highlighted.
    assert page.inner_text("#cite-1 mark") == cited["text"]
    # The short answer comes first, and is bold inside its highlighted sentence.
    short = data["short_answer"]
    assert short is not None and short["text"] == "32万亩", short
    assert page.inner_text("#short-answer").startswith(short["text"])
    first = page.evaluate("document.querySelector('#answer').firstElementChild.nextElementSibling.id")
    assert first == "short-answer", "the short answer is shown before the cited sentences"
    assert page.inner_text(f"#cite-{short['citation']} mark strong.short-span") == short["text"]
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)

    page.click("#answer a.marker >> nth=0")
    page.wait_for_function("document.getElementById('cite-1').getBoundingClientRect().top < window.innerHeight")

    page.click("#cite-1 a.open")
    page.wait_for_selector("#article-body mark", timeout=ANSWER_TIMEOUT_MS)
    assert page.url.split("#", 1)[1].startswith(f"/article/{cited['article_id']}")
    mark = page.locator("#article-body mark")
    assert mark.inner_text() == cited["text"]
    in_view = "m => { const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
    page.wait_for_function(f"({in_view})(document.querySelector('#article-body mark'))")
    assert page.evaluate("window.scrollY") > 0, "the sentence is deep in the article: the view scrolled to it"
    assert page.is_hidden("#ask-view")
    page.screenshot(path=str(tmp_path / "article.png"))

    page.click("#back")
    page.wait_for_selector("#answer", state="visible")
    assert page.is_hidden("#article-view")
    assert (tmp_path / "answer.png").stat().st_size > 0 and (tmp_path / "article.png").stat().st_size > 0


def test_a_question_without_an_answer_is_shown_plainly_with_related_passages(
    browser: BrowserContext, app_url: str, tmp_path: Path
) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    data = ask(page, app_url, "长寿区的柠檬种植面积有多少亩？")
    assert data["abstained"]
    page.wait_for_selector(".notfound", timeout=ANSWER_TIMEOUT_MS)
    assert data["message"] in page.inner_text(".notfound")
    assert page.locator("a.marker").count() == 0
    assert page.locator("#result article.card").count() == len(data["passages"]) > 0
    page.screenshot(path=str(tmp_path / "not-found.png"), full_page=True)


def test_the_date_range_control_filters_what_answers(browser: BrowserContext, app_url: str) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    # The seed articles give month and day but no year: outside any range, unless undated ones are asked for.
    data = ask(page, app_url, "潼南的柠檬种植面积有多少？", date_from="2030-01-01", date_to="2030-12-31")
    assert data["abstained"] and data["passages"] == []
    page.wait_for_selector(".notfound", timeout=ANSWER_TIMEOUT_MS)
    data = ask(page, app_url, "潼南的柠檬种植面积有多少？", date_from="2030-01-01", include_undated=True)
    assert not data["abstained"], data
    page.wait_for_selector("#cite-1", timeout=ANSWER_TIMEOUT_MS)
    cited = data["citations"][0]
    if cited["date"] == "--11-04":  # a date without a year is shown as such, in Chinese
        assert "11月4日" in page.inner_text("#cite-1 .head")


def test_api_errors_are_shown(browser: BrowserContext, app_url: str) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    page.goto(app_url + "/#/article/no-such-article?start=0&end=4")
    alert = page.wait_for_selector("#article-view .error", timeout=ANSWER_TIMEOUT_MS)
    assert "404" in alert.inner_text() and "no-such-article" in alert.inner_text()


CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', e => "
    "{ (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI); });"
)


def test_the_page_and_the_docs_run_under_their_content_security_policy(browser: BrowserContext, app_url: str) -> None:
    # Issue 15, item 8: the CSP is strict (no 'unsafe-inline'); the page's inline script and style pass by hash.
    page = browser.pages[0] if browser.pages else browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(CSP_WATCH)
    response = page.goto(app_url + "/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "'sha256-" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    data = ask(page, app_url, "潼南的柠檬种植面积有多少？")
    assert not data["abstained"]
    page.wait_for_selector("#answer a.marker", timeout=ANSWER_TIMEOUT_MS)  # the script ran and rendered
    assert page.evaluate("window.__csp || []") == []
    page.goto(app_url + "/docs")
    # Swagger UI's script ran and rendered (this bundle then says it cannot render OpenAPI 3.1: not a CSP matter).
    page.wait_for_selector("#swagger-ui .swagger-ui", state="attached", timeout=ANSWER_TIMEOUT_MS)
    assert page.evaluate("window.__csp || []") == []
    assert not [text for text in console if "Content Security Policy" in text], console

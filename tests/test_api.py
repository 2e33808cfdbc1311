"""The HTTP contract of issues 3 and 4 through FastAPI's TestClient, on a real index built with the fake embedder.

The index holds the seed corpus plus two crafted articles about districts the seed corpus does not cover, so the
district filter has an unambiguous answer. Retrieval, answering, FAISS and BM25 are real; only the model is faked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import STATIC_DIR, create_app
from server.resources import Resources
from server.settings import ServerSettings
from tests.materialize import materialize
from tests.samples import sample_resources

# Every bad input check_api.py sends, plus the ones a careless client sends most.
BAD_SEARCH_BODIES = [
    ({"query": ""}, "empty query"),
    ({"query": "   \n\t"}, "blank query"),
    ({"query": "潼" * 600}, "600-char query"),
    ({"query": "潼南", "k": 0}, "k=0"),
    ({"query": "潼南", "k": 51}, "k=51"),
    ({"query": "潼南", "k": -3}, "negative k"),
    ({"query": "潼南", "k": "5"}, "k as a string"),
    ({"query": "潼南", "k": True}, "k as a boolean"),
    ({"query": "潼南", "k": 2.5}, "fractional k"),
    ({}, "no query"),
    ({"query": 5}, "query not a string"),
    ({"query": None}, "null query"),
    ({"query": ["潼南"]}, "query as a list"),
    ({"query": "潼南", "district": "不存在区"}, "unknown district"),
    ({"query": "潼南", "district": 5}, "district not a string"),
    ({"query": "潼南", "top_k": 3}, "misspelt field"),
    (["潼南"], "body is a list"),
    ("潼南", "body is a string"),
]
BAD_ASK_BODIES = [
    ({"question": ""}, "empty question"),
    ({"question": " "}, "blank question"),
    ({"question": "潼" * 600}, "600-char question"),
    ({"question": "潼南", "k": 0}, "k=0"),
    ({"question": "潼南", "k": 51}, "k=51"),
    ({"query": "潼南"}, "query instead of question"),
    ({"question": "潼南", "district": "不存在区"}, "unknown district"),
]


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Resources:
    return sample_resources(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def client(resources: Resources) -> Iterator[TestClient]:
    with TestClient(create_app(resources=resources)) as test_client:
        yield test_client


def article_text(client: TestClient, article_id: str) -> str:
    response = client.get(f"/articles/{article_id}")
    assert response.status_code == 200, response.text
    return response.json()["text"]


def assert_error(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body["error"], str) and body["error"], body
    assert "detail" in body
    return body


def test_healthz_reports_the_loaded_index(client: TestClient, resources: Resources) -> None:
    body = client.get("/healthz").json()
    assert body == {
        "status": "ok",
        "articles": resources.index.article_count,
        "chunks": resources.index.chunk_count,
        "model": "fake/bigram-hash",
        "generation": resources.index.generation,
        "published": resources.index.manifest.created,
        "segments": len(resources.index.segments),
    }
    assert body["articles"] == 7 and body["chunks"] > 50


def test_search_results_are_verbatim_spans_of_their_articles(client: TestClient) -> None:
    response = client.post("/search", json={"query": "城口老腊肉年产量有多少？", "k": 8})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "城口老腊肉年产量有多少？"
    assert isinstance(body["took_ms"], float) and body["took_ms"] > 0
    results = body["results"]
    assert [p["rank"] for p in results] == list(range(1, len(results) + 1))
    assert "1.8万吨" in results[0]["text"]
    assert results[0]["title"] == "城口老腊肉走出大巴山" and results[0]["date"] == "2023-12-01"
    texts = {}
    for passage in results:
        if passage["article_id"] not in texts:
            texts[passage["article_id"]] = article_text(client, passage["article_id"])
        assert texts[passage["article_id"]][passage["start"] : passage["end"]] == passage["text"]
        assert passage["chunk_id"] == f"{passage['article_id']}:{passage['start']}-{passage['end']}"


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_search_returns_k_results(client: TestClient, resources: Resources, k: int) -> None:
    results = client.post("/search", json={"query": "重庆区县产业发展", "k": k}).json()["results"]
    assert len(results) == min(k, resources.index.chunk_count)


def test_default_k_is_ten(client: TestClient) -> None:
    assert len(client.post("/search", json={"query": "产业发展"}).json()["results"]) == 10


def test_query_whitespace_is_stripped(client: TestClient) -> None:
    assert client.post("/search", json={"query": "  城口腊肉 \n"}).json()["query"] == "城口腊肉"


@pytest.mark.parametrize(("district", "query"), [("城口", "产业发展"), ("潼南区", "柠檬"), ("石柱县", "种植面积")])
def test_district_filter_returns_only_passages_tagged_with_it(
    client: TestClient, resources: Resources, district: str, query: str
) -> None:
    canonical = resources.gazetteer.canonical(district)
    results = client.post("/search", json={"query": query, "k": 20, "district": district}).json()["results"]
    assert results
    assert all(canonical in p["districts"] for p in results), [p["districts"] for p in results]


def test_known_district_without_passages_gives_an_empty_list(client: TestClient, resources: Resources) -> None:
    tagged = {d for chunk in materialize(resources.index).chunks.values() for d in chunk.districts}
    untagged = next(name for name in resources.gazetteer.names() if name not in tagged)
    response = client.post("/search", json={"query": "产业发展", "district": untagged})
    assert response.status_code == 200 and response.json()["results"] == []


def test_blank_district_means_no_filter(client: TestClient) -> None:
    unfiltered = client.post("/search", json={"query": "柠檬产业"}).json()["results"]
    blank = client.post("/search", json={"query": "柠檬产业", "district": ""}).json()["results"]
    assert [p["chunk_id"] for p in blank] == [p["chunk_id"] for p in unfiltered]


def test_unknown_district_is_a_422_naming_it(client: TestClient) -> None:
    body = assert_error(client.post("/search", json={"query": "潼南", "district": "不存在区"}), 422)
    assert "不存在区" in body["error"]


@pytest.mark.parametrize(("body", "what"), BAD_SEARCH_BODIES, ids=[w for _, w in BAD_SEARCH_BODIES])
def test_bad_search_input_is_a_4xx_json_error(client: TestClient, body: Any, what: str) -> None:
    assert_error(client.post("/search", json=body), 422)


@pytest.mark.parametrize(("body", "what"), BAD_ASK_BODIES, ids=[w for _, w in BAD_ASK_BODIES])
def test_bad_ask_input_is_a_4xx_json_error(client: TestClient, body: Any, what: str) -> None:
    assert_error(client.post("/ask", json=body), 422)


def test_validation_errors_name_the_field(client: TestClient) -> None:
    body = assert_error(client.post("/search", json={"query": "  ", "k": 51}), 422)
    fields = {item["field"] for item in body["detail"]}
    assert fields == {"query", "k"}
    assert "query" in body["error"] and "k" in body["error"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"query": "\xe6\xbd', b"", b'{"query": "a",}'])
def test_malformed_json_is_a_400(client: TestClient, raw: bytes) -> None:
    response = client.post("/search", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, 422)


def test_body_that_is_not_json_at_all_is_a_4xx(client: TestClient) -> None:
    response = client.post("/search", content="query=潼南".encode(), headers={"Content-Type": "text/plain"})
    assert_error(response, 400, 415, 422)


def test_runtime_limits_from_server_settings_apply(resources: Resources) -> None:
    app = create_app(server_settings=ServerSettings(max_query_chars=10, max_k=5), resources=resources)
    with TestClient(app) as strict:
        assert strict.post("/search", json={"query": "潼" * 10, "k": 5}).status_code == 200
        assert "10" in assert_error(strict.post("/search", json={"query": "潼" * 11}), 422)["error"]
        assert assert_error(strict.post("/ask", json={"question": "潼南", "k": 6}), 422)["detail"][0]["field"] == "k"


PATH_LIKE_IDS = ["/articles/..%2F..%2Fetc%2Fpasswd", "/articles/../../etc/passwd", "/articles/no-such", "/articles/"]


@pytest.mark.parametrize("path", PATH_LIKE_IDS)
def test_unknown_or_path_like_article_id_is_a_json_404(client: TestClient, path: str) -> None:
    assert_error(client.get(path), 404)


def test_unknown_route_and_wrong_method_are_json(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404)
    assert_error(client.get("/search"), 405)


def test_article_endpoint_returns_the_article(client: TestClient, resources: Resources) -> None:
    article = next(a for a in materialize(resources.index).articles.values() if a.title == "石柱黄连产业链加快延伸")
    body = client.get(f"/articles/{article.article_id}").json()
    assert body == {
        "article_id": article.article_id,
        "title": article.title,
        "date": "2023-11-20",
        "date_precision": "day",
        "source": "测试日报",
        "districts": list(article.districts),
        "text": article.text,
    }


@pytest.mark.parametrize("query", ["潼南的柠檬种植面积有多少？", "綦江 电解铝", "涪陵有哪些千亿级主导产业集群？", "产"])
def test_server_ranks_exactly_like_the_retriever(client: TestClient, resources: Resources, query: str) -> None:
    served = client.post("/search", json={"query": query, "k": 10}).json()["results"]
    direct = resources.retriever.search(query, k=10)
    assert [(p["chunk_id"], p["score"]) for p in served] == [(p.chunk.chunk_id, p.score) for p in direct]


def test_ask_answers_with_verbatim_citations(client: TestClient) -> None:
    response = client.post("/ask", json={"question": "石柱县黄连种植面积有多少？"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["question"] == "石柱县黄连种植面积有多少？"
    assert body["abstained"] == (body["answer"] is None)
    assert isinstance(body["took_ms"], float) and body["took_ms"] > 0
    assert 0 < len(body["passages"]) <= 5
    for item in [*body["citations"], *body["passages"]]:
        assert article_text(client, item["article_id"])[item["start"] : item["end"]] == item["text"]
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]
        assert set(citation) == {
            *("n", "article_id", "title", "date", "date_precision", "source", "text", "shown_text", "start", "end"),
            "score",
        }
        assert citation["shown_text"] == citation["text"]  # no 今年 in it


@pytest.mark.parametrize(
    "question", ["石柱县黄连种植面积有多少？", "南岸区的化工园区有多少家企业？", "火星上有几座城市？", "城口"]
)
def test_ask_abstains_exactly_when_there_is_no_answer(client: TestClient, question: str) -> None:
    body = client.post("/ask", json={"question": question, "k": 3}).json()
    assert body["abstained"] == (body["answer"] is None)
    assert (body["message"] is not None) if body["abstained"] else body["citations"]


def test_concurrent_requests_get_the_same_answers_as_sequential_ones(client: TestClient) -> None:
    queries = ["潼南柠檬", "綦江铝产业", "涪陵榨菜", "城口腊肉", "石柱黄连几亩？", "璧山汽车", "渝北临空", "荣昌生猪"]
    requests = [("/search", {"query": q, "k": 5}) for q in queries] + [("/ask", {"question": q}) for q in queries]

    def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body).json()
        response.pop("took_ms")
        return response

    expected = [call(path, body) for path, body in requests]
    got: dict[int, Any] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for _ in range(3):
                got[index] = call(*requests[index])
        except BaseException as error:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and [got[i] for i in range(len(requests))] == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.one_of(st.text(max_size=40), st.text(alphabet="潼南区柠檬？。 \n\t0-9%[]{}\\\"'<>", max_size=40)),
    district=st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["潼南", "重庆市潼南区", "  綦江区 "])),
    k=st.integers(min_value=-2, max_value=60),
)
def test_no_input_produces_a_server_error(client: TestClient, query: str, district: str | None, k: int) -> None:
    for path, field in (("/search", "query"), ("/ask", "question")):
        response = client.post(path, json={field: query, "k": k, "district": district})
        assert response.status_code in (200, 422), response.text
        assert isinstance(response.json(), dict)


def test_each_request_is_logged_with_status_and_latency(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="policyqa.server"):
        client.post("/search", json={"query": "潼南"})
        client.post("/search", json={"query": ""})
    lines = [r.getMessage() for r in caplog.records if r.name == "policyqa.server"]
    assert any(line.startswith("POST /search 200 ") and line.endswith(" ms") for line in lines), lines
    assert any(line.startswith("POST /search 422 ") for line in lines), lines


def test_a_genuine_bug_is_a_json_500_not_a_traceback(resources: Resources) -> None:
    class FakeBrokenRetriever:
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("deliberate bug")

    broken = Resources(resources.index, resources.embedder, resources.gazetteer, FakeBrokenRetriever(), None)  # type: ignore[arg-type]
    # Not entered as a context manager: the lifespan's warm-up query would hit the bug before any request.
    broken_client = TestClient(create_app(resources=broken), raise_server_exceptions=False)
    body = assert_error(broken_client.post("/search", json={"query": "潼南"}), 500)
    assert "deliberate" not in json.dumps(body)


def test_every_api_field_is_documented(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    ours = ["SearchRequest", "AskRequest", "PassageOut", "SearchResponse", "CitationOut", "AskResponse", "ArticleOut"]
    for name in [*ours, "HealthOut", "ErrorOut"]:
        for field, spec in schemas[name]["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
    assert schemas["SearchRequest"]["properties"]["k"]["maximum"] == 50


def test_root_serves_the_page_when_it_is_installed(client: TestClient) -> None:
    response = client.get("/")
    if (STATIC_DIR / "index.html").is_file():
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    else:
        assert_error(response, 404)


def test_docs_render_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/docs-assets/swagger-ui-bundle.js" in page.text
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text
    assert client.get("/openapi.json").json()["paths"]["/search"]

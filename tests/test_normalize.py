"""Issue 15, items 1, 6 and 7: input normalisation, lone surrogates, and the OpenAPI schema agreeing with the
validators. Through the TestClient on the fake-embedder index of test_api."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from indexer.normalize import VISIBLE_CHAR_PATTERN, InvalidTextError, clean, fold
from server.app import create_app
from server.resources import Resources
from server.schemas import district_forms
from tests.samples import sample_resources


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    resources: Resources = sample_resources(tmp_path_factory.mktemp("norm"))
    with TestClient(create_app(resources=resources)) as test_client:
        yield test_client


def test_fold_removes_invisible_characters_and_folds_traditional_and_full_width() -> None:
    assert fold("潼\u200b南\u200d柠\ufeff檬") == "潼南柠檬"
    assert fold("潼南的檸檬產業一年產值多少？") == "潼南的柠檬产业一年产值多少？"
    assert fold("２０２３年ＧＤＰ\u3000增长") == "2023年GDP 增长"
    assert fold("，。？％") == "，。？％"  # full-width punctuation stays: the sentence splitter looks for it
    assert fold("a\ud800b") == "ab"  # indexing never raises: surrogates are dropped
    assert clean("潼\u200b南\x07") == "潼南"
    with pytest.raises(InvalidTextError, match="U\\+D800"):
        clean("潼南\ud800")


@pytest.mark.parametrize("text", ["\ud800", "潼南\udfff柠檬", "\udc00\ud800"])
@pytest.mark.parametrize(("route", "field"), [("/search", "query"), ("/ask", "question")])
def test_lone_surrogates_get_a_422_and_the_connection_survives(
    client: TestClient, route: str, field: str, text: str
) -> None:
    # json.dumps escapes the surrogate as \\ud800: valid JSON that Python parses back into a lone surrogate.
    body = f'{{"{field}": "{text.encode("unicode_escape").decode()}"}}'.encode()
    response = client.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "surrogate" in response.json()["error"]
    assert client.post(route, json={field: "潼南柠檬"}).status_code == 200


def test_zero_width_and_traditional_queries_retrieve_like_the_plain_one(client: TestClient) -> None:
    plain = client.post("/search", json={"query": "潼南柠檬产业产值", "k": 5}).json()["results"]
    for variant in ["潼\u200b南\u200d柠\ufeff檬产业产值", "潼南檸檬產業產值"]:
        found = client.post("/search", json={"query": variant, "k": 5}).json()["results"]
        assert [r["chunk_id"] for r in found] == [r["chunk_id"] for r in plain], variant


def test_invisible_only_query_is_rejected(client: TestClient) -> None:
    response = client.post("/search", json={"query": "\u200b\u200d \ufeff"})
    assert response.status_code == 422 and "visible" in response.json()["error"]
    assert re.search(VISIBLE_CHAR_PATTERN, "\u200b\u200d \ufeff") is None
    assert re.search(VISIBLE_CHAR_PATTERN, " 潼 ") is not None


def test_k_as_integral_float_is_accepted_as_the_schema_says(client: TestClient) -> None:
    response = client.post("/search", json={"query": "潼南", "k": 4.0})
    assert response.status_code == 200 and len(response.json()["results"]) <= 4
    assert client.post("/search", json={"query": "潼南", "k": 4.5}).status_code == 422
    assert client.post("/search", json={"query": "潼南", "k": True}).status_code == 422


def test_max_length_counts_the_string_as_sent(client: TestClient) -> None:
    response = client.post("/search", json={"query": " " * 500 + "潼" * 500})
    assert response.status_code == 422 and "1000 characters" in response.json()["error"]
    assert client.post("/search", json={"query": " " * 10 + "潼" * 490}).status_code == 200


def test_district_schema_is_the_enum_the_validator_accepts(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("SearchRequest", "AskRequest"):
        branches = schema[name]["properties"]["district"]["anyOf"]
        enum = next(b["enum"] for b in branches if "enum" in b)
        assert set(enum) == {"", *district_forms()} and "潼南" in enum and "潼南区" in enum
        query = schema[name]["properties"]["query" if name == "SearchRequest" else "question"]
        assert query["pattern"] == VISIBLE_CHAR_PATTERN and query["maxLength"] == 500
    for district in ["潼南", "潼南区", "重庆市潼南区", "", None]:
        assert client.post("/search", json={"query": "柠檬", "district": district}).status_code == 200, district
    for district in ["不存在区", " 潼南", "潼南 "]:
        assert client.post("/search", json={"query": "柠檬", "district": district}).status_code == 422, district


def test_bm25_tokens_are_folded_alike_at_indexing_and_query_time() -> None:
    from indexer.districts import Gazetteer
    from indexer.sparse import SparseTokenizer, load_stopwords

    gazetteer = Gazetteer.load()
    tokenizer = SparseTokenizer(gazetteer.tokenizer, load_stopwords())
    plain = tokenizer.tokenize("潼南柠檬产业产值２０２３年")
    assert plain == tokenizer.tokenize("潼南檸檬產業產值2023年")
    assert plain == tokenizer.tokenize("潼\u200b南柠\u200d檬产业产值2023年")

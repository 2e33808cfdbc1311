"""The gazetteer: canonical names, aliases, and district tagging that is not fooled by look-alike words."""

from __future__ import annotations

import time
from pathlib import Path

import jieba
import pytest

import indexer.districts as districts_module
from indexer.districts import BLOCKERS, Gazetteer, make_tokenizer, parse_gazetteer

ROOT = Path(__file__).parents[1]
SHARED_TSV = Path(__file__).parents[2] / "shared" / "gazetteer" / "chongqing.tsv"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load()


def test_package_data_is_the_shared_gazetteer() -> None:
    if not SHARED_TSV.exists():
        pytest.skip("../shared is not checked out beside the project")
    assert (ROOT / "indexer" / "data" / "chongqing.tsv").read_bytes() == SHARED_TSV.read_bytes()


def test_names_are_the_38_divisions_and_4_zones(gaz: Gazetteer) -> None:
    names = gaz.names()
    assert len(names) == 42 == len(set(names))
    assert sum(d.kind == "zone" for d in gaz.districts) == 4
    assert {"潼南区", "忠县", "石柱土家族自治县", "两江新区", "重庆高新区", "双桥经济技术开发区"} <= set(names)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("潼南", "潼南区"),
        ("潼南区", "潼南区"),
        (" 璧山 ", "璧山区"),
        ("开县", "开州区"),
        ("梁平县", "梁平区"),
        ("西部科学城", "重庆高新区"),
        ("西部（重庆）科学城", "重庆高新区"),
        ("重庆高新区", "重庆高新区"),
        ("重庆市潼南区", "潼南区"),
        ("石柱", "石柱土家族自治县"),
        ("万盛经开区", "万盛经济技术开发区"),
        ("忠县", "忠县"),
        ("重庆", None),
        ("成都", None),
        ("", None),
    ],
)
def test_canonical(gaz: Gazetteer, given: str, expected: str | None) -> None:
    assert gaz.canonical(given) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("璧山 新质生产力汇聚产业发展新势能", ("璧山区",)),
        ("合川至永川段，再回合川区", ("合川区", "永川区")),
        ("重庆长寿港", ("长寿区",)),
        ("江北区和渝北区", ("江北区", "渝北区")),
        ("在江北嘴金融城", ("江北区",)),
        ("两江新区", ("两江新区",)),
        ("两江国际商务中心", ("两江新区",)),
        ("双桥经开区", ("双桥经济技术开发区",)),
        ("万盛经开区和万盛", ("万盛经济技术开发区",)),
        ("忠县", ("忠县",)),
        ("开县人", ("开州区",)),
        ("大足石刻", ("大足区",)),
        ("与两江新区、重庆高新区构建“一城三区”", ("两江新区", "重庆高新区")),
        ("璧山 助力重庆科学城功能完善", ("璧山区", "重庆高新区")),
    ],
)
def test_find_names_in_order_of_first_mention(gaz: Gazetteer, text: str, expected: tuple[str, ...]) -> None:
    assert gaz.find(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("江北机场", ()),  # lies in 渝北
        ("重庆江北国际机场", ()),
        ("长寿命电池", ()),
        ("延长寿命", ()),
        ("健康长寿", ()),
        ("潼南双桥电站枢纽", ("潼南区",)),  # a caption in 000_: a power station, not 双桥经开区
        ("优化“两江两岸三轴五组团”空间布局", ()),  # 潼南's two rivers, not 两江新区
        ("长江南岸", ()),
        ("江南岸边", ()),
        ("召开县委常委会", ()),
        ("渝西八区：以“三个作用”为引领", ()),
    ],
)
def test_find_ignores_look_alikes(gaz: Gazetteer, text: str, expected: tuple[str, ...]) -> None:
    assert gaz.find(text) == expected


def test_find_on_seed_section_headings(gaz: Gazetteer) -> None:
    text = (ROOT / "corpus" / "003_115a21c0de3ff03d.txt").read_text(encoding="utf-8")
    heads = [line for line in text.splitlines() if line[:2] in {"璧山", "铜梁", "大足", "合川", "江津", "荣昌", "潼南"}]
    found = [gaz.find(h) for h in heads if " " in h[:3]]
    assert found == [("璧山区",), ("铜梁区",), ("大足区",), ("合川区",), ("江津区",), ("荣昌区",), ("潼南区",)]


def test_tokenizer_is_new_and_leaves_global_jieba_alone(gaz: Gazetteer) -> None:
    first = make_tokenizer(gaz)
    assert first is not gaz.tokenizer and gaz.tokenizer is not None and first.FREQ is not gaz.tokenizer.FREQ
    assert first.lcut("璧山区融媒体中心", HMM=False)[0] == "璧山区"
    assert "江北机场" in first.lcut("重庆江北机场", HMM=False)
    assert not jieba.dt.initialized or "双桥电站" not in jieba.dt.FREQ


def test_user_dict_words_cover_every_form_once(gaz: Gazetteer) -> None:
    words = gaz.user_dict_words()
    assert len(words) == len(set(words))
    forms = {f for d in gaz.districts for f in d.forms}
    assert forms | set(BLOCKERS) == set(words)
    assert {"开县", "西部（重庆）科学城", "忠县"} <= forms


def test_find_reuses_the_held_tokenizer(gaz: Gazetteer, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_new_tokenizers(*args: object, **kwargs: object) -> None:
        raise AssertionError("find must not build a jieba tokenizer")

    monkeypatch.setattr(districts_module.jieba, "Tokenizer", no_new_tokenizers)
    started = time.perf_counter()
    for _ in range(200):
        assert gaz.find("江北区与长寿、南岸、两江新区签约") == ("江北区", "长寿区", "南岸区", "两江新区")
    assert time.perf_counter() - started < 1.0


def test_load_from_path_without_tokenizer(tmp_path: Path) -> None:
    tsv = tmp_path / "tiny.tsv"
    tsv.write_text("# comment\n甲乙区\tdistrict\t甲乙,甲乙县\n丙新区\tzone\t\n", encoding="utf-8")
    tiny = Gazetteer.load(tsv, with_tokenizer=False)
    assert tiny.names() == ("甲乙区", "丙新区")
    assert tiny.canonical("甲乙县") == "甲乙区"
    assert tiny.find("丙新区和甲乙县") == ("丙新区", "甲乙区")  # names longer than two characters need no jieba
    with pytest.raises(ValueError, match="without a tokenizer"):
        tiny.find("甲乙")


def test_parse_rejects_rows_without_kind() -> None:
    with pytest.raises(ValueError, match="needs a name and a kind"):
        parse_gazetteer("潼南区\n")


def _find_by_whole_text_cut(gaz: Gazetteer, text: str) -> tuple[str, ...]:
    """The reference: short forms checked against one jieba cut of the whole text."""
    assert gaz.tokenizer is not None
    starts, offset = set(), 0
    for token in gaz.tokenizer.cut(text, HMM=False):
        if len(token) <= districts_module.SHORT_FORM_MAX and token in gaz.lookup:
            starts.add(offset)
        offset += len(token)
    found: list[str] = []
    pos = 0
    while match := gaz.pattern.search(text, pos):
        if len(match.group()) <= districts_module.SHORT_FORM_MAX and match.start() not in starts:
            pos = match.start() + 1
            continue
        pos = match.end()
        if gaz.lookup[match.group()] not in found:
            found.append(gaz.lookup[match.group()])
    return tuple(found)


@pytest.mark.parametrize(
    "text",
    [
        "潼南柠檬，荣昌生猪，江北嘴金融城和巴南的物流园。",
        "位于江北区北路的企业与南岸、渝北一起发展，万州港2023年吞吐量增长5%。",
        "永川-江津快速通道；大足石刻（大足区）与綦江农民版画",
        "the 2024 Tongnan 潼南lemon 节在潼南举办，潼南区柠檬产业年产值达75亿元",
    ],
)
def test_find_cutting_only_the_block_of_a_match_agrees_with_a_whole_text_cut(gaz: Gazetteer, text: str) -> None:
    assert gaz.find(text) == _find_by_whole_text_cut(gaz, text)

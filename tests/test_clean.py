"""Layout repair, headings and excluded spans, on the real seed scans and on crafted text."""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.clean import CleanedText, clean_text
from indexer.sources import split_front_matter

CORPUS = Path(__file__).parents[1] / "corpus"
SEEDS = (
    "000_15adcedcf932199a",
    "001_e147faaa81754076",
    "002_39a0fae4dbddedf2",
    "003_115a21c0de3ff03d",
    "004_1b4fb7c91f6e36b8",
)


@cache
def raw(name: str) -> str:
    split = split_front_matter((CORPUS / f"{name}.txt").read_text(encoding="utf-8"))
    assert not isinstance(split, str), split
    return split[1]


@cache
def cleaned(name: str) -> CleanedText:
    return clean_text(raw(name))


def headings(c: CleanedText) -> list[str]:
    return [c.text[s.start : s.end] for s in c.headings]


def excluded(c: CleanedText) -> list[str]:
    return [c.text[s.start : s.end] for s in c.excluded]


def no_space(s: str) -> str:
    return re.sub(r"\s", "", s)


@pytest.mark.parametrize("name", SEEDS)
def test_only_whitespace_changes(name: str) -> None:
    c = cleaned(name)
    assert no_space(c.text) == no_space(raw(name))
    assert "\n\n\n" not in c.text and " \n" not in c.text and c.text == c.text.strip()


@pytest.mark.parametrize("name", SEEDS)
def test_spans_are_sorted_disjoint_and_trimmed(name: str) -> None:
    c = cleaned(name)
    spans = sorted([*c.headings, *c.excluded], key=lambda s: s.start)
    for a, b in pairwise(spans):
        assert a.end <= b.start
    for s in spans:
        piece = c.text[s.start : s.end]
        assert piece and piece == piece.strip()
    for s in c.headings:
        assert "\n" not in c.text[s.start : s.end]


@pytest.mark.parametrize(
    ("name", "joined"),
    [
        ("000_15adcedcf932199a", "第四步是分离出柠檬果肉，经过榨汁可生产NFC(非浓缩还原汁)鲜榨果汁饮料。"),
        ("000_15adcedcf932199a", "潼南充分发挥渝西唯一可以布局化工产业的承载优势"),
        ("000_15adcedcf932199a", "同行企业与马来西亚、越南等多家企业签订重点项目15个。"),
        ("001_e147faaa81754076", "旗能铝业提供的铝液被加工成汽车底盘"),
        ("001_e147faaa81754076", "固晶机监控屏上实时显示着操作台上的自动化生产过程"),
        ("002_39a0fae4dbddedf2", "持续扩规模强聚集，主动承接产业转移"),
        ("004_1b4fb7c91f6e36b8", "“我们村在4公里多的公路两旁，新栽种了香樟和银杏树"),
        ("004_1b4fb7c91f6e36b8", "湖光山色，群鸟翩跹，山、湖、城相互交融。"),
        ("004_1b4fb7c91f6e36b8", "“我们一季度开展一次联合巡查，如果巡查中发现问题"),
    ],
)
def test_sentences_broken_across_blank_lines_are_joined(name: str, joined: str) -> None:
    assert joined not in raw(name)
    assert joined in cleaned(name).text


def test_the_nfc_break_exactly() -> None:
    assert "榨汁可\n\n生产NFC" in raw("000_15adcedcf932199a")
    text = cleaned("000_15adcedcf932199a").text
    assert "榨汁可生产NFC" in text and "榨汁可\n" not in text


def test_paragraphs_that_end_properly_stay_apart() -> None:
    text = cleaned("000_15adcedcf932199a").text
    assert "创造了多个“第一”；\n\n如重庆民丰化工" in text
    assert "连放大招：\n\n2月，签约" in cleaned("002_39a0fae4dbddedf2").text  # a colon introduces a list
    # 002_ continues "涪陵靠的是新|型工业化" after a sidebar: the heading in between keeps them apart.
    assert "涪陵靠的是新\n\n声音\n\n“解决区域发展不平衡" in cleaned("002_39a0fae4dbddedf2").text


EXPECTED_HEADINGS = {
    "000_15adcedcf932199a": [
        "全力打造成渝地区中部崛起增长极、成渝腹心高水平开放桥头堡",
        "潼南 谱写“一极一堡、两区两城两地”高质量发展新篇章",
        "核心提示",
        "因地制宜实施“涪江奔腾”计划建设“制造强区” 发展壮大“3+3+N”产业集群",
        "建设中国农业现代化示范区 打造“1高地、3大产业、4大平台、4张名片”",
        "建设“世界宽谷·田园城市” 走“小而美、小而特、小而精、小而雅”精美城市路子",
        "以全面深化改革扩大高水平开放 打造成渝腹心高水平开放桥头堡",
        "打造数字经济新兴高地 加快培育形成新质生产力",
    ],
    "003_115a21c0de3ff03d": [
        "渝西八区：以“三个作用”为引领 书写高质量发展答卷",
        "璧山 新质生产力汇聚产业发展新势能",
        "铜梁 数智赋能 激活企业转型升级新引擎",
        "大足 涉险滩闯难关开辟新径破难题",
        "合川 高质量打造西部陆海新通道重庆北向枢纽",
        "江津 奋勇争先挑大梁 全力建设现代化重庆枢纽之城",
        "荣昌 重点项目从“纸上蓝图”变“现实图景”",
        "潼南 深入实施“潼越山海”计划 不断拓展开放合作新空间",
        "永川 书写高质量发展答卷的“永川答卷”",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_HEADINGS))
def test_all_headings_of_000_and_003(name: str) -> None:
    assert headings(cleaned(name)) == EXPECTED_HEADINGS[name]


def test_headings_with_a_comma_brackets_or_short_words() -> None:
    found = headings(cleaned("001_e147faaa81754076"))
    assert {"产业升级", "城市提质", "品牌做响", "游客实现“一部手机游綦江”"} <= set(found)
    assert "电解铝产能占全市65%，围绕优势形成轻合金材料产业集群" in found
    assert "33家企业实现智能化改造，以数字化变革引领制造业系统性重塑" in found
    found = headings(cleaned("002_39a0fae4dbddedf2"))
    assert {"【对话新型工业化", "涪陵工业从“新”再出发", "数读", "声音", "制造业大区", "亟待新旧动能转化"} <= set(found)
    assert "今年以来，涪陵“制造业立区”连放大招：" not in found
    assert "黔江 水乡春浓古镇美" in headings(cleaned("004_1b4fb7c91f6e36b8"))


def test_captions_and_bylines_of_000_and_004() -> None:
    assert excluded(cleaned("000_15adcedcf932199a")) == [
        "潼南双桥电站枢纽",
        "马来西亚潼南柠檬交易(体验)中心正式运行。",
        "稼泰生物科技世界首台干湿共用果胶生产线。",
        "重庆日报记者 王静 刘廷 图片由区委宣传部提供",
    ]
    assert excluded(cleaned("004_1b4fb7c91f6e36b8")) == [
        "渝北区融媒体中心 陆世玲",
        "璧山区融媒体中心 谢捷",
        "巴南区融媒体中心 伍凤秋",  # trails the paragraph's last sentence
        "江津区融媒体中心 黄柏添",
        "九龙坡区融媒体中心 江秋悦",
        "黔江区融媒体中心 摄/杨敏",  # the long caption above it stays text: it is the section's only content
        "潼南区融媒体中心 罗列 刘锦",
        "万州区融媒体中心 冯浪涛 熊黎云",
        "疫情之下，璧山不少工业企业订单逆势上扬。摄/曾清龙",
        "巴南区南彭贸易物流基地京东仓库。(巴南区融媒体中心供图)",
        "渝北仙桃数据谷。摄/任天驹",
    ]


def test_captions_and_bylines_of_001_002_003() -> None:
    found = excluded(cleaned("001_e147faaa81754076"))
    assert found.count("□新重庆-重庆日报记者 罗芸") == 2
    assert {"绿水青山环抱的綦江高新区桥河园区。", "本版图片由特约摄影钟志兵摄于8月15日/视觉重庆"} <= set(found)
    assert "绿色綦江河如飘带，环绕着綦江高新区北渡铝产业园。" not in found  # a lead sentence, not a caption
    assert excluded(cleaned("002_39a0fae4dbddedf2")) == [
        "重庆华峰新材料产业园。",
        "□本报记者 左黎韵",
        "涪陵慧谷湖科创小镇部分楼栋已完成建设。",
        "（本版图片均由涪陵区委宣传部供图）",
    ]
    captions, bylines = excluded(cleaned("003_115a21c0de3ff03d"))
    assert captions.startswith("①璧山：威致科技生产线") and captions.count("\n") == 7
    assert bylines.startswith("璧山区融媒体中心记者 曾清龙") and bylines.endswith("渝西都市报记者 张玲文 陈科俊图")


def test_body_mentions_of_reporters_are_not_bylines() -> None:
    text = cleaned("001_e147faaa81754076")
    assert not any("提问" in piece or "告诉记者" in piece for piece in excluded(text))


def test_crafted_layout() -> None:
    long = "第二段比图片说明长得多，" * 6 + "说完了。"
    c = clean_text(f"\r\n\r\n标题在这里  \r\n\r\n第一段说到一半可\r\n\r\n接着说完。\r\n\r\n\r\n\r\n{long}\n")
    assert c.text == f"标题在这里\n\n第一段说到一半可接着说完。\n\n{long}"
    assert headings(c) == ["标题在这里"]
    assert excluded(c) == []
    # The same short paragraph after an image gap is a caption.
    assert excluded(clean_text("第一段。\n\n\n\n第二段。")) == ["第二段。"]


def test_crafted_captions_and_bylines() -> None:
    c = clean_text(
        "区里开了会。大家都来了。\n\n\n\n会场一角\n\n新的小标题\n\n正文说了很多事情。\n\n"
        "结尾一句话。某某区融媒体中心 张三\n\n本报记者 李四"
    )
    assert headings(c) == ["新的小标题"]
    assert excluded(c) == ["会场一角", "某某区融媒体中心 张三", "本报记者 李四"]


def test_a_short_sentence_between_headings_is_a_caption_only_in_the_headline() -> None:
    c = clean_text("大标题\n\n图片说明。\n\n副标题\n\n正文第一句。\n\n小标题\n\n短句。\n\n另一个标题\n\n正文。")
    assert excluded(c) == ["图片说明。"]
    assert headings(c) == ["大标题", "副标题", "小标题", "另一个标题"]


def test_a_heading_after_a_gap_heads_its_topic() -> None:
    c = clean_text("前面的话说完了。\n\n\n\n柠檬产业\n\n柠檬产业发展很快，产值很高。")
    assert headings(c) == ["柠檬产业"] and excluded(c) == []


def test_a_trailing_short_line_is_not_a_heading() -> None:
    c = clean_text("正文第一段。\n\n完")
    assert headings(c) == [] and c.text == "正文第一段。\n\n完"


def test_empty_and_blank_input() -> None:
    assert clean_text("") == CleanedText("", (), ())
    assert clean_text(" \n\n \r\n") == CleanedText("", (), ())


LAYOUT = st.sampled_from(["\n", "\n\n", "\n\n\n\n", "\r\n\r\n", "  \n\n", "\n \n"])
WORD = st.text(alphabet="产业发展重庆潼南区可的新城市璧山摄/记者融媒体中心 ABC12", min_size=1, max_size=12)
PUNCT = st.sampled_from(["", "。", "，", "、", "！", "；", "：", "”", "……", "（", "）"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(WORD, PUNCT, LAYOUT), max_size=30))
def test_property_only_layout_changes(parts: list[tuple[str, str, str]]) -> None:
    source = "".join(w + p + sep for w, p, sep in parts)
    c = clean_text(source)
    assert no_space(c.text) == no_space(source)
    assert "\n\n\n" not in c.text and "\r" not in c.text
    spans = sorted([*c.headings, *c.excluded], key=lambda s: s.start)
    for a, b in pairwise(spans):
        assert a.end <= b.start
    for s in spans:
        assert 0 <= s.start < s.end <= len(c.text)
        assert c.text[s.start : s.end] == c.text[s.start : s.end].strip()

"""Real PDF, DOCX and HTML files written by the tests: the same article in every format a corpus may hold.

PDFs are laid out by fpdf2 with a CJK font from the system (WenQuanYi Micro Hei, installed with Chromium by
`make chromium`), wrapped to the page's width as a real print layout is; DOCX files by python-docx; HTML pages
carry the chrome of a government site (breadcrumbs, 字号, ICP footer) around the article.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)


def cjk_font() -> Path | None:
    return next((p for p in CJK_FONTS if p.exists()), None)


def write_pdf(path: Path, title: str, paragraphs: list[str], created: dt.datetime | None = None) -> Path:
    from fpdf import FPDF

    font = cjk_font()
    assert font is not None, "no CJK font: run `make chromium` (installs fonts-wqy-microhei)"
    pdf = FPDF()
    pdf.add_font("cjk", fname=str(font))
    pdf.set_font("cjk", size=11)
    pdf.set_title(title)
    pdf.set_creation_date(created or dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    pdf.add_page()
    for paragraph in paragraphs:
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.output(str(path))
    return path


def write_scanned_pdf(path: Path) -> Path:
    """A page with drawings and no text at all: what a scanner without OCR produces."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    for i in range(20):
        pdf.rect(20, 20 + 12 * i, 150 - 3 * i, 6, style="F")
    pdf.output(str(path))
    return path


def write_docx(path: Path, title: str, paragraphs: list[str], created: dt.datetime | None = None) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.created = created or dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    document.save(str(path))
    return path


def write_html(path: Path, title: str, paragraphs: list[str], published: str = "", source: str = "") -> Path:
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    info = f"发布时间：{published} " if published else ""
    info += f"来源：{html.escape(source)} " if source else ""
    meta = f'<meta name="PubDate" content="{published}">' if published else ""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}_重庆市人民政府网</title>{meta}</head>
<body>
<div class="top"><a href="/">首页</a> <a href="/zwgk">政务公开</a> <a href="/hdjl">互动交流</a></div>
<div class="crumb">当前位置：<a href="/">首页</a> &gt; <a href="/qx">区县动态</a></div>
<div class="article">
<div class="info">{info}字号：[ <a>大</a> <a>中</a> <a>小</a> ] <a>打印</a></div>
<div class="content">
{body}
</div></div>
<div class="footer">主办：重庆市人民政府办公厅 渝ICP备05003300号 渝公网安备50010302000000号</div>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path


def paragraphs_of(body: str) -> list[str]:
    """A .txt article's lines (paragraphs, headings, list items) as a publisher would lay them out, one block each."""
    return [line.strip() for line in body.split("\n") if line.strip()]

"""Report renderers: HTML is self-contained and inert, Markdown is escaped, JSON follows the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import ValidationError

from fakescope_cli.evidence.engine import EvidenceOptions
from fakescope_cli.report.build import build_report
from fakescope_cli.report.model import RunContext
from fakescope_cli.report.render_html import render_image_html, render_index_html
from fakescope_cli.report.render_md import md, render_image_markdown
from fakescope_cli.report.write import write_image_report
from tests.fakescope_cli.evidence.builders import camera_exif, jpeg_bytes, png_bytes
from tests.schemas import validate

SCRIPT = "<script>alert('x')</script><img src=https://evil.example/t.png>"


@pytest.fixture()
def context() -> RunContext:
    return RunContext.now(None, None, 0.5, 0.1)


@pytest.fixture()
def hostile_image(tmp_path: Path) -> Path:
    path = tmp_path / "<script>alert(1)<\\script>.png"
    path.write_bytes(
        png_bytes(texts={"parameters": f"{SCRIPT}\nSteps: 20, Seed: 5, Model: {SCRIPT}", "Software": SCRIPT})
    )
    return path


def test_html_is_self_contained_with_strict_csp(tmp_path: Path, context: RunContext) -> None:
    image = tmp_path / "photo.jpg"
    image.write_bytes(jpeg_bytes(exif=camera_exif()))
    html = render_image_html(build_report(image, context))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "img-src data:" in csp and "script-src" not in csp
    assert not re.search(r"(src|href)=\"(?!data:)", html)  # every image inline, no links out
    assert "<script" not in html
    assert html.count("data:image/png;base64,") == 2 and "data:image/jpeg;base64," in html  # maps + thumbnail


def test_script_injection_ends_up_as_text(hostile_image: Path, context: RunContext) -> None:
    report = build_report(hostile_image, context)
    html = render_image_html(report)
    assert "<script>" not in html and "<img src=https" not in html
    assert "&lt;script&gt;alert(1)&lt;\\\\script&gt;.png" in html  # its backslash shown doubled
    markdown = render_image_markdown(report)
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_markdown_escaping() -> None:
    assert md("a|b\n# c [x](http://y)") == "a\\|b \\# c \\[x\\](http\\://y)"
    assert md("<b>&") == "&lt;b&gt;&amp;"


def test_json_report_follows_the_schema(tmp_path: Path, hostile_image: Path, context: RunContext) -> None:
    written = write_image_report(build_report(hostile_image, context), tmp_path, ("json", "md", "html"))
    assert sorted(p.suffix for p in written) == [".html", ".json", ".md"]
    document = json.loads(written[0].read_text())
    validate(document, "report")
    assert document["verdict"]["verdict"] == "ai-generated"
    assert document["custody"]["command_line"].startswith("fakescope")
    document["verdict"]["p_fake"] = 2.0
    with pytest.raises(ValidationError):
        validate(document, "report")


def test_unreadable_image_still_gets_a_report(tmp_path: Path, context: RunContext) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    report = build_report(broken, context, evidence=EvidenceOptions(figures=True))
    data = report.to_dict()
    validate(data, "report")
    assert data["error"] and data["verdict"]["verdict"] is None
    html = render_image_html(report)
    assert "Could not be analysed" in html
    assert "None" not in html.replace("NoneType", "") and "not decoded" in html


def test_index_counts_and_links(tmp_path: Path, context: RunContext, hostile_image: Path) -> None:
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg_bytes())
    results = [build_report(p, context).result for p in (hostile_image, plain)]
    html = render_index_html(results, {results[1].path: "plain.abc.html"}, context)
    assert 'href="plain.abc.html"' in html and "<script>alert(1)" not in html
    csp = re.search(r'content="([^"]+)"', html).group(1)
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+'", csp)
    assert "ai-generated</span></th><td>1" in html and "inconclusive</span></th><td>1" in html


@pytest.mark.parametrize(
    "text",
    ["see http://evil.example/a?b=1", "HTTPS://x.org and www.example.com", "WWW.Example.COM ftp://h/x"],
)
def test_markdown_bare_urls_are_not_autolinked(text: str) -> None:
    from markdown_it import MarkdownIt

    source = md(text)
    # GFM's autolink rule starts at "://" or "www." in the source; neither is left.
    assert re.search(r"(?<!\\)://", source) is None and "www." not in source.lower()
    # ... and the escapes render as the very same text (CommonMark backslash escapes).
    html = MarkdownIt("commonmark").render(source)
    assert html == f"<p>{text}</p>\n"


OSC_TITLE = "\x1b]0;pwned\x07"  # sets a terminal's title; BEL ends it
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_control_bytes_from_names_metadata_and_model_text_are_escaped_visibly(
    tmp_path: Path, context: RunContext
) -> None:
    """A hostile file name, metadata and model text: no raw C0/C1 byte in HTML, Markdown or the
    index (``cat report.md`` would drive the terminal); JSON keeps the exact values."""
    from dataclasses import replace

    image = tmp_path / f"a{OSC_TITLE}b.png"
    image.write_bytes(png_bytes(texts={"Software": f"Gen{OSC_TITLE}Tool", "parameters": "x\x1b[2Jy"}))
    report = build_report(image, context)
    report = replace(
        report, result=replace(report.result, explanation="Edges\x1b[31m red\x00.\nVerdict: fake.")
    )
    report.questions.append({"question": "Why\x9b?", "answer": "Because\x07"})
    html = render_image_html(report)
    markdown = render_image_markdown(report)
    index = render_index_html([report.result], {}, context)
    for text in (html, markdown, index):
        assert not RAW_CONTROL.search(text), RAW_CONTROL.search(text)
    assert "a\\x1b]0;pwned\\x07b.png" in html and "a\\x1b]0;pwned\\x07b.png" in index
    assert "Edges\\x1b[31m red\\x00." in html
    assert "\\\\x1b" in markdown  # printable's backslash, itself escaped for Markdown
    (tmp_path / "out").mkdir()
    written = write_image_report(report, tmp_path / "out", ("json",))
    document = json.loads(written[0].read_text())
    assert document["rationale"].startswith("Edges\x1b[31m")  # exact in JSON


def test_index_tells_apart_two_files_with_one_name(tmp_path: Path, context: RunContext) -> None:
    paths = []
    for folder in ("desk-a", "desk-b"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "x.jpg")
        paths[-1].write_bytes(jpeg_bytes())
    results = [build_report(p, context).result for p in paths]
    html = render_index_html(results, {}, context)
    assert "desk-a/x.jpg" in html and "desk-b/x.jpg" in html


def test_index_names_a_large_folder() -> None:
    """20,000 results (counted once each: the quadratic count took 8 s here)."""
    from fakescope_cli.report.render_html import _distinct_names

    paths = [f"/archive/d{i % 500}/img{i}.jpg" for i in range(20_000)] + ["/a/x.jpg", "/b/x.jpg"]
    names = _distinct_names(paths)
    assert names["/a/x.jpg"] == "a/x.jpg" and names["/archive/d3/img3.jpg"] == "img3.jpg"

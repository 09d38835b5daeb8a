"""Badge images: one layout, drawn as SVG and PNG; self-contained and deterministic."""

from __future__ import annotations

import io

from defusedxml import ElementTree
from PIL import Image

from lti_app.services import badges

SVG_NS = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> list[str]:
    return [t.text or "" for t in ElementTree.fromstring(svg.encode()).iter(f"{SVG_NS}text")]


def test_svg_and_png_show_the_same_words() -> None:
    spec = badges.layout("Psychiatric Technicians", "Developing", 2, 4)
    texts = _texts(badges.render_svg(spec))
    assert texts == [
        *spec.kicker.lines,
        *spec.title.lines,
        *spec.subtitle.lines,
        *spec.ribbon.lines,
    ]
    assert texts[:3] == ["LEVEL 2 OF 4", "Developing", "Psychiatric Technicians"]
    image = Image.open(io.BytesIO(badges.render_png(spec)))
    assert image.size == (600, 600) and image.mode == "RGBA"
    # The accent colour of level 2 is where the outer ring is drawn.
    accent = tuple(int(spec.accent[i : i + 2], 16) for i in (1, 3, 5))
    assert image.getpixel((300, 14))[:3] == accent
    assert image.getpixel((2, 2))[3] == 0  # transparent corners


def test_rendering_is_deterministic_and_levels_differ() -> None:
    one = badges.render_png(badges.layout("F", "Level", 1, 3))
    assert one == badges.render_png(badges.layout("F", "Level", 1, 3))
    assert badges.layout("F", "L", 1, 3).accent != badges.layout("F", "L", 2, 3).accent


def test_long_texts_wrap_shrink_and_end_with_an_ellipsis() -> None:
    long_label = "Advanced practitioner with delegated supervision duties " * 4
    spec = badges.layout("A framework", long_label, 3, 3)
    assert len(spec.title.lines) == 2
    assert spec.title.lines[-1].endswith("…")
    assert spec.title.size < 64
    for line in spec.title.lines:
        assert badges._width(line, spec.title.size) <= 380


def test_markup_in_names_is_escaped() -> None:
    svg = badges.render_svg(badges.layout('R&D <script>"x"</script>', "Level <1>", 1, 1))
    texts = _texts(svg)
    assert "Level <1>" in texts
    assert any("<script>" in t for t in texts)  # as text, not as an element
    assert "<script>" not in svg
    assert ElementTree.fromstring(svg.encode()).find(f".//{SVG_NS}script") is None

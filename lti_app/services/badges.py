"""Badge images for framework levels: an SVG, and a PNG drawn from the same layout.

Why Pillow for the PNG and not an SVG rasteriser: cairosvg needs the system's libcairo and its
fonts, so the PNG would depend on the machine; Pillow's wheels carry FreeType and a scalable
default font, so the same inputs give the same pixels everywhere, with nothing to install but a
wheel. Both renderers share one :class:`Layout` (geometry, colours, line breaks measured with
that font), so the two images match. The SVG asks only for the reader's own sans-serif fonts:
no external font, stylesheet or image is referenced.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

SIZE = 600
_SCALE = 2  # the PNG is drawn at twice the size and scaled down: smooth edges
FONT_STACK = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'Noto Sans', "
    "'Liberation Sans', Arial, sans-serif"
)
# Accent colours cycle with the level's position; each passes WCAG AA for white text on it.
PALETTE = ("#0f766e", "#1d4ed8", "#6d28d9", "#b45309", "#be123c", "#15803d", "#0e7490")
INK = "#14213d"  # the inner disc
WHITE = "#ffffff"
MUTED = "#cbd5e1"
# A credential that no longer stands: the badge says so where "LEVEL COMPLETE" would be, on a
# colour no level uses, the level's accent turns grey and the tick becomes a cross, so a badge
# copied onto a profile cannot be mistaken for a valid one.
State = Literal["valid", "revoked", "expired"]
STATES: tuple[State, ...] = ("valid", "revoked", "expired")
_RIBBON = {"valid": "LEVEL COMPLETE", "revoked": "REVOKED", "expired": "EXPIRED"}
_STATE_FILL = {"revoked": "#b91c1c", "expired": "#92400e"}
GREY = "#64748b"


@dataclass(frozen=True)
class TextBlock:
    lines: tuple[str, ...]
    size: int
    top: float  # baseline of the first line
    leading: float
    fill: str
    bold: bool = False
    spacing: float = 0.0  # letter spacing, in px


@dataclass(frozen=True)
class Layout:
    accent: str
    kicker: TextBlock  # "LEVEL 2 OF 4"
    title: TextBlock  # the level label
    subtitle: TextBlock  # the framework title
    ribbon: TextBlock  # "LEVEL COMPLETE", or "REVOKED" / "EXPIRED"
    description: str
    state: State = "valid"
    ribbon_fill: str = ""  # the ribbon's colour: the accent, or the state's

    @property
    def standing(self) -> bool:
        return self.state == "valid"


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _width(text: str, size: int, spacing: float = 0.0) -> float:
    return _font(size).getlength(text) + spacing * max(0, len(text) - 1)


def _wrap(text: str, size: int, width: float, max_lines: int) -> tuple[list[str], bool]:
    """Greedy word wrap; (lines, fits). A word longer than a line is cut with an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if _width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while _width(current, size) > width and len(current) > 1:
            current = current[:-1]
    if current:
        lines.append(current)
    fits = len(lines) <= max_lines and " ".join(lines) == " ".join(text.split())
    return lines, fits


def _fit(text: str, sizes: range, width: float, max_lines: int) -> tuple[list[str], int]:
    """The largest size at which ``text`` fits; else the smallest, ellipsised."""
    lines: list[str] = []
    for size in sizes:
        lines, fits = _wrap(text, size, width, max_lines)
        if fits:
            return lines, size
    size = sizes[-1]
    lines = lines[:max_lines]
    last = lines[-1] if lines else ""
    while last and _width(last + "…", size) > width:
        last = last[:-1].rstrip()
    lines[-1] = last + "…"
    return lines, size


def layout(
    framework_title: str, level_label: str, position: int, count: int, state: State = "valid"
) -> Layout:
    """Geometry and text of the badge of level ``position`` (1-based) of ``count``; a revoked
    or expired credential's badge says REVOKED or EXPIRED on its ribbon."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, got {state!r}")
    accent = PALETTE[(max(position, 1) - 1) % len(PALETTE)] if state == "valid" else GREY
    kicker_text = f"LEVEL {position} OF {count}" if count > 1 else "LEVEL"
    title_lines, title_size = _fit(level_label.strip() or "Level", range(64, 29, -2), 380, 2)
    sub_lines, sub_size = _fit(framework_title.strip() or "Skills", range(30, 17, -2), 360, 3)
    title_leading = title_size * 1.1
    sub_leading = sub_size * 1.25
    # Centre the title and subtitle block in the disc, between the kicker and the ribbon.
    block = title_leading * len(title_lines) + 18 + sub_leading * len(sub_lines)
    top = 300 - block / 2 + title_size * 0.8
    sub_top = top + title_leading * (len(title_lines) - 1) + 18 + sub_size * 1.15
    return Layout(
        accent=accent,
        kicker=TextBlock((kicker_text,), 22, 166, 22, MUTED, bold=True, spacing=3),
        title=TextBlock(tuple(title_lines), title_size, top, title_leading, WHITE, bold=True),
        subtitle=TextBlock(tuple(sub_lines), sub_size, sub_top, sub_leading, MUTED),
        ribbon=TextBlock(
            (_RIBBON[state],),
            24 if state == "valid" else 30,
            478,
            24,
            WHITE,
            bold=True,
            spacing=2 if state == "valid" else 4,
        ),
        description=f"{level_label} ({kicker_text.lower()}) of {framework_title}"
        + ("" if state == "valid" else f": {state.upper()}, no longer a valid credential"),
        state=state,
        ribbon_fill=_STATE_FILL.get(state, accent),
    )


def _ribbon_points(scale: float = 1.0) -> list[tuple[float, float]]:
    """A banner across the lower disc, with swallow-tail ends."""
    points = [
        (60, 438),
        (540, 438),
        (516, 466),
        (540, 494),
        (60, 494),
        (84, 466),
    ]
    return [(x * scale, y * scale) for x, y in points]


def _check_points(scale: float = 1.0) -> list[tuple[float, float]]:
    return [(x * scale, y * scale) for x, y in ((274, 98), (292, 116), (328, 80))]


def _cross_lines(scale: float = 1.0) -> list[list[tuple[float, float]]]:
    return [
        [(x * scale, y * scale) for x, y in line]
        for line in (((284, 82), (316, 114)), ((316, 82), (284, 114)))
    ]


# --------------------------------------------------------------------------- SVG


def _svg_text(block: TextBlock) -> str:
    weight = ' font-weight="700"' if block.bold else ""
    spacing = f' letter-spacing="{block.spacing:g}"' if block.spacing else ""
    out = []
    for i, line in enumerate(block.lines):
        y = block.top + i * block.leading
        out.append(
            f'<text x="300" y="{y:.1f}" text-anchor="middle" font-size="{block.size}"'
            f'{weight}{spacing} fill="{block.fill}">{escape(line)}</text>'
        )
    return "\n    ".join(out)


def render_svg(spec: Layout) -> str:
    """A standalone SVG 1.1 document (UTF-8), 600 x 600."""
    ribbon = " ".join(f"{x:g},{y:g}" for x, y in _ribbon_points())
    if spec.standing:
        check = " ".join(f"{x:g},{y:g}" for x, y in _check_points())
        mark = (
            f'<polyline points="{check}" fill="none" stroke="{WHITE}" stroke-width="9" '
            'stroke-linecap="round" stroke-linejoin="round"/>'
        )
    else:
        mark = "".join(
            f'<line x1="{a[0]:g}" y1="{a[1]:g}" x2="{b[0]:g}" y2="{b[1]:g}" stroke="{WHITE}" '
            'stroke-width="9" stroke-linecap="round"/>'
            for a, b in _cross_lines()
        )
    title = escape(spec.description)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}" role="img" aria-labelledby="badge-title">
  <title id="badge-title">{title}</title>
  <circle cx="300" cy="300" r="290" fill="{spec.accent}"/>
  <circle cx="300" cy="300" r="268" fill="{WHITE}"/>
  <circle cx="300" cy="300" r="256" fill="{INK}"/>
  <circle cx="300" cy="300" r="240" fill="none" stroke="{spec.accent}" stroke-width="3" stroke-dasharray="2 10" stroke-linecap="round"/>
  <circle cx="300" cy="98" r="34" fill="{spec.accent}"/>
  {mark}
  <g font-family="{FONT_STACK}">
    {_svg_text(spec.kicker)}
    {_svg_text(spec.title)}
    {_svg_text(spec.subtitle)}
  </g>
  <polygon points="{ribbon}" fill="{spec.ribbon_fill or spec.accent}" stroke="{WHITE}" stroke-width="4" stroke-linejoin="round"/>
  <g font-family="{FONT_STACK}">
    {_svg_text(spec.ribbon)}
  </g>
</svg>
"""


# --------------------------------------------------------------------------- PNG


def _draw_text(draw: ImageDraw.ImageDraw, block: TextBlock) -> None:
    size = block.size * _SCALE
    font = _font(size)
    stroke = max(1, size // 40) if block.bold else 0  # the default font has no bold face
    for i, line in enumerate(block.lines):
        baseline = (block.top + i * block.leading) * _SCALE
        if block.spacing:
            total = _width(line, size, block.spacing * _SCALE)
            x = SIZE * _SCALE / 2 - total / 2
            for char in line:
                draw.text(
                    (x, baseline), char, font=font, fill=block.fill, anchor="ls",
                    stroke_width=stroke, stroke_fill=block.fill,
                )  # fmt: skip
                x += font.getlength(char) + block.spacing * _SCALE
        else:
            draw.text(
                (SIZE * _SCALE / 2, baseline), line, font=font, fill=block.fill, anchor="ms",
                stroke_width=stroke, stroke_fill=block.fill,
            )  # fmt: skip


def _circle(draw: ImageDraw.ImageDraw, r: float, **kwargs: object) -> None:
    c = SIZE * _SCALE / 2
    r *= _SCALE
    draw.ellipse((c - r, c - r, c + r, c + r), **kwargs)  # type: ignore[arg-type]


def render_png(spec: Layout) -> bytes:
    """The same badge as :func:`render_svg`, as an RGBA PNG, 600 x 600."""
    big = SIZE * _SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    _circle(draw, 290, fill=spec.accent)
    _circle(draw, 268, fill=WHITE)
    _circle(draw, 256, fill=INK)
    # The dotted inner ring: one dot every 12 px of circumference, as in the SVG's dasharray.
    dots = int(2 * math.pi * 240 / 12)
    for i in range(dots):
        angle = 2 * math.pi * i / dots
        x = (300 + 240 * math.cos(angle)) * _SCALE
        y = (300 + 240 * math.sin(angle)) * _SCALE
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=spec.accent)
    cx, cy, r = 300 * _SCALE, 98 * _SCALE, 34 * _SCALE
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=spec.accent)
    lines = [_check_points(_SCALE)] if spec.standing else _cross_lines(_SCALE)
    half = 9 * _SCALE / 2
    for line in lines:
        draw.line(line, fill=WHITE, width=9 * _SCALE, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - half, y - half, x + half, y + half), fill=WHITE)
    for block in (spec.kicker, spec.title, spec.subtitle):
        _draw_text(draw, block)
    draw.polygon(
        _ribbon_points(_SCALE),
        fill=spec.ribbon_fill or spec.accent,
        outline=WHITE,
        width=4 * _SCALE,
    )
    _draw_text(draw, spec.ribbon)
    small = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def badge_svg(
    framework_title: str, level_label: str, position: int, count: int, state: State = "valid"
) -> str:
    return render_svg(layout(framework_title, level_label, position, count, state))


@functools.lru_cache(maxsize=64)
def badge_png(
    framework_title: str, level_label: str, position: int, count: int, state: State = "valid"
) -> bytes:
    return render_png(layout(framework_title, level_label, position, count, state))

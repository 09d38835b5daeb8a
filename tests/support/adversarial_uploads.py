"""Hostile files for the verification endpoints: XML bombs, PNGs that lie about their size,
JSON nested past any parser's patience. Made here, byte by byte."""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(
    kind: bytes, body: bytes, *, crc: int | None = None, length: int | None = None
) -> bytes:
    """One PNG chunk; ``length``/``crc`` override the true values (a lying chunk)."""
    true_crc = zlib.crc32(kind + body)
    return (
        struct.pack(">I", len(body) if length is None else length)
        + kind
        + body
        + struct.pack(">I", true_crc if crc is None else crc)
    )


def ihdr(width: int, height: int) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))


def png(*chunks: bytes, width: int = 1, height: int = 1) -> bytes:
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00\x00"))
    return PNG_SIGNATURE + ihdr(width, height) + b"".join(chunks) + idat + png_chunk(b"IEND", b"")


def huge_dimensions_png() -> bytes:
    """A valid PNG that claims 2^31-1 x 2^31-1 pixels (decoding it would need exabytes)."""
    return png(width=2**31 - 1, height=2**31 - 1)


def oversized_chunk_png() -> bytes:
    """A chunk that declares 2 GiB of data and carries a few bytes."""
    return PNG_SIGNATURE + ihdr(1, 1) + png_chunk(b"tEXt", b"x" * 16, length=2**31 - 1)


def many_chunks_png(count: int = 50_000) -> bytes:
    """Tens of thousands of tiny valid chunks (a parser doing work per chunk)."""
    tiny = png_chunk(b"tEXt", b"k\x00v")
    return PNG_SIGNATURE + ihdr(1, 1) + tiny * count + png_chunk(b"IEND", b"")


def zip_bomb_itxt_png() -> bytes:
    """A *compressed* openbadgecredential iTXt that inflates to 1 GB (OB 3.0 forbids it)."""
    compressor = zlib.compressobj(9)
    bomb = b"".join(compressor.compress(b"\x00" * (1 << 20)) for _ in range(1024))
    bomb += compressor.flush()
    body = b"openbadgecredential\x00\x01\x00\x00\x00" + bomb
    return png(png_chunk(b"iTXt", body))


def billion_laughs_svg(levels: int = 10) -> bytes:
    entities = ['<!ENTITY lol0 "lol">']
    for n in range(1, levels):
        entities.append(f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">')
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE svg [' + "".join(entities) + "]>\n"
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        f"<openbadges:credential>&lol{levels - 1};</openbadges:credential></svg>"
    ).encode()


def xxe_svg(target: str = "file:///etc/passwd") -> bytes:
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE svg [<!ENTITY xxe SYSTEM "{target}">]>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        "<openbadges:credential>&xxe;</openbadges:credential></svg>"
    ).encode()


def external_dtd_svg(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE svg SYSTEM "{target}">\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><text>x</text></svg>'
    ).encode()


def xinclude_svg(target: str = "file:///etc/passwd") -> bytes:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xi="http://www.w3.org/2001/XInclude" '
        'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">'
        f'<openbadges:credential><xi:include href="{target}" parse="text"/></openbadges:credential>'
        "</svg>"
    ).encode()


def deeply_nested_json(depth: int) -> bytes:
    return b'{"credential": ' + b"[" * depth + b"]" * depth + b"}"


def deeply_nested_objects(depth: int) -> bytes:
    return b'{"@context": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"

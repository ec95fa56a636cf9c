"""Draws the app icons (a white cross on green) as PNG with the standard library only.

Run once when the design changes: `python -m infra.make_icons`; the PNGs are committed.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

GREEN = (0x0F, 0x7B, 0x5F)
WHITE = (0xFF, 0xFF, 0xFF)
OUT = Path(__file__).resolve().parent.parent / "frontend" / "static" / "icons"


def _png(size: int, pixel) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y, size)) for x in range(size))
                    for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def _cross(x: int, y: int, size: int, inset: float) -> tuple[int, int, int]:
    # The cross fills the middle (1 - 2*inset) of the square: maskable icons keep it inside
    # the 80 % safe zone.
    lo, hi = size * inset, size * (1 - inset)
    third = (hi - lo) / 3
    in_box = lo <= x < hi and lo <= y < hi
    in_bar = (lo + third <= x < lo + 2 * third) or (lo + third <= y < lo + 2 * third)
    return WHITE if in_box and in_bar else GREEN


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon-192.png").write_bytes(_png(192, lambda x, y, s: _cross(x, y, s, 0.2)))
    (OUT / "icon-512.png").write_bytes(_png(512, lambda x, y, s: _cross(x, y, s, 0.2)))
    (OUT / "maskable-512.png").write_bytes(_png(512, lambda x, y, s: _cross(x, y, s, 0.3)))


if __name__ == "__main__":
    main()

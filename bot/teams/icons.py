"""Draw the Teams app icons with the standard library only (zlib + struct):
`color.png` (192x192, a white "who knows whom" glyph on the accent colour) and `outline.png`
(32x32, the same glyph in white on transparent, as Teams requires).

    python -m bot.teams.icons      # rewrites bot/teams/appPackage/*.png
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "appPackage"
ACCENT = (79, 70, 229)  # #4F46E5, also the manifest's accentColor
WHITE = (255, 255, 255)

# The glyph on a unit square: a person (the big node) linked to two colleagues.
NODES = [((0.38, 0.60), 0.15), ((0.72, 0.30), 0.10), ((0.74, 0.74), 0.10)]
LINKS = [(0, 1), (0, 2)]
LINK_WIDTH = 0.045


def _inside(x: float, y: float) -> bool:
    for (cx, cy), r in NODES:
        if (x - cx) ** 2 + (y - cy) ** 2 <= r * r:
            return True
    for a, b in LINKS:
        (ax, ay), (bx, by) = NODES[a][0], NODES[b][0]
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        if math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= LINK_WIDTH / 2:
            return True
    return False


def coverage(size: int, margin: float, samples: int = 4) -> list[list[float]]:
    """How much of each pixel the glyph covers (0..1), anti-aliased by supersampling."""
    scale = 1 - 2 * margin
    grid = []
    for py in range(size):
        row = []
        for px in range(size):
            hits = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = ((px + (sx + 0.5) / samples) / size - margin) / scale
                    y = ((py + (sy + 0.5) / samples) / size - margin) / scale
                    hits += _inside(x, y)
            row.append(hits / samples**2)
        grid.append(row)
    return grid


def png(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    """An RGBA PNG of `pixels` (rows of (r, g, b, a))."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def color_icon(size: int = 192) -> bytes:
    """The full-colour icon: white glyph on the accent colour."""

    def blend(a: float) -> tuple[int, int, int, int]:
        r, g, b = (round(a * w + (1 - a) * c) for w, c in zip(WHITE, ACCENT, strict=True))
        return (r, g, b, 255)

    return png([[blend(a) for a in row] for row in coverage(size, margin=0.16)])


def outline_icon(size: int = 32) -> bytes:
    """The outline icon: white glyph, transparent elsewhere."""
    return png([[(*WHITE, round(a * 255)) for a in row] for row in coverage(size, margin=0.04)])


def main() -> None:
    PACKAGE.mkdir(exist_ok=True)
    (PACKAGE / "color.png").write_bytes(color_icon())
    (PACKAGE / "outline.png").write_bytes(outline_icon())
    print(f"wrote {PACKAGE / 'color.png'} and {PACKAGE / 'outline.png'}")


if __name__ == "__main__":
    main()

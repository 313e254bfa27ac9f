"""Headless Chromium for page tests (Debian's `chromium`, which `make test` installs through
scripts/ensure-chromium.sh), and a small PNG reader for its screenshots."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

# How this machine's Chromium runs as root without a display or a network beyond loopback.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_path() -> str | None:
    explicit = os.environ.get("GATEWAY_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; else skip the test (fail it in CI, like PostgreSQL and Redis)."""
    path = chromium_path()
    if path:
        return path
    message = (
        "chromium is not installed (`make test` installs Debian's chromium when run as root "
        "with apt-get; or `apt-get install chromium`, or set GATEWAY_CHROMIUM)"
    )
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (GATEWAY_REQUIRE_SERVICES=1: required in CI)")
    pytest.skip(message)


def run_chromium(binary: str, url: str, *args: str, timeout: float = 90) -> str:
    """One headless run on a fresh profile; what it printed on stdout."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result.stdout


def dump_dom(binary: str, url: str, budget_ms: int = 15000) -> str:
    """The DOM after the page's scripts ran for `budget_ms` of virtual time (timers are
    fast-forwarded; network fetches are waited for)."""
    return run_chromium(binary, url, f"--virtual-time-budget={budget_ms}", "--dump-dom")


def screenshot(
    binary: str,
    url: str,
    path: Path,
    size: tuple[int, int] = (1400, 4000),
    scale: float = 0.5,
    budget_ms: int = 4000,
) -> Path:
    """The top `size` CSS pixels of the page as a PNG, at `scale` (0.5: a tall page in a
    quarter of the pixels, which keeps decoding it in pure Python quick)."""
    run_chromium(
        binary,
        url,
        f"--window-size={size[0]},{size[1]}",
        f"--force-device-scale-factor={scale}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={path}",
    )
    assert path.exists(), "chromium wrote no screenshot"
    return path


@dataclass
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB, 3 bytes a pixel

    def colours(self, top: int = 0, bottom: int | None = None) -> Counter[tuple[int, int, int]]:
        """How many pixels of each colour rows top..bottom hold."""
        counts: Counter[tuple[int, int, int]] = Counter()
        for row in self.rows[max(0, top) : bottom]:
            counts.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
        return counts


def read_png(path: Path) -> Image:
    """8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as RGB rows."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat = 8, b""
    width = height = depth = color = interlace = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        chunk = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        if channels == 4:  # drop the alpha channel
            rgb = bytearray(width * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            rows.append(bytes(rgb))
        else:
            rows.append(bytes(line))
        previous = line
    return Image(width, height, rows)


def _unfilter(kind: int, line: bytearray, previous: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    if kind == 2:  # the common one: a byte-wise sum with the row above
        line[:] = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        return
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            corner = previous[i - bpp] if i >= bpp else 0
            estimate = left + up - corner
            pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
            predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + predictor) & 0xFF
        else:
            raise AssertionError(f"unknown PNG filter {kind}")

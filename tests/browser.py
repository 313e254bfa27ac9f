"""Headless Chromium for page tests (Debian's `chromium`, which `make test` installs through
scripts/ensure-chromium.sh): one-shot runs (DOM, screenshot), a DevTools driver for pages to
click and type into, and a small PNG reader for the screenshots."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import urllib.request
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.sync.client import connect

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


class DevTools:
    """A headless Chromium driven over the DevTools protocol (a websocket, the `websockets`
    package): for pages that must be clicked and typed into, such as LiteLLM's login form.
    `with DevTools(binary) as page: page.goto(url); page.evaluate("document.title")`."""

    def __init__(self, binary: str, size: tuple[int, int] = (1400, 1000)) -> None:
        self._binary = binary
        self._size = size
        self._next_id = 0
        self.events: list[dict] = []  # the DevTools events received so far

    def __enter__(self) -> DevTools:
        # Chromium's helper processes may still write to the profile as it shuts down.
        self._profile = tempfile.TemporaryDirectory(
            prefix="chromium-devtools-", ignore_cleanup_errors=True
        )
        self._process = subprocess.Popen(
            [
                self._binary,
                *FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={self._size[0]},{self._size[1]}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped whole on exit
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.__exit__(None, None, None)
                raise AssertionError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            targets = json.load(reply)
        page = next(t for t in targets if t.get("type") == "page")
        self._socket = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Network.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._profile.cleanup()

    def send(self, method: str, **params: object) -> dict:
        """One command and its result (events that arrive meanwhile are skipped)."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if "method" in message:
                self.events.append(message)
            if message.get("id") == self._next_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message.get("result") or {}

    def responses(self) -> list[tuple[int, str, str]]:
        """(status, method, url) of every HTTP response the page received so far."""
        self.send("Runtime.evaluate", expression="0")  # reads the events queued before it
        methods = {
            e["params"]["requestId"]: e["params"]["request"]["method"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        }
        return [
            (
                int(e["params"]["response"]["status"]),
                methods.get(e["params"]["requestId"], "?"),
                e["params"]["response"]["url"],
            )
            for e in self.events
            if e["method"] == "Network.responseReceived"
        ]

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> object:
        """A JavaScript expression's value (promises awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> object:
        """Polls `expression` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except AssertionError as exc:  # the page is navigating
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.25)
        text = self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
        raise AssertionError(f"waited {timeout}s for {expression!r} (last: {last!r}); page: {text}")

    @staticmethod
    def with_text(selector: str, text: str) -> str:
        """A JavaScript expression: the first `selector` element whose text is `text`."""
        return (
            f"[...document.querySelectorAll({_js(selector)})]"
            f".find(e => e.innerText.trim() === {_js(text)})"
        )

    def type_into(self, selector: str, text: str) -> None:
        """Focuses the element and types `text` as keyboard input (React sees the events)."""
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({_js(selector)}); "
            "if (!e) return false; e.focus(); return true; })()"
        )
        assert found, f"no element {selector!r}"
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _js(value: str) -> str:
    return json.dumps(value)

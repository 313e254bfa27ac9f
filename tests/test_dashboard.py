"""The dashboard at `/stats/ui`: the per-minute telemetry query on SQLite and PostgreSQL, the
renderer as a pure function, the key in a browser, and the real page in headless Chromium
(the DOM after its script refreshed it, and a screenshot that shows every section)."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, insert, text

from gateway.dashboard import SECTIONS, render_main, render_page
from gateway.telemetry.schema import attempts, metadata
from gateway.telemetry.stats import _percentiles
from gateway.telemetry.timeline import minute_timeline
from gateway.telemetry.writer import database_url
from tests.browser import dump_dom, read_png, require_chromium, screenshot
from tests.conftest import GROQ_KEY, provider_env
from tests.gateway_process import GatewayProcess, write_config
from tests.services import require_postgres

KEY = "dash-proxy-key-0123456789"
NOW = datetime(2026, 12, 1, 12, 30, 20, tzinfo=UTC)
SECTION_IDS = [anchor for anchor, _ in SECTIONS]


# -- the per-minute query ------------------------------------------------------------------


def _rows() -> list[dict]:
    """A deterministic hour and a bit of attempts: two routes, two virtual models, fallbacks,
    failures, streams with a TTFT and some without."""
    rows = []
    for i in range(300):
        seconds = (i * 7919) % 3900  # spread over 65 minutes, some outside the hour
        outcome = ["success", "success", "rate_limited", "continuation", "timeout"][i % 5]
        rows.append(
            {
                "ts": NOW - timedelta(seconds=seconds),
                "request_id": f"r{i // 2}",
                "virtual_model": ["v1", "v2", None][i % 3],
                "provider": "p",
                "model": ["p/a", "p/b"][(i // 3) % 2],
                "attempt": 1 + i % 2,
                "outcome": outcome,
                "stream": True,
                "latency_ms": float(10 + (i * 37) % 900),
                "ttft_ms": None if i % 4 == 0 else float(1 + (i * 13) % 50),
                "cost": 0.0,
            }
        )
    return rows


def _expected(rows: list[dict], key: str) -> dict[str, dict[str, list]]:
    """The same figures computed in Python, the way gateway.telemetry.stats picks them."""
    first = int(NOW.timestamp() // 60) - 59
    buckets: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        index = int(row["ts"].timestamp() // 60) - first
        if 0 <= index < 60 and row[key] is not None:
            buckets.setdefault(row[key], {}).setdefault(index, []).append(row)
    expected = {}
    for name, minutes in buckets.items():
        figures = {f: [None] * 60 for f in ("latency_p50", "latency_p95", "ttft_p95")}
        figures["requests"] = [0] * 60
        for index, group in minutes.items():
            answered = [r for r in group if r["outcome"] in ("success", "continuation")]
            ids = {r["request_id"] for r in group}
            figures["requests"][index] = len(ids) if key == "virtual_model" else len(group)
            latency = _percentiles([r["latency_ms"] for r in answered])
            ttft = _percentiles([r["ttft_ms"] for r in answered if r["ttft_ms"] is not None])
            figures["latency_p50"][index] = latency["p50"]
            figures["latency_p95"][index] = latency["p95"]
            figures["ttft_p95"][index] = ttft["p95"]
        expected[name] = figures
    return expected


def _check_timeline(engine) -> None:
    rows = _rows()
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(attempts), rows)
    timeline = minute_timeline(engine, now=NOW)
    assert timeline["start"] == "2026-12-01T11:31:00+00:00" and timeline["minutes"] == 60
    for section, key in (("routes", "model"), ("virtual_models", "virtual_model")):
        expected = _expected(rows, key)
        assert set(timeline[section]) == set(expected)
        for name, figures in expected.items():
            for figure, values in figures.items():
                assert timeline[section][name][figure] == values, (section, name, figure)
    # over the whole hour, per virtual model and route: attempts, answers, later answers
    in_hour = [r for r in rows if r["ts"] >= datetime(2026, 12, 1, 11, 31, tzinfo=UTC)]
    v1a = [r for r in in_hour if r["virtual_model"] == "v1" and r["model"] == "p/a"]
    answered = [r for r in v1a if r["outcome"] in ("success", "continuation")]
    assert timeline["answered_by"]["v1"]["p/a"] == {
        "attempts": len(v1a),
        "answered": len(answered),
        "after_retry": sum(1 for r in answered if r["attempt"] > 1),
    }
    total = timeline["totals"]["routes"]["p/a"]
    assert total["requests"] == sum(1 for r in in_hour if r["model"] == "p/a")
    assert sum(timeline["routes"]["p/a"]["requests"]) == total["requests"]


def test_minute_timeline_on_sqlite(tmp_path):
    _check_timeline(create_engine(f"sqlite:///{tmp_path / 'telemetry.db'}"))


def test_minute_timeline_on_postgresql():
    url = database_url(require_postgres(), Path("."))
    schema = f"dashboard_{uuid.uuid4().hex[:10]}"  # never the shared tables of other tests
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        _check_timeline(create_engine(url, connect_args={"options": f"-csearch_path={schema}"}))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# -- the renderer, without a browser --------------------------------------------------------


def _document() -> dict:
    series = {
        "requests": [0] * 57 + [2, 0, 3],
        "successes": [0] * 57 + [2, 0, 2],
        "latency_p50": [None] * 57 + [120.0, None, 80.5],
        "latency_p95": [None] * 57 + [200.0, None, 95.0],
        "ttft_p50": [None] * 59 + [12.0],
        "ttft_p95": [None] * 59 + [15.0],
    }
    evil = "<script>alert(1)</script>"
    return {
        "generated_at": "2026-12-01T12:30:20+00:00",
        "providers": {
            "groq": {
                "type": "groq",
                "usable": True,
                "problem": None,
                "health": {"status": "up", "detail": "200", "checked_at": "x", "latency_ms": 4},
                "cooldown": None,
                "models": {
                    "groq/m1": {
                        "cooldown": None,
                        "quota": {"groq": {"rpm": {"used": 27, "limit": 30}}},
                        "hour": {"requests": 5, "successes": 4, "latency_ms": {"p50": 90}},
                        "day": None,
                        "last_error": {"outcome": "server_error", "message": evil},
                    },
                    "groq/m2": {
                        "cooldown": {"until": "2026-12-01T12:31:20+00:00", "reason": "429"},
                        "quota": {"groq": {"rpm": {"used": 27, "limit": 30}}},
                        "hour": None,
                        "day": None,
                        "last_error": None,
                    },
                },
            }
        },
        "virtual_models": {
            "v": {
                "candidates": ["groq/m2", "groq/m1"],
                "served": {"hour": {"groq/m1": 4}},
                "answered_by": [
                    {"route": "groq/m2", "position": 1, "attempts": 1, "answered": 0},
                    {"route": "groq/m1", "position": 2, "attempts": 4, "answered": 4},
                ],
            }
        },
        "rankings": {
            "v": {
                "profile": "p",
                "order": ["groq/m2", "groq/m1"],
                "candidates": [
                    {"route": "groq/m2", "status": "ranked", "score": 1.0, "position": 1},
                    {
                        "route": "groq/m1",
                        "status": "demoted",
                        "score": 0.5,
                        "position": 2,
                        "reasons": ["demoted: too slow"],
                    },
                ],
            }
        },
        "shared": {"redis": None, "state": "off", "last_error": None},
        "telemetry": {"database": "sqlite:///t.db", "written": 9, "pending": 0, "dropped": 0},
        "timeline": {
            "start": "2026-12-01T11:31:00+00:00",
            "minutes": 60,
            "routes": {"groq/m1": series},
            "virtual_models": {"v": {**series, "after_retry": [0] * 60}},
            "totals": {"routes": {}, "virtual_models": {"v": {"requests": 5, "successes": 4}}},
        },
    }


def test_renderer_draws_every_section_from_the_document():
    page = render_page(_document(), refresh_seconds=7)
    for anchor in SECTION_IDS:
        assert f"<section id='{anchor}'>" in page
    assert "data-refresh='7'" in page and "http-equiv='refresh' content='30'" in page
    # nothing from elsewhere: no src/href to another place, no stylesheet links
    assert "src=" not in page and "<link" not in page and "http://" not in page
    assert not re.search(r"href='(?!#)", page)
    # the charts: a bar per minute with traffic, a point per minute with a value
    charts = re.findall(r"<svg class='chart (bars|lines)'[^>]*data-points='(\d+)'", page)
    points = [(kind, int(n)) for kind, n in charts]
    # per virtual model and per route: requests, success %, latency (p50 + p95), TTFT
    assert points == [("bars", 2), ("lines", 2), ("lines", 4), ("lines", 2)] * 2
    assert page.count("<rect class='fail'") == 2  # the minute with one failure, twice
    # quota bar at 90%: red; the cooling route; the candidates; the ranking with reasons
    assert "class='meter full'" in page and "data-fraction='0.900'" in page
    assert "<tr class='cooldown' data-what='groq/m2'>" in page and ">1m 00s<" in page
    assert re.search(r"data-route='groq/m2' data-answered='0'>.*?cooling down", page)
    assert "data-route='groq/m1' data-answered='4'>" in page
    assert "demoted: too slow" in page and "class='badge demoted'" in page
    # whatever a provider wrote is text, never markup
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    # the fragment the script swaps in is the page's <main>, without the page around it
    fragment = render_main(_document())
    assert fragment in page and "<html" not in fragment and "<script" not in fragment


def test_renderer_copes_with_an_empty_or_older_document():
    old = {
        "generated_at": "2026-12-01T12:30:20+00:00",
        "providers": {},
        "virtual_models": {"v": {"candidates": ["a/b"], "served": {"hour": {"a/b": 2}}}},
        "telemetry": {"database": "x", "written": 0, "pending": 0},
    }
    page = render_page(old, refresh_seconds=0)
    assert "No traffic in the last hour" in page and "data-answered='2'" in page
    assert "http-equiv='refresh'" not in page
    broken = {**old, "timeline": {"error": "no such table"}}
    assert "Per-minute figures unavailable: no such table" in render_main(broken)


# -- through a running gateway ---------------------------------------------------------------


def _rankings(root: Path) -> Path:
    directory = root / "rankings"
    (directory / "sources").mkdir(parents=True)
    speed = {"groq/dash-m1": 0.05, "gemini/gemini-3-pro": 0.5}
    models = {route.rpartition("/")[2]: {"routes": [route]} for route in speed}
    (directory / "models.yaml").write_text(yaml.safe_dump({"models": models}))
    scores = {
        route: {"ttft_seconds": {"value": v, "url": "https://example.org/s", "read": "2026-12-01"}}
        for route, v in speed.items()
    }
    (directory / "sources" / "speed.yaml").write_text(
        yaml.safe_dump({"source": "test figures", "scores": scores})
    )
    profiles = {
        "ttft": {
            "description": "time to first token",
            "terms": {"speed": {"weight": 1, "metrics": {"ttft_seconds": 1}}},
        }
    }
    (directory / "profiles.yaml").write_text(yaml.safe_dump({"profiles": profiles}))
    return directory


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("dashboard")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "limits": {"rpm": 40, "rpd": 1000},
            "models": ["dash-m1", "dash-m2", "fault-429-ra300-dash"],
        },
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["gemini-3-pro"]},
        "deadbox": {  # nothing listens on port 1: the health probe finds it down
            "type": "openai_compatible",
            "api_base": "http://127.0.0.1:1/v1",
            "models": ["x"],
        },
    }
    virtual = {
        "fast": {"profile": "ttft", "candidates": ["gemini/gemini-3-pro", "groq/dash-m1"]},
        "fallback": {"candidates": ["groq/fault-429-ra300-dash", "groq/dash-m2"]},
        "boxed": {"candidates": ["deadbox/x", "groq/dash-m1"]},
    }
    config = write_config(root / "config", providers, virtual, routing={"health_check_interval": 1})
    env = {
        **provider_env(emulator),
        "PROXY_API_KEY": KEY,
        "GATEWAY_RANKINGS_DIR": str(_rankings(root)),
    }
    emulator.set_slow("dash-m1", 0.03)
    try:
        with GatewayProcess(config, root / "data", env=env) as process:
            _traffic(process)
            yield process
    finally:
        emulator.set_slow("dash-m1", 0)


def _chat(gw: GatewayProcess, model: str, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "echo: a b c"}]}
    if stream:
        body["stream"] = True
    return httpx.post(
        gw.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {KEY}"},
        timeout=30,
    )


def _stats(gw: GatewayProcess) -> dict:
    return httpx.get(gw.url + "/stats", headers={"authorization": f"Bearer {KEY}"}).json()


def _traffic(gw: GatewayProcess) -> None:
    """Successes (whole and streamed), a fallback after a 429 that leaves a cooldown, and a
    provider that is down."""
    for stream in (False, True) * 4:
        assert _chat(gw, "fast", stream).status_code == 200
    for _ in range(3):
        response = _chat(gw, "fallback")
        assert response.status_code == 200 and response.json()["model"] == "groq/dash-m2"
    deadline = time.monotonic() + 15
    while (_stats(gw)["providers"]["deadbox"]["health"] or {}).get("status") != "down":
        assert time.monotonic() < deadline, "the health checker never marked deadbox down"
        time.sleep(0.3)
    assert _chat(gw, "boxed").json()["model"] == "groq/dash-m1"


def test_stats_json_keeps_its_keys_and_adds_the_timeline(gw):
    doc = _stats(gw)
    assert {
        "generated_at",
        "providers",
        "virtual_models",
        "rankings",
        "shared",
        "telemetry",
    } <= set(doc)
    m1 = doc["timeline"]["routes"]["groq/dash-m1"]
    assert len(m1["requests"]) == 60 and sum(m1["requests"]) >= 9
    assert any(v is not None for v in m1["ttft_p50"])  # the streamed answers
    fallback = doc["virtual_models"]["fallback"]
    assert fallback["served"]["hour"] == {"groq/dash-m2": 3}  # as before
    assert fallback["answered_by"] == [
        {
            "route": "groq/fault-429-ra300-dash",
            "position": 1,
            "attempts": 1,
            "answered": 0,
            "after_retry": 0,
        },
        {
            "route": "groq/dash-m2",
            "position": 1 + 1,
            "attempts": 3,
            "answered": 3,
            "after_retry": 1,
        },
    ]
    assert doc["timeline"]["totals"]["virtual_models"]["fallback"]["after_retry"] == 1
    fast = doc["virtual_models"]["fast"]["answered_by"]
    assert [c["route"] for c in fast] == ["groq/dash-m1", "gemini/gemini-3-pro"]  # ranked
    assert fast[0]["answered"] == 8


def test_a_browser_is_asked_for_the_key_and_only_the_dashboard_takes_it_so(gw):
    page = gw.url + "/stats/ui"
    refused = httpx.get(page)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Basic realm="gateway dashboard"')
    assert KEY not in refused.text
    assert httpx.get(page, auth=("anyone", "wrong")).status_code == 401
    shown = httpx.get(page, auth=("anyone", KEY))
    assert shown.status_code == 200 and "<section id='rankings'>" in shown.text
    assert httpx.get(page, headers={"authorization": f"Bearer {KEY}"}).status_code == 200
    assert httpx.get(gw.url + "/stats", auth=(KEY, "")).status_code == 200  # curl -u KEY:
    policy = shown.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert shown.headers["cache-control"] == "no-store"
    # the model APIs never take Basic credentials (a browser would replay them cross-site)
    basic = "Basic " + base64.b64encode(f"anyone:{KEY}".encode()).decode()
    chat = httpx.post(
        gw.url + "/v1/chat/completions",
        json={"model": "fast", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": basic},
    )
    assert chat.status_code == 401 and chat.headers["www-authenticate"] == "Bearer"
    fragment = httpx.get(page, params={"fragment": "1"}, auth=("x", KEY))
    assert fragment.status_code == 200 and not fragment.text.startswith("<!doctype")


def _sections(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([a-z-]+)">(.*?)</section>', dom, re.S))


def _row(html: str, css: str, attributes: str) -> str:
    """The `<tr class=css attributes...>` row (attributes as Chromium writes them)."""
    match = re.search(rf'<tr class="{css}" {re.escape(attributes)}[^>]*>.*?</tr>', html, re.S)
    assert match, f"no {css} row with {attributes}"
    return match.group(0)


@pytest.fixture
def chromium() -> str:
    return require_chromium()  # before the gateway starts: a skip costs nothing


def test_the_page_in_headless_chromium(chromium, gw, tmp_path):
    # The key as HTTP Basic credentials, as a browser sends them after its prompt; the page's
    # own refreshes must get in the same way.
    url = gw.url.replace("http://", f"http://dash:{KEY}@") + "/stats/ui"
    dom = dump_dom(chromium, url, budget_ms=8000)
    refreshes = int(re.search(r'data-refreshes="(\d+)"', dom).group(1))
    assert refreshes >= 1, "the page's script never refreshed it"
    assert re.search(r'<span id="live" class="ok">live: updated', dom)

    sections = _sections(dom)
    assert list(sections) == SECTION_IDS
    virtual, routes = sections["virtual-models"], sections["routes"]

    # per virtual model: charts with data points, and which candidate answered
    fast = re.search(r'<article class="card vm" id="vm-fast".*?</article>', virtual, re.S).group(0)
    points = [
        int(n) for n in re.findall(r'class="chart (?:bars|lines)"[^>]*data-points="(\d+)"', fast)
    ]
    assert len(points) == 4 and all(n >= 1 for n in points), points
    assert re.search(r'<rect class="ok"', fast)
    first = _row(fast, "candidate", 'data-route="groq/dash-m1"')
    assert 'data-answered="8"' in first and ">1<" in first
    fallback = re.search(r'id="vm-fallback".*?</article>', virtual, re.S).group(0)
    limited = _row(fallback, "candidate", 'data-route="groq/fault-429-ra300-dash"')
    assert "cooling down" in limited and 'data-answered="0"' in limited
    assert 'data-answered="3"' in _row(fallback, "candidate", 'data-route="groq/dash-m2"')

    # per route: the same charts; the route that is down says so
    m1 = _row(routes, "route", 'data-route="groq/dash-m1"')
    assert re.search(r'data-points="[1-9]', m1)
    assert "down" in _row(routes, "route", 'data-route="deadbox/x"')

    # quota bars, cooldowns, health, rankings
    day = _row(sections["quotas"], "quota", 'data-scope="groq" data-window="rpd"')
    fraction = float(re.search(r'data-fraction="([\d.]+)"', day).group(1))
    assert 0 < fraction < 0.1 and re.search(r">1\d / 1000<", day)  # 13 calls to groq
    cooldown = _row(sections["cooldowns"], "cooldown", 'data-what="groq/fault-429-ra300-dash"')
    assert "rate_limited 429" in cooldown
    assert ">up<" in _row(sections["health"], "provider", 'data-provider="groq"')
    assert ">down<" in _row(sections["health"], "provider", 'data-provider="deadbox"')
    ranking = re.search(r'data-name="fast">.*?</table>', sections["rankings"], re.S).group(0)
    ranked = re.findall(r'<tr class="ranked" data-route="([^"]+)"', ranking)
    assert ranked == ["groq/dash-m1", "gemini/gemini-3-pro"]
    assert ranking.count('class="meter score"') == 2
    assert GROQ_KEY not in dom and KEY not in dom

    # what a person sees: the whole page (at half scale), not a blank or an error page: the
    # dark header, the colours of the charts' bars and of the quota, share and score meters
    image = read_png(screenshot(chromium, url, tmp_path / "dashboard.png"))
    assert (image.width, image.height) == (700, 2000)
    header = image.colours(0, 10)
    assert header[(0x1D, 0x27, 0x33)] > sum(header.values()) // 2
    colours = image.colours(20)
    assert len(colours) > 200
    found = {
        name: sum(n for colour, n in colours.items() if _near(colour, target))
        for name, target in {
            "answered / quota": (0x2E, 0x7D, 0x32),
            "failed": (0xC6, 0x28, 0x28),
            "share / p50": (0x15, 0x65, 0xC0),
            "score / TTFT p50": (0x6A, 0x1B, 0x9A),
        }.items()
    }
    assert all(n > 30 for n in found.values()), found
    # down to the last section: below the middle there is still content, not background
    lower = image.colours(image.height // 2)
    background = lower[(0xF6, 0xF7, 0xF9)] + lower[(0xFF, 0xFF, 0xFF)]
    assert sum(lower.values()) - background > 5000, lower.most_common(5)


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(pixel, colour, strict=True))

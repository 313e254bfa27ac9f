"""Auto-ordered virtual models through a running gateway: a route that turns slow loses its
place within one ranking interval and gets it back once it recovers; `candidates: auto`;
`gateway models --explain` for every shipped virtual model; `gateway rankings update` on
published data files."""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import provider_env
from tests.gateway_process import REPO, GatewayProcess, run_cli, write_config

FIXTURES = Path(__file__).parent / "fixtures" / "rankings"
PROMPT = [{"role": "user", "content": "hi"}]


def _rankings_dir(root: Path, speed: dict[str, dict[str, float]], profiles: dict) -> Path:
    """A rankings directory of the test's own: each route its own model."""
    directory = root / "rankings"
    (directory / "sources").mkdir(parents=True)
    models = {route.rpartition("/")[2]: {"routes": [route]} for route in speed}
    (directory / "models.yaml").write_text(yaml.safe_dump({"models": models}))
    scores = {
        route: {
            metric: {"value": value, "url": "https://example.org/speed", "read": "2026-12-01"}
            for metric, value in figures.items()
        }
        for route, figures in speed.items()
    }
    (directory / "sources" / "speed.yaml").write_text(
        yaml.safe_dump({"source": "test figures", "scores": scores})
    )
    (directory / "profiles.yaml").write_text(yaml.safe_dump({"profiles": profiles}))
    return directory


def _stream(gw: GatewayProcess, model: str) -> str:
    """One streamed answer; returns the route that answered (from the gateway's header)."""
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={"model": model, "messages": PROMPT, "stream": True},
        timeout=30,
    ) as response:
        assert response.status_code == 200, response.read()
        body = "".join(response.iter_text())
    assert "[DONE]" in body
    return response.headers["x-gateway-served-by"]


def _ranking(gw: GatewayProcess, name: str) -> dict:
    return httpx.get(gw.url + "/stats", timeout=10).json()["rankings"][name]


def _wait_for_order(gw: GatewayProcess, name: str, order: list[str], timeout: float) -> float:
    """Seconds until the gateway's order of `name` is `order`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _ranking(gw, name)["order"] == order:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{name} still ordered {_ranking(gw, name)['order']}, wanted {order}")


TTFT_ONLY = {
    "ttft": {
        "description": "time to first token",
        "terms": {"speed": {"weight": 1, "metrics": {"ttft_seconds": 1}}},
    }
}


def test_a_slow_route_loses_its_place_and_gets_it_back(emulator, tmp_path):
    # alpha is published faster than beta, so it goes first; the listed order says beta.
    rankings = _rankings_dir(
        tmp_path,
        {"groq/rank-alpha": {"ttft_seconds": 0.05}, "groq/rank-beta": {"ttft_seconds": 0.2}},
        TTFT_ONLY,
    )
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": ["rank-alpha", "rank-beta"],
        }
    }
    virtual = {
        "live": {"profile": "ttft", "candidates": ["groq/rank-beta", "groq/rank-alpha"]},
        "listed": {
            "profile": "ttft",
            "auto_order": False,
            "candidates": ["groq/rank-beta", "groq/rank-alpha"],
        },
    }
    routing = {
        "ranking_interval": 1,
        "ranking_min_samples": 3,
        "ranking_window_samples": 5,
        "ranking_explore_every": 3,
    }
    config = write_config(tmp_path / "config", providers, virtual, routing=routing)
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**provider_env(emulator), "GATEWAY_RANKINGS_DIR": str(rankings)}
    env["GATEWAY_DB_URL"] = database
    emulator.set_slow("rank-beta", 0.15)  # beta is steady at 150 ms
    try:
        with GatewayProcess(config, tmp_path / "data", env=env) as gw:
            explained = _ranking(gw, "live")
            assert explained["order"] == ["groq/rank-alpha", "groq/rank-beta"]
            assert "listed" not in httpx.get(gw.url + "/stats", timeout=10).json()["rankings"]
            assert _stream(gw, "listed") == "groq/rank-beta"  # auto_order: false
            assert _stream(gw, "live") == "groq/rank-alpha"

            # alpha turns slow today: after min_samples slow answers it loses its place
            emulator.set_slow("rank-alpha", 0.6)
            served = [_stream(gw, "live") for _ in range(3)]
            assert served[0] == "groq/rank-alpha"  # (with the earlier fast sample, two slow
            # ones may already make min_samples: then the third goes to beta)
            waited = _wait_for_order(gw, "live", ["groq/rank-beta", "groq/rank-alpha"], 10)
            assert waited < 1 + 0.5 + 2  # one ranking interval, a telemetry flush, slack
            alpha = next(
                c for c in _ranking(gw, "live")["candidates"] if c["route"] == "groq/rank-alpha"
            )
            reason = next(r for r in alpha["reasons"] if r.startswith("moved down"))
            assert re.search(r"TTFT p50 0\.[1-6]\d* \(published 0\.05\) over \d+ samples", reason)

            # beta serves; alpha keeps a bounded share (every 3rd request) to be re-measured
            served = [_stream(gw, "live") for _ in range(6)]
            assert served.count("groq/rank-alpha") == 2, served

            # alpha recovers: the re-measured answers give it its place back
            emulator.set_slow("rank-alpha", 0)
            for _ in range(30):
                _stream(gw, "live")
                if _ranking(gw, "live")["order"][0] == "groq/rank-alpha":
                    break
                time.sleep(0.1)
            _wait_for_order(gw, "live", ["groq/rank-alpha", "groq/rank-beta"], 5)
            assert _stream(gw, "live") == "groq/rank-alpha"
            html = httpx.get(gw.url + "/stats", params={"format": "html"}, timeout=10).text
            assert "Rankings" in html and "groq/rank-alpha" in html

            # an instance sharing the telemetry database computes the same order
            emulator.set_slow("rank-alpha", 0.6)
            for _ in range(6):
                _stream(gw, "live")
            _wait_for_order(gw, "live", ["groq/rank-beta", "groq/rank-alpha"], 10)
            with GatewayProcess(config, tmp_path / "data2", env=env) as second:
                assert _ranking(second, "live")["order"] == ["groq/rank-beta", "groq/rank-alpha"]
    finally:
        emulator.set_slow("rank-alpha", 0)
        emulator.set_slow("rank-beta", 0)


def test_candidates_auto_ranks_every_route_the_rankings_know(emulator, tmp_path):
    rankings = _rankings_dir(
        tmp_path,
        {
            "groq/auto-fast": {"ttft_seconds": 0.1},
            "groq/auto-slow": {"ttft_seconds": 0.9},
            "gemini/auto-mid": {"ttft_seconds": 0.3},
            "github/openai/auto-nokey": {"ttft_seconds": 0.05},
        },
        TTFT_ONLY,
    )
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": ["auto-fast", "auto-slow", "not-ranked"],
        },
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["auto-mid"]},
        "github": {
            "type": "github",
            "api_key_env": "UNSET_GITHUB_KEY",
            "models": ["openai/auto-nokey"],
        },
    }
    virtual = {
        "router/best": {"profile": "ttft", "candidates": "auto"},
        "groq-only": {"profile": "ttft", "candidates": "auto", "providers": ["groq"]},
    }
    config = write_config(tmp_path / "config", providers, virtual)
    env = {**provider_env(emulator), "GATEWAY_RANKINGS_DIR": str(rankings)}
    env.pop("GITHUB_MODELS_API_KEY")
    result = run_cli("models", "--json", "--config-dir", str(config), env=env)
    assert result.returncode == 0, result.stderr
    chains = {chain["name"]: chain for chain in json.loads(result.stdout)}
    best = chains["router/best"]["candidates"]
    assert [c["route"] for c in best] == [
        "groq/auto-fast",
        "gemini/auto-mid",
        "groq/auto-slow",
        "github/openai/auto-nokey",  # unusable: last, and skipped
    ]
    assert [c["usable"] for c in best] == [True, True, True, False]
    assert [c["route"] for c in chains["groq-only"]["candidates"]] == [
        "groq/auto-fast",
        "groq/auto-slow",
    ]
    explained = run_cli("models", "--explain", "router/best", "--config-dir", str(config), env=env)
    assert "skipped: UNSET_GITHUB_KEY is not set" in explained.stdout, explained.stdout

    with GatewayProcess(config, tmp_path / "data", env=env) as gw:
        answer = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "router/best", "messages": PROMPT},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-gateway-served-by"] == "groq/auto-fast"
        listed = httpx.get(gw.url + "/v1/models", timeout=10).json()["data"]
        assert "router/best" in {m["id"] for m in listed}


SHIPPED_AUTO = [
    "coding-elite",
    "coding-smart",
    "coding-fast",
    "chat-smart",
    "chat-fast",
    "chat-rp",
    "router/best-coding",
]


def _shipped_env(tmp_path: Path) -> dict[str, str]:
    return {
        "GROQ_API_KEY": "k",
        "GEMINI_API_KEY": "k",
        "GITHUB_MODELS_API_KEY": "k",
        "CLOUDFLARE_ACCOUNT_ID": "a",
        "CLOUDFLARE_API_TOKEN": "k",
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.mark.parametrize("name", SHIPPED_AUTO)
def test_explain_every_shipped_virtual_model(tmp_path, name):
    env = _shipped_env(tmp_path)
    text = run_cli("models", "--explain", name, env=env)
    assert text.returncode == 0, text.stderr
    data = run_cli("models", "--explain", name, "--json", env=env)
    explanation = json.loads(data.stdout)
    assert explanation["virtual_model"] == name
    config = yaml.safe_load((REPO / "litellm_config" / "virtual_models.yaml").read_text())
    assert explanation["profile"] == config["virtual_models"][name]["profile"]
    out = text.stdout
    for position, candidate in enumerate(explanation["candidates"], 1):
        assert candidate["position"] == position
        assert f"{position}. {candidate['route']}  [{candidate['status']}]" in out
        for figure in candidate.get("inputs", {}).values():
            published = figure["published"]
            if published:  # each published figure is shown with its source and date
                assert published["url"] and published["read"]
                assert f"({published['url']} read {published['read']})" in out
    assert explanation["order"] == [
        c["route"] for c in explanation["candidates"] if c["status"] != "excluded"
    ]
    assert "sources:" in out


def test_explain_coding_elite_shows_the_threshold(tmp_path):
    result = run_cli("models", "--explain", "coding-elite", env=_shipped_env(tmp_path))
    out = result.stdout
    assert "minimum: SWE-bench Verified >= 70 (below: demote, no figure: demote)" in out
    assert "score: agentic 0.8" in out and "speed 0.15" in out and "availability 0.05" in out
    assert "-> demoted: SWE-bench Verified 62.4 < 70" in out  # gpt-oss-120b's published figure
    assert "https://www.swebench.com/" in out


def test_explain_refuses_a_listed_virtual_model(tmp_path):
    result = run_cli("models", "--explain", "embeddings", env=_shipped_env(tmp_path))
    assert result.returncode == 2
    assert "not an auto-ordered virtual model" in result.stderr
    assert "coding-elite" in result.stderr


def test_shipped_models_listing_follows_the_rankings(tmp_path):
    result = run_cli("models", "--json", env=_shipped_env(tmp_path))
    chains = {c["name"]: c for c in json.loads(result.stdout)}
    elite = run_cli("models", "--explain", "coding-elite", "--json", env=_shipped_env(tmp_path))
    order = json.loads(elite.stdout)["order"]
    assert [c["route"] for c in chains["coding-elite"]["candidates"]][: len(order)] == order
    assert chains["router/best-coding"]["candidates"]  # every chat route the rankings know


# -- gateway rankings update -------------------------------------------------------------


@pytest.fixture
def rankings_copy(tmp_path) -> Path:
    directory = tmp_path / "rankings"
    shutil.copytree(REPO / "rankings", directory)
    return directory


def _update(directory: Path, *args: str):
    return run_cli("rankings", "update", *args, "--rankings-dir", str(directory))


def test_update_from_aiders_leaderboard(rankings_copy):
    source = rankings_copy / "sources" / "aider_polyglot.yaml"
    before = source.read_text()
    source.write_text(before.replace("value: 52.4", "value: 50.0"))
    result = _update(rankings_copy, str(FIXTURES / "polyglot_leaderboard.yml"), "--format", "aider")
    assert result.returncode == 0, result.stderr
    assert "gpt-4.1: 52.4 (was 50)" in result.stdout
    assert "unchanged: gpt-4.1-mini, gpt-oss-120b" in result.stdout  # gpt-oss-120b (high)
    assert "4 leaderboard names matched no model" in result.stdout
    data = yaml.safe_load(source.read_text())
    figure = data["scores"]["gpt-4.1"]
    assert figure["value"] == 52.4 and figure["read"] == date.today()
    assert figure["url"] == "https://aider.chat/docs/leaderboards/"
    assert "row 'gpt-4.1'" in figure["note"]
    # only the changed figure is rewritten: comments and other entries stay as written
    after = source.read_text()
    assert after.splitlines()[:8] == before.splitlines()[:8]
    assert "# Not found: gpt-5-nano" in after
    assert 'note: "gpt-4.1-mini, diff edit format."' in after
    assert "reference_only:" in after


def test_update_from_artificial_analysis(rankings_copy):
    result = _update(
        rankings_copy, str(FIXTURES / "aa_api_v2.json"), "--format", "artificial-analysis"
    )
    assert result.returncode == 0, result.stderr
    # the best of the three "Gemini 3.8 Flash (...)" rows is the shipped figure already
    assert "unchanged: gemini-3.8-flash" in result.stdout
    assert "nothing to write" in result.stdout
    assert "1 rows had no name or no number" in result.stdout

    # route figures (speed) go to the given provider's routes of the model
    speed = _update(
        rankings_copy,
        str(FIXTURES / "aa_api_v2.json"),
        *("--format", "artificial-analysis", "--metric", "ttft_seconds"),
        *("--value", "median_time_to_first_token_seconds", "--provider", "gemini"),
    )
    assert speed.returncode == 0, speed.stderr
    # less is better for time to first token: the fastest variant's row
    assert "gemini/gemini-3.8-flash: 0.688 (was 9.3)" in speed.stdout
    figures = yaml.safe_load((rankings_copy / "sources" / "speed.yaml").read_text())["scores"]
    assert figures["gemini/gemini-3.8-flash"]["ttft_seconds"]["value"] == 0.688
    assert figures["gemini/gemini-3.8-flash"]["tokens_per_second"]["value"] == 342.8  # kept

    missing = _update(
        rankings_copy,
        str(FIXTURES / "aa_api_v2.json"),
        *("--format", "artificial-analysis", "--metric", "tokens_per_second"),
    )
    assert missing.returncode == 2 and "--provider" in missing.stderr


def test_update_from_a_csv_served_over_http(rankings_copy, tmp_path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(FIXTURES))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/leaderboard.csv"
        dry = _update(
            rankings_copy,
            url,
            "--format",
            "csv",
            "--metric",
            "ugi_score",
            "--name",
            "Model",
            "--value",
            "Score",
            "--dry-run",
        )
        assert dry.returncode == 0, dry.stderr
        assert "gemma-4-31b-it: 41.5 (new)" in dry.stdout and "not written" in dry.stdout
        assert (
            yaml.safe_load((rankings_copy / "sources" / "ugi_score.yaml").read_text())["scores"]
            == {}
        )
        wet = _update(
            rankings_copy,
            url,
            "--format",
            "csv",
            "--metric",
            "ugi_score",
            "--name",
            "Model",
            "--value",
            "Score",
        )
        assert "written" in wet.stdout
    finally:
        server.shutdown()
    scores = yaml.safe_load((rankings_copy / "sources" / "ugi_score.yaml").read_text())["scores"]
    assert set(scores) == {"gemma-4-31b-it", "qwen3.8-27b"}
    assert scores["gemma-4-31b-it"]["url"] == url  # a URL source cites itself
    assert "1 rows had no name or no number" in wet.stdout
    # the rewritten data drives the chain: chat-rp now follows UGI
    env = {**_shipped_env(tmp_path), "GATEWAY_RANKINGS_DIR": str(rankings_copy)}
    explained = json.loads(run_cli("models", "--explain", "chat-rp", "--json", env=env).stdout)
    assert explained["order"][0] == "gemini/gemma-4-31b-it"
    scores = {c["route"]: c for c in explained["candidates"]}
    assert scores["groq/qwen/qwen3.8-27b"]["score"] == pytest.approx(38 / 41.5, abs=1e-4)
    # the routes without a UGI figure get the median of the known ones, not 0
    unknown = scores["cloudflare/@cf/google/gemma-4-26b-a4b-it"]
    assert unknown["estimated"] == ["roleplay"]
    assert unknown["score"] == pytest.approx((1 + 38 / 41.5) / 2, abs=1e-4)


def test_update_refuses_what_it_cannot_read(rankings_copy, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = _update(rankings_copy, str(broken), "--format", "json", "--metric", "livecodebench")
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    result = _update(
        rankings_copy, str(FIXTURES / "aa_api_v2.json"), "--format", "json", "--metric", "vibes"
    )
    assert result.returncode == 2 and "no source file scores 'vibes'" in result.stderr
    result = _update(
        rankings_copy, str(tmp_path / "missing.csv"), "--format", "csv", "--metric", "livecodebench"
    )
    assert result.returncode == 1 and "could not read" in result.stderr

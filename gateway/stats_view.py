"""The `/stats` document as terminal text (`gateway stats`); the HTML dashboard is
`gateway.dashboard`."""

from __future__ import annotations

from typing import Any

HEADERS = (
    "route",
    "status",
    "quota",
    "requests h / d",
    "success h / d",
    "p50 / p95 ms (day)",
    "TTFT p50 ms",
    "tok/s",
    "last error",
)


def route_rows(doc: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row of display strings per route, in `HEADERS` order."""
    rows = []
    for provider in doc["providers"].values():
        for route, model in provider["models"].items():
            hour, day = model["hour"] or {}, model["day"] or {}
            quota = "; ".join(
                ", ".join(f"{w} {c['used']}/{c['limit']}" for w, c in windows.items() if c["limit"])
                for windows in model["quota"].values()
            )
            last = model["last_error"] or {}
            rows.append(
                (
                    route,
                    _status(provider, model),
                    quota or "-",
                    f"{hour.get('requests', 0)} / {day.get('requests', 0)}",
                    f"{_rate(hour)} / {_rate(day)}",
                    _pair(day.get("latency_ms")),
                    _num((day.get("ttft_ms") or {}).get("p50")),
                    _num(day.get("tokens_per_second")),
                    f"{last.get('outcome', '')} {last.get('message') or ''}".strip()[:200] or "-",
                )
            )
    return rows


def render_text(doc: dict[str, Any]) -> str:
    rows = [HEADERS, *route_rows(doc)]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(len(HEADERS))]
    lines = ["  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("virtual model: who answered (last hour | last day)")
    for name, virtual in doc["virtual_models"].items():
        served = virtual["served"]
        lines.append(f"  {name}: {_plain(served.get('hour'))} | {_plain(served.get('day'))}")
    t = doc["telemetry"]
    lines.append(
        f"\ntelemetry: {t['database']}, {t['written']} rows written, {t['pending']} pending"
        + (f", last error: {t['last_error']}" if t["last_error"] else "")
    )
    lines.append(f"shared state: {_sharing(doc)}")
    for name, explanation in (doc.get("rankings") or {}).items():
        order = ", ".join(explanation.get("order") or [])
        lines.append(f"ranking {name} ({explanation['profile']}): {order}")
    return "\n".join(lines)


def _sharing(doc: dict[str, Any]) -> str:
    shared = doc.get("shared") or {}
    if not shared.get("redis"):
        return "off (cooldowns and quotas are this instance's own)"
    text = f"{shared['state']} via {shared['redis']}"
    return text + (f", last error: {shared['last_error']}" if shared.get("last_error") else "")


def _plain(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{route} {n}" for route, n in counts.items()) if counts else "-"


def _status(provider: dict[str, Any], model: dict[str, Any]) -> str:
    if not provider["usable"]:
        return f"unusable: {provider['problem']}"
    cooldown = model["cooldown"] or provider["cooldown"]
    if cooldown:
        return f"cooling down until {cooldown['until']} ({cooldown['reason']})"
    health = provider.get("health") or {}
    if health.get("status") == "down":
        return f"down: {health.get('detail')}"
    return "ok"


def _rate(window: dict[str, Any]) -> str:
    rate = window.get("success_rate")
    return "-" if rate is None else f"{rate:.0%}"


def _pair(values: dict[str, Any] | None) -> str:
    values = values or {}
    return f"{_num(values.get('p50'))} / {_num(values.get('p95'))}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}"

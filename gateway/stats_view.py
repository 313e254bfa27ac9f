"""The `/stats` document as an HTML page and as terminal text (`gateway stats`)."""

from __future__ import annotations

import html
from typing import Any

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.bad{color:#a00}.ok{color:#070}
"""


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


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape
    header = "".join(f"<th>{e(h)}</th>" for h in HEADERS)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Gateway stats</title>",
        f"<style>{_STYLE}</style></head><body><h1>Gateway stats</h1>",
        f"<p>Generated {e(doc['generated_at'])}. Telemetry: {e(doc['telemetry']['database'])}, "
        f"{doc['telemetry']['written']} rows written, {doc['telemetry']['pending']} pending. "
        f"Shared state: {e(_sharing(doc))}.</p>",
        f"<h2>Routes</h2><table><tr>{header}</tr>",
    ]
    for row in route_rows(doc):
        css = "ok" if row[1] == "ok" else "bad"
        cells = [
            f"<td class='{css}'>{e(c)}</td>" if i == 1 else f"<td>{e(c)}</td>"
            for i, c in enumerate(row)
        ]
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table><h2>Virtual models: who answered</h2><table>")
    parts.append("<tr><th>virtual model</th><th>last hour</th><th>last day</th></tr>")
    for name, virtual in doc["virtual_models"].items():
        served = virtual["served"]
        parts.append(
            f"<tr><td>{e(name)}</td><td>{_counts(served.get('hour'))}</td>"
            f"<td>{_counts(served.get('day'))}</td></tr>"
        )
    parts.append("</table>")
    parts += _rankings_html(doc.get("rankings") or {})
    parts.append("</body></html>")
    return "".join(parts)


def _rankings_html(rankings: dict[str, Any]) -> list[str]:
    """Each auto-ordered virtual model's current order, scores and reasons."""
    if not rankings:
        return []
    e = html.escape
    parts = ["<h2>Rankings (auto-ordered virtual models)</h2>"]
    for name, explanation in rankings.items():
        parts.append(
            f"<h3>{e(name)}: profile {e(str(explanation['profile']))}</h3>"
            f"<p>{e(explanation.get('description') or '')}</p><table>"
            "<tr><th>#</th><th>route</th><th>status</th><th>score</th><th>why</th></tr>"
        )
        for candidate in explanation["candidates"]:
            score = candidate.get("score")
            parts.append(
                f"<tr><td>{candidate.get('position', '-')}</td><td>{e(candidate['route'])}</td>"
                f"<td>{e(candidate['status'])}</td>"
                f"<td>{'-' if score is None else f'{score:.3f}'}</td>"
                f"<td>{'<br>'.join(e(r) for r in candidate.get('reasons') or []) or '-'}</td>"
                "</tr>"
            )
        parts.append("</table>")
    return parts


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


def _counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return "<br>".join(f"{html.escape(route)}: {n}" for route, n in counts.items())

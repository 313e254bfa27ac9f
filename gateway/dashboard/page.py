"""The `/stats` document as the dashboard's HTML: one pure function per section."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from gateway.dashboard import svg
from gateway.dashboard.assets import SCRIPT, STYLE

SECTIONS = (
    ("virtual-models", "Virtual models"),
    ("routes", "Routes"),
    ("quotas", "Quotas"),
    ("cooldowns", "Cooldowns"),
    ("health", "Health"),
    ("rankings", "Rankings"),
)
_WINDOWS = {
    "rpm": "requests / minute",
    "rpd": "requests / day",
    "tpm": "tokens / minute",
    "tpd": "tokens / day",
    "rpmonth": "requests / month",
}


def render_page(doc: dict[str, Any], *, refresh_seconds: int = 5) -> str:
    """The whole page: the sections, plus the script that re-renders them in place."""
    nav = "".join(f"<a href='#{anchor}'>{title}</a>" for anchor, title in SECTIONS)
    fallback = max(refresh_seconds, 30) if refresh_seconds > 0 else 0
    return "".join(
        [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width,initial-scale=1'>",
            "<title>Gateway dashboard</title>",
            # Without JavaScript the page still refreshes, as a whole and less often.
            f"<noscript><meta http-equiv='refresh' content='{fallback}'></noscript>"
            if fallback
            else "",
            f"<style>{STYLE}</style></head>",
            f"<body data-refresh='{refresh_seconds}' data-refreshes='0'>",
            "<header class='top'><h1>Gateway dashboard</h1>",
            f"<nav>{nav}</nav>",
            "<span id='live'>",
            f"reloads every {fallback} s" if fallback else "not refreshing",
            "</span><button id='pause' type='button' hidden>pause</button></header>",
            f"<main id='dashboard'>{render_main(doc)}</main>",
            f"<script>{SCRIPT}</script></body></html>",
        ]
    )


def render_main(doc: dict[str, Any]) -> str:
    """What the script swaps in at each refresh (`?fragment=1`)."""
    view = _View(doc)
    return "".join(
        [
            _summary(view),
            _virtual_models(view),
            _routes(view),
            _quotas(view),
            _cooldowns(view),
            _health(view),
            _rankings(view),
            _footer(view),
        ]
    )


class _View:
    """The document plus what several sections derive from it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.timeline: dict[str, Any] = doc.get("timeline") or {}
        self.start_minute = _epoch_minute(self.timeline.get("start"))
        self.generated = _parse(doc.get("generated_at"))
        self.routes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
            route: (provider, model)
            for provider in doc.get("providers", {}).values()
            for route, model in provider.get("models", {}).items()
        }

    def state(self, route: str) -> tuple[str, str]:
        """(css class, text) of a route right now."""
        if route not in self.routes:
            return "off", "not configured"
        provider, model = self.routes[route]
        if not provider.get("usable", True):
            return "off", f"unusable: {provider.get('problem')}"
        cooldown = model.get("cooldown") or provider.get("cooldown")
        if cooldown:
            left = self.seconds_left(cooldown.get("until"))
            return "bad", f"cooling down{_for(left)}: {cooldown.get('reason')}"
        health = provider.get("health") or {}
        if health.get("status") == "down":
            return "bad", f"down: {health.get('detail')}"
        full = [
            window
            for windows in (model.get("quota") or {}).values()
            for window, count in windows.items()
            if count.get("limit") and count.get("used", 0) >= count["limit"]
        ]
        if full:
            return "warn", f"at its limit: {', '.join(full)}"
        return "ok", "ok"

    def seconds_left(self, until: str | None) -> float | None:
        end = _parse(until)
        if end is None or self.generated is None:
            return None
        return max(0.0, (end - self.generated).total_seconds())

    def charts(self, figures: dict[str, Any] | None, what: str, width: int) -> str:
        """The four per-minute charts of one route or virtual model."""
        if not figures:
            return "<p class='muted'>No traffic in the last hour.</p>"
        requests, successes = figures["requests"], figures["successes"]
        rate = [
            None if not n else round(100 * ok / n, 1)
            for n, ok in zip(requests, successes, strict=True)
        ]
        start = self.start_minute
        unit = "requests" if what == "virtual model" else "attempts"
        return (
            "<div class='charts'>"
            + _figure(
                svg.bars(
                    requests, successes, start_minute=start, label=f"{unit} per minute", width=width
                ),
                f"{unit} / min ({max(requests)} max)",
                [("ok", "answered"), ("fail", "failed")],
            )
            + _figure(
                svg.lines(
                    [("rate", rate)],
                    start_minute=start,
                    label="success rate per minute",
                    unit="%",
                    ceiling=100,
                    width=width,
                ),
                "success % (0-100)",
                [("rate", "answered")],
            )
            + _figure(
                svg.lines(
                    [("p95", figures["latency_p95"]), ("p50", figures["latency_p50"])],
                    start_minute=start,
                    label="latency per minute, ms",
                    width=width,
                ),
                f"latency ms (max {_ms(_top(figures['latency_p95']))})",
                [("p50", "p50"), ("p95", "p95")],
            )
            + _figure(
                svg.lines(
                    [("t95", figures["ttft_p95"]), ("t50", figures["ttft_p50"])],
                    start_minute=start,
                    label="time to first token per minute, ms",
                    width=width,
                ),
                f"TTFT ms (max {_ms(_top(figures['ttft_p95']))})",
                [("t50", "p50"), ("t95", "p95")],
            )
            + "</div>"
        )


def _summary(view: _View) -> str:
    doc = view.doc
    totals = (view.timeline.get("totals") or {}).get("routes") or {}
    attempts = sum(t.get("requests") or 0 for t in totals.values())
    answered = sum(t.get("successes") or 0 for t in totals.values())
    virtual = (view.timeline.get("totals") or {}).get("virtual_models") or {}
    requests = sum(t.get("requests") or 0 for t in virtual.values())
    cooling = len(_cooldowns_of(doc))
    down = sum(
        1
        for p in doc.get("providers", {}).values()
        if (p.get("health") or {}).get("status") == "down"
    )
    telemetry = doc.get("telemetry") or {}
    tiles = [
        (str(requests), "virtual-model requests, last hour"),
        (str(attempts), "upstream attempts, last hour"),
        (_pct(answered, attempts), "attempts answered"),
        (str(cooling), "cooldowns now"),
        (str(down), "providers down"),
        (str(telemetry.get("pending", 0)), "telemetry rows pending"),
    ]
    error = (view.timeline or {}).get("error")
    return (
        f"<p class='muted'>Figures of {escape(str(doc.get('generated_at')))} (UTC); charts: "
        "the last 60 minutes, one point per minute, the current minute at the right.</p>"
        + (f"<p class='error'>Per-minute figures unavailable: {escape(error)}</p>" if error else "")
        + "<div class='tiles' id='summary'>"
        + "".join(f"<div class='tile'><b>{escape(v)}</b><span>{t}</span></div>" for v, t in tiles)
        + "</div>"
    )


def _virtual_models(view: _View) -> str:
    doc = view.doc
    series = view.timeline.get("virtual_models") or {}
    totals = (view.timeline.get("totals") or {}).get("virtual_models") or {}
    rankings = doc.get("rankings") or {}
    parts = ["<section id='virtual-models'><h2>Virtual models</h2><div class='cards'>"]
    for name, virtual in (doc.get("virtual_models") or {}).items():
        total = totals.get(name) or {}
        ranked = rankings.get(name)
        if ranked:
            how = f"ordered by profile {escape(str(ranked.get('profile')))}"
        elif virtual.get("profile"):
            how = f"listed order (profile {escape(str(virtual['profile']))}, auto_order off)"
        else:
            how = "listed order"
        parts.append(
            f"<article class='card vm' id='vm-{_slug(name)}' data-name='{escape(name)}'>"
            f"<h3>{escape(name)} <small>{how}</small></h3>"
            f"<p>{_figures_line(total, 'requests')}</p>"
            + view.charts(series.get(name), "virtual model", width=270)
            + _answered_by(view, name, virtual, ranked)
            + "</article>"
        )
    if len(parts) == 1:
        parts.append("<p class='muted'>No virtual models are configured.</p>")
    parts.append("</div></section>")
    return "".join(parts)


def _answered_by(
    view: _View, name: str, virtual: dict[str, Any], ranked: dict[str, Any] | None
) -> str:
    """Which candidate answered this virtual model's requests in the last hour."""
    served = virtual.get("answered_by")
    if served is None:  # an older document: only the answer counts
        hour = (virtual.get("served") or {}).get("hour") or {}
        served = [
            {"route": r, "position": i, "answered": hour.get(r, 0), "attempts": None}
            for i, r in enumerate(_order(virtual, ranked, hour), 1)
        ]
    answered_total = sum(c.get("answered") or 0 for c in served)
    rows = []
    for candidate in served:
        route, answered = candidate["route"], candidate.get("answered") or 0
        css, state = view.state(route)
        attempts = candidate.get("attempts")
        failed = "-" if attempts is None else str(attempts - answered)
        share = answered / answered_total if answered_total else 0.0
        bar = svg.meter(share, 1, label=f"{share:.0%} of answers", tone="share", width=90)
        rows.append(
            f"<tr class='candidate' data-route='{escape(route)}' data-answered='{answered}'>"
            f"<td class='num'>{candidate.get('position') or '-'}</td>"
            f"<td>{escape(route)}</td><td class='state {css}'>{escape(state)}</td>"
            f"<td class='share'>{bar} {share:.0%}</td>"
            f"<td class='num'>{answered}</td><td class='num'>{failed}</td>"
            f"<td class='num'>{candidate.get('after_retry', '-')}</td></tr>"
        )
    return (
        "<table class='answered-by'><tr><th>#</th><th>candidate</th><th>now</th>"
        "<th>share</th><th>answered (1 h)</th><th>failed calls</th>"
        "<th>answered after a retry</th></tr>" + "".join(rows) + "</table>"
    )


def _order(virtual: dict[str, Any], ranked: dict[str, Any] | None, extra: Iterable[str]):
    order = list((ranked or {}).get("order") or [])
    order += [r for r in virtual.get("candidates") or [] if r not in order]
    return order + [r for r in extra if r not in order]


def _routes(view: _View) -> str:
    series = view.timeline.get("routes") or {}
    rows = []
    for route, (_provider, model) in view.routes.items():
        css, state = view.state(route)
        hour = model.get("hour") or {}
        last = model.get("last_error") or {}
        error = f"{last.get('outcome', '')} {last.get('message') or ''}".strip()
        rows.append(
            f"<tr class='route' data-route='{escape(route)}'><td>{escape(route)}</td>"
            f"<td class='state {css}'>{escape(state)}</td>"
            f"<td>{_figures_line(hour, 'attempts')}</td>"
            f"<td>{view.charts(series.get(route), 'route', width=150)}</td>"
            + (f"<td class='error'>{escape(_cut(error, 200))}</td>" if error else "<td>-</td>")
            + "</tr>"
        )
    return (
        "<section id='routes'><h2>Routes</h2>"
        "<table><tr><th>route</th><th>now</th><th>last hour</th>"
        "<th>per minute: attempts, success %, latency, TTFT</th><th>last error (day)</th></tr>"
        + "".join(rows)
        + "</table></section>"
    )


def _quotas(view: _View) -> str:
    scopes: dict[str, dict[str, dict[str, Any]]] = {}
    for _provider, model in view.routes.values():
        for scope, windows in (model.get("quota") or {}).items():
            scopes.setdefault(scope, windows)
    rows = []
    for scope, windows in scopes.items():
        for window, count in windows.items():
            limit, used = count.get("limit"), count.get("used") or 0
            if not limit:
                continue
            label = f"{scope}: {used} of {limit} {_WINDOWS.get(window, window)}"
            rows.append(
                f"<tr class='quota' data-scope='{escape(scope)}' data-window='{escape(window)}'>"
                f"<td>{escape(scope)}</td><td>{escape(_WINDOWS.get(window, window))}</td>"
                f"<td>{svg.meter(used, limit, label=label)}</td>"
                f"<td class='num'>{used} / {limit}</td><td class='num'>{_pct(used, limit)}</td>"
                "</tr>"
            )
    body = (
        "<table><tr><th>counted for</th><th>window</th><th>used</th><th>used / limit</th>"
        "<th>%</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p class='muted'>No free-tier limits are configured.</p>"
    )
    return (
        "<section id='quotas'><h2>Quotas</h2><p class='muted'>Counted before each call: a "
        "route at a limit is skipped until the window frees (minute windows slide; days end "
        "at the provider's midnight).</p>" + body + "</section>"
    )


def _cooldowns_of(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, provider in (doc.get("providers") or {}).items():
        if provider.get("cooldown"):
            found.append((name, "whole provider", provider["cooldown"]))
        for route, model in (provider.get("models") or {}).items():
            if model.get("cooldown"):
                found.append((route, "route", model["cooldown"]))
    return found


def _cooldowns(view: _View) -> str:
    rows = [
        f"<tr class='cooldown' data-what='{escape(what)}'><td>{escape(what)}</td>"
        f"<td>{kind}</td><td class='num'>{_seconds(view.seconds_left(c.get('until')))}</td>"
        f"<td>{escape(str(c.get('until')))}</td><td>{escape(str(c.get('reason')))}</td></tr>"
        for what, kind, c in _cooldowns_of(view.doc)
    ]
    body = (
        "<table><tr><th>resting</th><th>scope</th><th>left</th><th>until</th><th>why</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p class='muted' id='no-cooldowns'>Nothing is cooling down.</p>"
    )
    return "<section id='cooldowns'><h2>Cooldowns</h2>" + body + "</section>"


def _health(view: _View) -> str:
    rows = []
    for name, provider in (view.doc.get("providers") or {}).items():
        health = provider.get("health") or {}
        if not provider.get("usable", True):
            css, status = "off", f"unusable: {provider.get('problem')}"
        elif not health:
            css, status = "off", "not probed"
        else:
            status = str(health.get("status"))
            css = {"up": "ok", "down": "bad"}.get(status, "warn")
        probe = health.get("latency_ms")
        rows.append(
            f"<tr class='provider' data-provider='{escape(name)}'><td>{escape(name)}</td>"
            f"<td>{escape(str(provider.get('type')))}</td>"
            f"<td class='state {css}'>{escape(status)}</td>"
            f"<td>{escape(str(health.get('detail') or '-'))}</td>"
            f"<td>{escape(str(health.get('checked_at') or '-'))}</td>"
            f"<td class='num'>{_ms(probe)}</td></tr>"
        )
    return (
        "<section id='health'><h2>Health</h2><p class='muted'>Each provider's model list "
        "(<code>GET /models</code>, no quota spent) at <code>health_check_interval</code>; a "
        "provider that is down is skipped without a call.</p>"
        "<table><tr><th>provider</th><th>type</th><th>health</th><th>detail</th>"
        "<th>checked</th><th>probe ms</th></tr>" + "".join(rows) + "</table></section>"
    )


def _rankings(view: _View) -> str:
    rankings = view.doc.get("rankings") or {}
    parts = ["<section id='rankings'><h2>Rankings</h2>"]
    if not rankings:
        parts.append(
            "<p class='muted'>No virtual model is auto-ordered (give one a "
            "<code>profile</code> in virtual_models.yaml).</p></section>"
        )
        return "".join(parts)
    for name, explanation in rankings.items():
        computed = explanation.get("computed_at")
        parts.append(
            f"<div class='ranking' id='ranking-{_slug(name)}' data-name='{escape(name)}'>"
            f"<h3>{escape(name)} <small>profile {escape(str(explanation.get('profile')))}"
            f"{', computed ' + escape(computed) if computed else ''}</small></h3>"
            f"<p class='muted'>{escape(explanation.get('description') or '')}</p>"
            "<table><tr><th>#</th><th>route</th><th>status</th><th>score</th><th>why</th></tr>"
        )
        for candidate in explanation.get("candidates") or []:
            score = candidate.get("score")
            status = str(candidate.get("status"))
            reasons = "".join(f"<li>{escape(r)}</li>" for r in candidate.get("reasons") or [])
            meter = (
                svg.meter(score, 1, label=f"score {score:.3f}", tone="score", width=90)
                + f" {score:.3f}"
                if score is not None
                else "-"
            )
            parts.append(
                f"<tr class='ranked' data-route='{escape(str(candidate.get('route')))}'>"
                f"<td class='num'>{candidate.get('position', '-')}</td>"
                f"<td>{escape(str(candidate.get('route')))}</td>"
                f"<td><span class='badge {escape(status)}'>{escape(status)}</span></td>"
                f"<td>{meter}</td>"
                f"<td>{f'<ul class=reasons>{reasons}</ul>' if reasons else '-'}</td></tr>"
            )
        parts.append("</table></div>")
    parts.append("</section>")
    return "".join(parts)


def _footer(view: _View) -> str:
    doc = view.doc
    t = doc.get("telemetry") or {}
    shared = doc.get("shared") or {}
    sharing = (
        f"{shared.get('state')} via {shared.get('redis')}"
        if shared.get("redis")
        else "off (cooldowns and quotas are this instance's own)"
    )
    error = t.get("last_error") or shared.get("last_error")
    return (
        f"<footer id='telemetry'>Telemetry: {escape(str(t.get('database')))}, "
        f"{t.get('written', 0)} rows written, {t.get('pending', 0)} pending, "
        f"{t.get('dropped', 0)} dropped. Shared state: {escape(sharing)}."
        + (f" <span class='error'>Last error: {escape(str(error))}</span>" if error else "")
        + " JSON: <code>/stats</code>.</footer>"
    )


def _figure(chart: str, caption: str, keys: list[tuple[str, str]]) -> str:
    legend = "".join(f"<i class='key-{css}'></i>{escape(text)}" for css, text in keys)
    return (
        f"<figure>{chart}<figcaption>{escape(caption)}"
        f"<span class='legend'>{legend}</span></figcaption></figure>"
    )


def _figures_line(window: dict[str, Any], noun: str) -> str:
    if not window or not window.get("requests"):
        return f"<span class='muted'>no {noun} in the last hour</span>"
    requests = window["requests"]
    latency = window.get("latency_ms") or {}
    ttft = window.get("ttft_ms") or {}
    p50 = window.get("latency_p50", latency.get("p50"))
    p95 = window.get("latency_p95", latency.get("p95"))
    t50 = window.get("ttft_p50", ttft.get("p50"))
    retried = window.get("after_retry")
    return (
        f"<b>{requests}</b> {noun} · <b>{_pct(window.get('successes') or 0, requests)}</b> "
        f"answered · latency p50 <b>{_ms(p50)}</b> / p95 {_ms(p95)} ms · TTFT p50 "
        f"<b>{_ms(t50)}</b> ms"
        + (f" · {retried} answered after a retry or fallback" if retried else "")
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _top(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    value = round(value)
    return f"{value // 60}m {value % 60:02d}s" if value >= 60 else f"{value}s"


def _for(seconds: float | None) -> str:
    return "" if seconds is None else f" for {_seconds(seconds)}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "x"


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _epoch_minute(start: str | None) -> int:
    moment = _parse(start)
    return int(moment.timestamp() // 60) if moment else 0

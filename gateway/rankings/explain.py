"""`gateway models --explain NAME`: why an auto-ordered chain is in its order, as a table a
user can check against the cited leaderboards."""

from __future__ import annotations

from typing import Any

from gateway.rankings.data import metric_label


def label(metric: str) -> str:
    return metric_label(metric)


def render_text(explanation: dict[str, Any]) -> str:
    lines = [
        f"{explanation['virtual_model']}: profile {explanation['profile']}",
        f"  {explanation['description']}".rstrip(),
    ]
    if minimum := explanation.get("minimum"):
        lines.append(
            f"  minimum: {label(minimum['metric'])} >= {minimum['value']:g} "
            f"(below: {minimum['below']}, no figure: {minimum['unknown']})"
        )
    terms = ", ".join(
        f"{name} {term['weight']:g} ({', '.join(label(m) for m in term['metrics'])})"
        for name, term in explanation["terms"].items()
    )
    lines.append(f"  score: {terms}")
    if explanation.get("computed_at"):
        lines.append(f"  computed at {explanation['computed_at']}")
    lines.append("")
    for candidate in explanation["candidates"]:
        position = candidate.get("position", "-")
        score = candidate.get("score")
        shown = f"score {score:.3f}" if score is not None else "no score"
        lines.append(f"{position}. {candidate['route']}  [{candidate['status']}]  {shown}")
        if candidate.get("model"):
            lines.append(f"     model: {candidate['model']}")
        for metric, value in (candidate.get("inputs") or {}).items():
            lines.append(f"     {label(metric):<20} {_input_text(value)}")
        if terms_of := candidate.get("terms"):
            parts = []
            for name, value in terms_of.items():
                shown_value = "n/a" if value is None else f"{value:.3f}"
                if name in candidate.get("estimated", []):
                    shown_value += " (no figure: the chain's median)"
                parts.append(f"{name} {shown_value}")
            lines.append(f"     terms: {'; '.join(parts)}")
        for reason in candidate.get("reasons") or ():
            lines.append(f"     -> {reason}")
    sources = {k: v for k, v in (explanation.get("sources") or {}).items() if v}
    if sources:
        lines.append("")
        lines.append("sources:")
        for metric, source in sources.items():
            lines.append(f"  {label(metric)}: {source['name']} {source.get('url') or ''}".rstrip())
    return "\n".join(lines)


def _input_text(value: dict[str, Any]) -> str:
    if value["value"] is None and value["live"] is None:
        return "unknown"
    parts = []
    published = value.get("published")
    if published:
        where = published.get("url") or ""
        read = f" read {published['read']}" if published.get("read") else ""
        parts.append(f"published {published['value']:g} ({where}{read})")
    if value.get("live") is not None:
        parts.append(f"live {value['live']:.3g} over {value['samples']} samples")
    used = value["value"]
    origin = value["origin"]
    if used is None:
        parts.append("not used yet (too few samples)")
    elif origin in ("blended", "derived"):
        parts.append(f"{origin} {used:.3g}")
    return "; ".join(parts)

"""Scoring a chain's candidates by a profile: pure functions, no I/O.

A profile's score is a weighted sum of terms; a term is the weighted mean of its metrics, each
metric relative to the best value among the chain's own candidates (value / best, or
best / value where less is better, e.g. time to first token). So a chain's candidates are
compared with each other, not against an absolute scale.

**Missing figures are unknown, not zero.** Within a term, a metric a candidate has no figure
for is left out and the others' weights renormalised. A candidate with no figure at all for a
term gets, for that term, the median of the other candidates' values (so missing data neither
promotes nor buries it) and is marked "estimated"; a term no candidate has a figure for is left
out of every score. A profile's minimum says what a candidate without the figure it checks
gets (`unknown`: exclude, demote or keep).

**Live figures** (per route, from telemetry) blend with the published ones: with `n` samples
of `ranking_min_samples` needed, the value used is `n/min * live + (1 - n/min) * published`,
and the live value alone from `min` samples on. A route without a published figure uses its
live one once it has `min` samples.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.rankings.data import (
    LOWER_IS_BETTER,
    Figure,
    Profile,
    RankingData,
    figure_dict,
    metric_label,
)

# A 200-token answer: what "response time" means for chat-fast's intelligence / response time.
RESPONSE_TOKENS = 200
# What a derived metric is computed from (shown beside it in explanations).
_DERIVED_FROM = {
    "response_seconds": ("ttft_seconds", "tokens_per_second"),
    "intelligence_per_second": (
        "intelligence_index",
        "response_seconds",
        "ttft_seconds",
        "tokens_per_second",
    ),
}


@dataclass(frozen=True)
class LiveSignals:
    """A route's recent attempts, from telemetry."""

    samples: int = 0  # attempts that say something about the route (its availability)
    successes: int = 0
    timed: int = 0  # successes with a time to first token
    ttft_seconds: float | None = None  # p50
    tokens_per_second: float | None = None  # p50
    latency_seconds: float | None = None  # p50

    def value(self, metric: str) -> tuple[float | None, int]:
        """(live value, samples behind it) for a route metric."""
        if metric == "availability":
            return (self.successes / self.samples if self.samples else None), self.samples
        if metric in ("ttft_seconds", "tokens_per_second", "latency_seconds"):
            return getattr(self, metric), self.timed
        return None, 0


@dataclass(frozen=True)
class Input:
    """One metric of one candidate: what the score used and where it came from."""

    metric: str
    value: float | None
    origin: str  # "published" | "live" | "blended" | "derived" | "none"
    published: Figure | None = None
    live: float | None = None
    samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "origin": self.origin,
            "published": figure_dict(self.published),
            "live": self.live,
            "samples": self.samples,
        }


@dataclass
class Ranked:
    """One candidate's place: its score, the inputs behind it, and why it stands there."""

    route: str
    model: str | None
    status: str = "ranked"  # "ranked" | "demoted" | "excluded"
    score: float | None = None
    terms: dict[str, float | None] = field(default_factory=dict)
    estimated: list[str] = field(default_factory=list)  # terms given the chain's median
    inputs: dict[str, Input] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "model": self.model,
            "status": self.status,
            "score": None if self.score is None else round(self.score, 4),
            "terms": {k: None if v is None else round(v, 4) for k, v in self.terms.items()},
            "estimated": self.estimated,
            "inputs": {k: v.as_dict() for k, v in self.inputs.items()},
            "reasons": self.reasons,
        }


_STATUS_ORDER = {"ranked": 0, "demoted": 1, "excluded": 2}


def rank(
    routes: Sequence[str],
    data: RankingData,
    profile: Profile,
    live: Mapping[str, LiveSignals] | None = None,
    min_samples: int = 20,
) -> list[Ranked]:
    """The candidates in their order: ranked by score, then demoted by score; excluded last
    (the chain skips them). Ties keep the listed order."""
    live = live or {}
    metrics = {m for term in profile.terms.values() for m in term.metrics}
    if profile.minimum is not None:
        metrics.add(profile.minimum.metric)
    for metric in list(metrics):
        metrics.update(_DERIVED_FROM.get(metric, ()))
    ranked = [Ranked(route, data.model_for(route)) for route in routes]
    for candidate in ranked:
        signals = live.get(candidate.route, LiveSignals())
        for metric in sorted(metrics):
            candidate.inputs[metric] = _input(data, candidate.route, metric, signals, min_samples)
    _apply_minimum(ranked, profile)
    _score(ranked, profile)
    position = {route: index for index, route in enumerate(routes)}
    ranked.sort(
        key=lambda c: (
            _STATUS_ORDER[c.status],
            -(c.score if c.score is not None else -1.0),
            position[c.route],
        )
    )
    return ranked


def _input(
    data: RankingData, route: str, metric: str, signals: LiveSignals, min_samples: int
) -> Input:
    if metric == "response_seconds":
        return _response_seconds(data, route, signals, min_samples)
    if metric == "intelligence_per_second":
        intelligence = _input(data, route, "intelligence_index", signals, min_samples).value
        response = _response_seconds(data, route, signals, min_samples).value
        if intelligence is None or not response:
            return Input(metric, None, "none")
        return Input(metric, intelligence / response, "derived")
    published = data.published(route, metric)
    live_value, samples = signals.value(metric)
    return blend(metric, published, live_value, samples, min_samples)


def blend(
    metric: str,
    published: Figure | None,
    live_value: float | None,
    samples: int,
    min_samples: int,
) -> Input:
    if live_value is None or samples == 0:
        if published is None:
            return Input(metric, None, "none")
        return Input(metric, published.value, "published", published)
    share = min(1.0, samples / max(1, min_samples))
    if published is None:
        if share < 1.0:
            return Input(metric, None, "none", None, live_value, samples)
        return Input(metric, live_value, "live", None, live_value, samples)
    if share >= 1.0:
        return Input(metric, live_value, "live", published, live_value, samples)
    value = share * live_value + (1 - share) * published.value
    return Input(metric, value, "blended", published, live_value, samples)


def _response_seconds(
    data: RankingData, route: str, signals: LiveSignals, min_samples: int
) -> Input:
    ttft = _input(data, route, "ttft_seconds", signals, min_samples).value
    speed = _input(data, route, "tokens_per_second", signals, min_samples).value
    if ttft is None or not speed:
        return Input("response_seconds", None, "none")
    return Input("response_seconds", ttft + RESPONSE_TOKENS / speed, "derived")


def _apply_minimum(ranked: list[Ranked], profile: Profile) -> None:
    minimum = profile.minimum
    if minimum is None:
        return
    for candidate in ranked:
        value = candidate.inputs[minimum.metric].value
        label = metric_label(minimum.metric)
        if value is None:
            if minimum.unknown != "keep":
                candidate.status = "excluded" if minimum.unknown == "exclude" else "demoted"
                candidate.reasons.append(
                    f"{candidate.status}: no {label} figure (minimum {minimum.value:g})"
                )
        elif value < minimum.value:
            candidate.status = "excluded" if minimum.below == "exclude" else "demoted"
            candidate.reasons.append(f"{candidate.status}: {label} {value:g} < {minimum.value:g}")


def _score(ranked: list[Ranked], profile: Profile) -> None:
    term_values: dict[str, dict[str, float | None]] = {}
    for name, term in profile.terms.items():
        best = {metric: _best(ranked, metric) for metric in term.metrics}
        values: dict[str, float | None] = {}
        for candidate in ranked:
            total = weights = 0.0
            for metric, weight in term.metrics.items():
                value = candidate.inputs[metric].value
                if value is None or not best[metric]:
                    continue
                relative = (
                    best[metric] / value if metric in LOWER_IS_BETTER else value / best[metric]
                )
                total += weight * relative
                weights += weight
            values[candidate.route] = total / weights if weights else None
        term_values[name] = values
    for candidate in ranked:
        total = weights = 0.0
        for name, term in profile.terms.items():
            values = term_values[name]
            known = [v for v in values.values() if v is not None]
            if not known:
                candidate.terms[name] = None
                continue  # no candidate has a figure: the term is left out for everyone
            value = values[candidate.route]
            if value is None:
                others = [v for r, v in values.items() if v is not None and r != candidate.route]
                value = statistics.median(others)
                candidate.estimated.append(name)
            candidate.terms[name] = value
            total += term.weight * value
            weights += term.weight
        candidate.score = total / weights if weights else None


def _best(ranked: list[Ranked], metric: str) -> float | None:
    values = [c.inputs[metric].value for c in ranked if c.inputs[metric].value is not None]
    if not values:
        return None
    return min(values) if metric in LOWER_IS_BETTER else max(values)

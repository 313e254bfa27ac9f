"""Auto-ordered virtual models at runtime: their order, recomputed from the published figures
and the latest live ones every `routing.ranking_interval` seconds, without a restart.

Every instance that shares the telemetry database computes the same order from the same
rows. A route the live figures moved down still gets every `ranking_explore_every`-th request
of its chain (put first for that request), so its figures are re-measured and it can climb
back once it recovers. Cooldowns, quotas and health still skip a route whatever its rank.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from gateway.catalog import Catalog, Chain
from gateway.config import RoutingSettings
from gateway.rankings.data import RankingData, Source
from gateway.rankings.score import LiveSignals, Ranked, rank
from gateway.tasks import stop_task

log = logging.getLogger("gateway.rankings")

SignalsReader = Callable[[list[str]], Mapping[str, LiveSignals]]


@dataclass
class ChainRanking:
    """One auto-ordered chain: its listed form and its current order with the reasons."""

    listed: Chain
    current: Chain
    ranked: list[Ranked] = field(default_factory=list)
    static_order: list[str] = field(default_factory=list)  # published figures only
    live_demoted: list[str] = field(default_factory=list)
    computed_at: datetime | None = None
    requests: itertools.count = field(default_factory=itertools.count)


class Ranker:
    def __init__(
        self,
        catalog: Catalog,
        data: RankingData,
        routing: RoutingSettings,
        signals: SignalsReader | None = None,
    ) -> None:
        self.data = data
        self.routing = routing
        self._signals = signals
        self._task: asyncio.Task[None] | None = None
        self.chains: dict[str, ChainRanking] = {
            chain.name: ChainRanking(chain, chain)
            for chain in catalog.virtual_models.values()
            if chain.ordered_by
        }
        self.recompute({})

    # -- per request -----------------------------------------------------------------------

    def apply(self, chain: Chain) -> Chain:
        """The chain in its current order (and, every `ranking_explore_every`-th request, with
        a route the live figures moved down tried first)."""
        ranking = self.chains.get(chain.name)
        if ranking is None:
            return chain
        every = self.routing.ranking_explore_every
        if not every or not ranking.live_demoted:
            return ranking.current
        turn = next(ranking.requests)
        if turn % every != every - 1:
            return ranking.current
        route = ranking.live_demoted[(turn // every) % len(ranking.live_demoted)]
        candidates = list(ranking.current.candidates)
        first = next(c for c in candidates if c.ref == route)
        candidates.remove(first)
        return replace(ranking.current, candidates=(first, *candidates))

    def apply_order(self, chain: Chain) -> Chain:
        """The chain in its current order (no exploration: for listing it)."""
        ranking = self.chains.get(chain.name)
        return ranking.current if ranking is not None else chain

    # -- recomputing -----------------------------------------------------------------------

    def recompute(self, live: Mapping[str, LiveSignals]) -> list[str]:
        """Order every auto chain again; returns the names whose order changed."""
        changed = []
        for name, ranking in self.chains.items():
            before = [c.ref for c in ranking.current.candidates]
            self._rank(ranking, live)
            if [c.ref for c in ranking.current.candidates] != before:
                changed.append(name)
        return changed

    def _rank(self, ranking: ChainRanking, live: Mapping[str, LiveSignals]) -> None:
        chain = ranking.listed
        profile = self.data.profiles[chain.ordered_by or ""]
        usable = [c.ref for c in chain.candidates if c.usable]
        min_samples = self.routing.ranking_min_samples
        ranked = rank(usable, self.data, profile, live, min_samples)
        static = [r.route for r in rank(usable, self.data, profile, {}, min_samples)]
        order = [r.route for r in ranked if r.status != "excluded"]
        by_ref = {c.ref: c for c in chain.candidates}
        unusable = [c for c in chain.candidates if not c.usable]
        ranking.current = replace(chain, candidates=(*(by_ref[ref] for ref in order), *unusable))
        ranking.ranked = ranked
        ranking.static_order = static
        ranking.live_demoted = [
            route for route in order if route in static and order.index(route) > static.index(route)
        ]
        for candidate in ranked:
            if candidate.route in ranking.live_demoted:
                candidate.reasons.append(_live_reason(candidate))
        ranking.computed_at = datetime.now(UTC)

    async def refresh(self) -> None:
        """Read the live figures and recompute (in a worker thread: it queries the database)."""
        if self._signals is None or not self.chains:
            return
        routes = sorted(
            {c.ref for r in self.chains.values() for c in r.listed.candidates if c.usable}
        )
        live = await asyncio.to_thread(self._signals, routes)
        for name in self.recompute(live):
            ranking = self.chains[name]
            log.info(
                "rankings: %s now tries %s",
                name,
                ", ".join(c.ref for c in ranking.current.candidates),
            )

    def start(self) -> None:
        if self._task is None and self.chains and self._signals is not None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rankings")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.routing.ranking_interval)
            try:
                await self.refresh()
            except Exception as exc:  # a database hiccup keeps the current order
                log.warning("rankings: could not read live figures (%s)", type(exc).__name__)

    # -- explaining ------------------------------------------------------------------------

    def explain(self, name: str) -> dict[str, Any]:
        ranking = self.chains[name]
        profile = self.data.profiles[ranking.listed.ordered_by or ""]
        unusable = [
            {"route": c.ref, "status": "unusable", "reasons": [f"skipped: {c.problem}"]}
            for c in ranking.listed.candidates
            if not c.usable
        ]
        return {
            "virtual_model": name,
            "profile": ranking.listed.ordered_by,
            "description": profile.description,
            "minimum": profile.minimum.model_dump() if profile.minimum else None,
            "terms": {k: t.model_dump() for k, t in profile.terms.items()},
            "computed_at": ranking.computed_at.isoformat() if ranking.computed_at else None,
            "order": [c.ref for c in ranking.current.candidates],
            "candidates": [
                {**candidate, "position": position}
                for position, candidate in enumerate(
                    [r.as_dict() for r in ranking.ranked] + unusable, 1
                )
            ],
            "sources": {
                metric: _source_dict(self.data.sources.get(metric))
                for metric in _metrics_of(ranking.ranked)
            },
        }

    def explain_all(self) -> dict[str, Any]:
        return {name: self.explain(name) for name in self.chains}


def _live_reason(candidate: Ranked) -> str:
    """Why live figures moved a route down: the route metrics measured worse than published."""
    parts = []
    for metric in ("ttft_seconds", "tokens_per_second", "availability"):
        live = candidate.inputs.get(metric)
        if live is None or live.live is None:
            continue
        published = live.published.value if live.published else None
        label = {"ttft_seconds": "TTFT p50", "tokens_per_second": "tokens/s p50"}.get(
            metric, "availability"
        )
        was = f" (published {published:g})" if published is not None else ""
        parts.append(f"{label} {live.live:.3g}{was} over {live.samples} samples")
    return "moved down by live figures: " + ("; ".join(parts) or "recent measurements")


def _metrics_of(ranked: list[Ranked]) -> list[str]:
    return sorted({metric for r in ranked for metric in r.inputs})


def _source_dict(source: Source | None) -> dict[str, Any] | None:
    if source is None:
        return None
    return {"name": source.name, "url": source.url, "unit": source.unit}

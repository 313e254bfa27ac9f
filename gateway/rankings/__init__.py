"""Benchmark- and telemetry-based ordering of virtual models' candidates (`auto_order`)."""

from gateway.rankings.data import (
    DEFAULT_RANKINGS_DIR,
    Profile,
    RankingData,
    canonical_model,
    load_ranking_data,
)
from gateway.rankings.score import LiveSignals, Ranked, rank

__all__ = [
    "DEFAULT_RANKINGS_DIR",
    "LiveSignals",
    "Profile",
    "Ranked",
    "RankingData",
    "canonical_model",
    "load_ranking_data",
    "rank",
]

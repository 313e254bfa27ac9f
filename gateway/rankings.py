"""Benchmark-based candidate ordering for `auto_order: true` virtual models.

Scores come from `rankings/benchmarks.yaml`, weights from `rankings/profiles.yaml`. Each metric
is normalised by the best value among the chain's own candidates, so a profile compares the
candidates against each other rather than against an absolute scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gateway.config import ConfigError
from gateway.config.loader import load_yaml_file

DEFAULT_RANKINGS_DIR = Path(__file__).resolve().parent.parent / "rankings"


class _Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weights: dict[str, float] = Field(min_length=1)


class _ProfilesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profiles: dict[str, _Profile]


class _BenchmarksFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: dict[str, dict[str, float]]


@dataclass(frozen=True)
class Rankings:
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)

    def order(self, model_ids: Sequence[str], refs: Sequence[str], profile: str) -> list[str]:
        """`refs` (chain entries) sorted by the profile's score of their `model_ids`."""
        weights = self.profiles.get(profile)
        if weights is None:
            raise ConfigError(f"unknown ranking profile {profile!r}")
        metrics = [self.scores.get(benchmark_key(m), {}) for m in model_ids]
        best = {
            metric: max((m.get(metric, 0.0) for m in metrics), default=0.0) for metric in weights
        }
        scored = []
        for index, (ref, values) in enumerate(zip(refs, metrics, strict=True)):
            score = sum(
                weight * values.get(metric, 0.0) / best[metric]
                for metric, weight in weights.items()
                if best[metric] > 0
            )
            scored.append((-score, index, ref))
        return [ref for _, _, ref in sorted(scored)]


def benchmark_key(model_id: str) -> str:
    """`@cf/qwen/qwen3.8-27b` -> `qwen3.8-27b`: scores belong to models, not to hosts."""
    return model_id.rsplit("/", 1)[-1].lower()


def load_rankings(directory: Path = DEFAULT_RANKINGS_DIR) -> Rankings:
    benchmarks = load_yaml_file(directory / "benchmarks.yaml", _BenchmarksFile)
    profiles = load_yaml_file(directory / "profiles.yaml", _ProfilesFile)
    return Rankings(
        scores={benchmark_key(k): v for k, v in benchmarks.models.items()},
        profiles={name: p.weights for name, p in profiles.profiles.items()},
    )

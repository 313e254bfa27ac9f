"""The rankings data: who a route's model is, the published figures per benchmark (each with
its source and the date it was read), per-route speed figures, and the scoring profiles.

Files in `rankings/` (or `GATEWAY_RANKINGS_DIR`):
- `models.yaml`: one canonical name per model and the gateway routes that serve it (the alias
  table: figures belong to a model, whichever provider serves it);
- `sources/<metric>.yaml`: one benchmark each, scores keyed by canonical model name;
- `sources/speed.yaml`: output tokens/s and time to first token, keyed by route, since speed
  belongs to the host;
- `profiles.yaml`: how each auto-ordered virtual model scores its candidates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.config import ConfigError
from gateway.config.loader import load_yaml_file

DEFAULT_RANKINGS_DIR = Path(__file__).resolve().parent.parent.parent / "rankings"
SPEED_FILE = "speed.yaml"

METRIC_LABELS = {
    "swe_bench_verified": "SWE-bench Verified",
    "swe_bench_pro": "SWE-bench Pro",
    "terminal_bench": "Terminal-Bench",
    "livecodebench": "LiveCodeBench",
    "aider_polyglot": "Aider polyglot",
    "intelligence_index": "intelligence index",
    "lmarena_elo": "LMArena Elo",
    "ugi_score": "UGI",
    "tokens_per_second": "tokens/s",
    "ttft_seconds": "TTFT s",
    "availability": "availability",
    "response_seconds": "response s",
    "intelligence_per_second": "intelligence/s",
}


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


# Metrics where less is better; every other metric is better when higher.
LOWER_IS_BETTER = frozenset({"ttft_seconds", "latency_seconds", "response_seconds"})
# Metrics of a route (its host), measured live too; the others belong to a model.
ROUTE_METRICS = frozenset({"tokens_per_second", "ttft_seconds", "latency_seconds", "availability"})
# Metrics computed from others (see gateway/rankings/score.py).
DERIVED_METRICS = frozenset({"response_seconds", "intelligence_per_second"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figure(_Strict):
    """One published number, where it was published, and when it was read."""

    value: float
    url: str | None = None
    read: dt.date | None = None
    note: str | None = None


class _Model(_Strict):
    name: str | None = None
    routes: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(
        default_factory=list, description="names leaderboards use for it (for the importer)"
    )
    note: str | None = None


class _ModelsFile(_Strict):
    models: dict[str, _Model]


class _SourceFile(BaseModel):
    # Sources may keep documentation beside their scores (other versions, reference-only
    # figures): extra keys are allowed, the ones read are typed.
    model_config = ConfigDict(extra="allow")
    source: str
    metric: str
    unit: str | None = None
    higher_is_better: bool = True
    url: str | None = None
    scores: dict[str, Figure] | None = None


class _SpeedFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    source: str
    scores: dict[str, dict[str, Figure]] | None = None


class Minimum(_Strict):
    """A floor on one metric, and what happens to a candidate below it or without a figure."""

    metric: str
    value: float
    below: Literal["exclude", "demote"] = "demote"
    unknown: Literal["exclude", "demote", "keep"] = "demote"


class Term(_Strict):
    """One part of a score: the weighted mean of its metrics, each relative to the best value
    among the chain's candidates."""

    weight: float = Field(gt=0)
    metrics: dict[str, float] = Field(min_length=1)


class Profile(_Strict):
    description: str = ""
    minimum: Minimum | None = None
    terms: dict[str, Term] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive_metric_weights(self) -> Profile:
        for name, term in self.terms.items():
            if any(weight <= 0 for weight in term.metrics.values()):
                raise ValueError(f"terms.{name}.metrics: every weight must be positive")
        return self


class _ProfilesFile(_Strict):
    profiles: dict[str, Profile]


@dataclass(frozen=True)
class Source:
    """A benchmark's description (for `--explain`)."""

    metric: str
    name: str
    url: str | None
    unit: str | None


@dataclass(frozen=True)
class RankingData:
    directory: Path
    # canonical model name -> its routes; route -> canonical model name
    models: dict[str, list[str]] = field(default_factory=dict)
    model_of_route: dict[str, str] = field(default_factory=dict)
    model_names: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # leaderboard name -> canonical
    # metric -> canonical model -> figure
    model_figures: dict[str, dict[str, Figure]] = field(default_factory=dict)
    # route -> metric -> figure
    route_figures: dict[str, dict[str, Figure]] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)

    def model_for(self, route: str) -> str | None:
        return self.model_of_route.get(route)

    def published(self, route: str, metric: str) -> Figure | None:
        """The published figure of `metric` for `route`: the route's own (speed), else its
        model's (benchmarks)."""
        if (figure := self.route_figures.get(route, {}).get(metric)) is not None:
            return figure
        model = self.model_of_route.get(route)
        if model is None:
            return None
        return self.model_figures.get(metric, {}).get(model)


def load_ranking_data(directory: Path = DEFAULT_RANKINGS_DIR) -> RankingData:
    """Read and check every rankings file; a problem is a `ConfigError` naming the file and
    the key."""
    models_file = load_yaml_file(directory / "models.yaml", _ModelsFile)
    profiles_file = load_yaml_file(directory / "profiles.yaml", _ProfilesFile)
    data = RankingData(directory=directory, profiles=dict(profiles_file.profiles))
    for name, model in models_file.models.items():
        data.models[name] = list(model.routes)
        data.model_names[name] = model.name or name
        for route in model.routes:
            if route in data.model_of_route:
                raise ConfigError(
                    f"{directory / 'models.yaml'}: models.{name}.routes: {route} is already a "
                    f"route of {data.model_of_route[route]}"
                )
            data.model_of_route[route] = name
        for alias in [name, *model.aliases]:
            data.aliases[_alias_key(alias)] = name
    sources_dir = directory / "sources"
    for path in sorted(sources_dir.glob("*.yaml")) if sources_dir.is_dir() else ():
        if path.name == SPEED_FILE:
            speed = load_yaml_file(path, _SpeedFile)
            for metric, unit in (("tokens_per_second", "output tokens/s"), ("ttft_seconds", "s")):
                data.sources[metric] = Source(metric, speed.source, None, unit)
            for route, figures in (speed.scores or {}).items():
                data.route_figures.setdefault(route, {}).update(figures)
            continue
        source = load_yaml_file(path, _SourceFile)
        data.sources[source.metric] = Source(source.metric, source.source, source.url, source.unit)
        scores = data.model_figures.setdefault(source.metric, {})
        for model, figure in (source.scores or {}).items():
            if model not in data.models:
                raise ConfigError(
                    f"{path}: scores.{model}: not a model of models.yaml (add it there, with "
                    "the routes that serve it)"
                )
            scores[model] = figure
    _check_profiles(data, directory / "profiles.yaml")
    return data


def _check_profiles(data: RankingData, path: Path) -> None:
    known = set(data.sources) | ROUTE_METRICS | DERIVED_METRICS
    known |= {"intelligence_index", "lmarena_elo"}  # may have no figures yet, still valid
    for name, profile in data.profiles.items():
        metrics = [m for term in profile.terms.values() for m in term.metrics]
        if profile.minimum is not None:
            metrics.append(profile.minimum.metric)
        for metric in metrics:
            if metric not in known:
                raise ConfigError(
                    f"{path}: profiles.{name}: unknown metric {metric!r} (known: "
                    f"{', '.join(sorted(known))})"
                )


def _alias_key(name: str) -> str:
    """Leaderboards write a model's name many ways: compared without case, vendor prefix,
    punctuation, or a trailing date."""
    name = name.strip().lower().rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isalnum() or ch == ".")


def canonical_model(data: RankingData, leaderboard_name: str) -> str | None:
    return data.aliases.get(_alias_key(leaderboard_name))


def figure_dict(figure: Figure | None) -> dict[str, Any] | None:
    if figure is None:
        return None
    return {
        "value": figure.value,
        "url": figure.url,
        "read": figure.read.isoformat() if figure.read else None,
        "note": figure.note,
    }

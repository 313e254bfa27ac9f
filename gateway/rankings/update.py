"""`gateway rankings update`: read a leaderboard's published data file (from a path or a URL)
and rewrite one `rankings/sources/<metric>.yaml` with its figures, each dated today.

Leaderboards name models their own way ("Gemini 3.8 Flash (high)", "openai/gpt-4.1"); a row
counts when its name, without a trailing "(...)" variant, matches a model of `models.yaml` by
name or alias. Several rows of one model (reasoning efforts, edit formats) keep the best
figure, and the figure's note says which row it was. Rows of models no route serves are
counted and skipped; figures the file does not mention are kept as they were (with their own,
older date).

Presets know the published formats: `aider` (the polyglot leaderboard's YAML list) and
`artificial-analysis` (Artificial Analysis' API v2 JSON). `json` and `csv` read any other
export given where the names and values are.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.config import ConfigError
from gateway.rankings.data import (
    LOWER_IS_BETTER,
    SPEED_FILE,
    RankingData,
    canonical_model,
    load_ranking_data,
)


@dataclass(frozen=True)
class Format:
    """Where a published file keeps its rows, names and values."""

    kind: str  # "json" | "yaml" | "csv"
    records: str = ""  # dotted path to the list of rows ("" = the top level)
    name: str = "name"
    value: str = "value"
    scale: float = 1.0  # e.g. 100 for a fraction published as 0.42
    metric: str | None = None
    url: str | None = None  # cited for every figure when the source is a local file


PRESETS = {
    "aider": Format(
        "yaml",
        name="model",
        value="pass_rate_2",
        metric="aider_polyglot",
        url="https://aider.chat/docs/leaderboards/",
    ),
    "artificial-analysis": Format(
        "json",
        records="data",
        name="name",
        value="evaluations.artificial_analysis_intelligence_index",
        metric="intelligence_index",
        url="https://artificialanalysis.ai/",
    ),
    "json": Format("json"),
    "csv": Format("csv"),
}


@dataclass
class Row:
    name: str
    value: float


@dataclass
class UpdateReport:
    metric: str
    path: Path
    updated: dict[str, tuple[float | None, float]] = field(default_factory=dict)  # old, new
    unchanged: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    skipped_rows: int = 0  # rows without a name or a number
    written: bool = False

    def text(self) -> str:
        lines = [f"{self.path}: {self.metric}"]
        for model, (old, new) in sorted(self.updated.items()):
            was = "new" if old is None else f"was {old:g}"
            lines.append(f"  {model}: {new:g} ({was})")
        if self.unchanged:
            lines.append(f"  unchanged: {', '.join(sorted(self.unchanged))}")
        lines.append(
            f"  {len(self.unmatched)} leaderboard names matched no model of models.yaml"
            + (f" (e.g. {', '.join(self.unmatched[:5])})" if self.unmatched else "")
            + "; add an alias there to import one"
        )
        if self.skipped_rows:
            lines.append(f"  {self.skipped_rows} rows had no name or no number")
        if self.written:
            lines.append("  written")
        elif self.updated:
            lines.append("  not written (--dry-run)")
        else:
            lines.append("  nothing to write")
        return "\n".join(lines)


def read_source(location: str, timeout: float = 30.0) -> str:
    """A local path, or an http(s) URL fetched once."""
    if re.match(r"^https?://", location):
        import httpx

        response = httpx.get(location, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
        return response.text
    return Path(location).read_text(encoding="utf-8")


def parse_rows(text: str, fmt: Format) -> tuple[list[Row], int]:
    """The (name, value) rows of a published file, and how many rows lacked either."""
    if fmt.kind == "csv":
        records: Any = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            records = json.loads(text) if fmt.kind == "json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"the file is not valid {fmt.kind.upper()}: {exc}") from None
        if fmt.records:
            records = _dig(records, fmt.records)
    if not isinstance(records, list):
        where = f" at {fmt.records!r}" if fmt.records else ""
        raise ConfigError(f"expected a list of rows{where}, got {type(records).__name__}")
    rows, skipped = [], 0
    for record in records:
        name = _dig(record, fmt.name) if isinstance(record, dict) else None
        value = _number(_dig(record, fmt.value)) if isinstance(record, dict) else None
        if not isinstance(name, str) or not name.strip() or value is None:
            skipped += 1
            continue
        rows.append(Row(name.strip(), value * fmt.scale))
    return rows, skipped


def update_source(
    directory: Path,
    location: str,
    fmt: Format,
    *,
    provider: str | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> UpdateReport:
    """Merge a published file's figures into `sources/<metric>.yaml` (or, for tokens/s and
    time to first token, into `sources/speed.yaml` for `provider`'s routes)."""
    metric = fmt.metric
    if not metric:
        raise ConfigError("say which metric the file scores (--metric)")
    data = load_ranking_data(directory)
    route_metric = metric in ("tokens_per_second", "ttft_seconds")
    if route_metric and not provider:
        raise ConfigError(f"{metric} belongs to a route: say whose figures these are (--provider)")
    if not route_metric and metric not in data.sources:
        raise ConfigError(
            f"{directory / 'sources'}: no source file scores {metric!r} "
            f"(known: {', '.join(sorted(data.sources))}); create sources/{metric}.yaml first"
        )
    rows, skipped = parse_rows(read_source(location), fmt)
    if route_metric:  # leaderboards write 0 for "not measured"
        skipped += sum(row.value <= 0 for row in rows)
        rows = [row for row in rows if row.value > 0]
    best = _best_per_model(data, rows, lower_is_better=metric in LOWER_IS_BETTER)
    unmatched = sorted({row.name for row in rows if canonical_model(data, _base(row.name)) is None})
    cite = location if re.match(r"^https?://", location) else fmt.url
    read = today or dt.date.today()
    path = directory / "sources" / (SPEED_FILE if route_metric else f"{metric}.yaml")
    report = UpdateReport(metric, path, unmatched=unmatched, skipped_rows=skipped)
    text = path.read_text(encoding="utf-8")
    document = yaml.safe_load(text) or {}
    scores: dict[str, Any] = dict(document.get("scores") or {})
    for model, row in sorted(best.items()):
        figure = {"value": _round(row.value), "url": cite, "read": read}
        figure["note"] = f"imported from {Path(location).name!r}, row {row.name!r}"
        keys = [model]
        if route_metric:
            keys = [r for r in data.models[model] if r.partition("/")[0] == provider]
        for key in keys:
            entry = scores.get(key) if not route_metric else (scores.get(key) or {}).get(metric)
            old = entry.get("value") if isinstance(entry, dict) else None
            if old is not None and float(old) == figure["value"]:
                report.unchanged.append(key)
                continue
            report.updated[key] = (old, figure["value"])
            if route_metric:
                scores[key] = {**(scores.get(key) or {}), metric: figure}
            else:
                scores[key] = figure
    if report.updated and not dry_run:
        path.write_text(_replace_scores(text, scores, report.updated), encoding="utf-8")
        load_ranking_data(directory)  # the rewritten file must read back
        report.written = True
    return report


def _best_per_model(data: RankingData, rows: Iterable[Row], lower_is_better: bool) -> dict:
    best: dict[str, Row] = {}
    for row in rows:
        model = canonical_model(data, _base(row.name))
        if model is None:
            continue
        current = best.get(model)
        better = current is None or (
            row.value < current.value if lower_is_better else row.value > current.value
        )
        if better:
            best[model] = row
    return best


def _base(name: str) -> str:
    """A leaderboard row's model without its variant: "Gemini 3.8 Flash (high)" -> "Gemini 3.8
    Flash"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", name).strip() or name


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors: every figure reads on its own."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(document: dict[str, Any], indent: str = "") -> str:
    text = yaml.dump(
        document,
        Dumper=_PlainDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return "".join(indent + line for line in text.splitlines(keepends=True))


def _replace_scores(text: str, scores: dict[str, Any], changed: Iterable[str]) -> str:
    """The file with the `changed` entries of its top-level `scores:` block rewritten (or
    added): every other line, comment and entry stays as it was written."""
    changed = set(changed)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^scores\s*:", line)), None)
    if start is None or lines[start].split(":", 1)[1].strip() not in ("", "{}"):
        # no block, or one in flow style: write the whole block anew
        if start is None:
            return text.rstrip("\n") + "\n" + _dump({"scores": scores})
        return "".join(lines[:start]) + _dump({"scores": scores}) + "".join(lines[start + 1 :])
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # blank lines before what follows belong to it
    entries: list[tuple[str | None, list[str]]] = []  # (key, its lines)
    for line in lines[start + 1 : end]:
        match = re.match(r"^  ([^\s#][^:]*):", line)
        if match:
            entries.append((yaml.safe_load(match.group(1)), [line]))
        elif entries:
            entries[-1][1].append(line)
        else:
            entries.append((None, [line]))
    body = []
    for key, entry_lines in entries:
        if key in changed:
            body.append(_dump({key: scores[key]}, "  "))
            changed.discard(key)
        else:
            body.append("".join(entry_lines))
    for key in sorted(changed):
        body.append(_dump({key: scores[key]}, "  "))
    return "".join(lines[:start]) + "scores:\n" + "".join(body) + "".join(lines[end:])


def _dig(record: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def _round(value: float) -> float:
    return round(value, 3)

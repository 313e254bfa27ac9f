"""Load and validate the two YAML files, with errors that name the file and the key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gateway.config.schema import ProvidersFile, RoutingSettings, VirtualModelsFile

PROVIDERS_FILE = "providers.yaml"
VIRTUAL_MODELS_FILE = "virtual_models.yaml"

_Model = TypeVar("_Model", bound=BaseModel)


class ConfigError(Exception):
    """A configuration problem a user can fix; the message says where and what."""


@dataclass(frozen=True)
class GatewayConfig:
    """Both files, validated, plus where they came from."""

    directory: Path
    providers: ProvidersFile
    virtual_models: VirtualModelsFile

    @property
    def routing(self) -> RoutingSettings:
        return self.virtual_models.routing


def load_config(directory: str | Path) -> GatewayConfig:
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"config directory {directory} does not exist")
    providers = load_yaml_file(directory / PROVIDERS_FILE, ProvidersFile)
    virtual_models = load_yaml_file(directory / VIRTUAL_MODELS_FILE, VirtualModelsFile)
    return GatewayConfig(directory=directory, providers=providers, virtual_models=virtual_models)


def load_yaml_file(path: Path, model: type[_Model]) -> _Model:
    """Parse and validate one YAML file; every problem becomes a `ConfigError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        given = error.get("input")
        suffix = ""
        if error["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict):
            suffix = f" (got {given!r})"
        lines.append(f"  {key}: {message}{suffix}")
    return "\n".join(lines)


def _kind(value: object) -> str:
    return "nothing (empty file)" if value is None else type(value).__name__

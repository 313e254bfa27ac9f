"""The gateway's YAML configuration: typed models and the loader that validates them."""

from gateway.config.loader import ConfigError, GatewayConfig, load_config
from gateway.config.schema import (
    Limits,
    ModelOptions,
    ProviderConfig,
    ProvidersFile,
    RoutingSettings,
    VirtualModelConfig,
    VirtualModelsFile,
)

__all__ = [
    "ConfigError",
    "GatewayConfig",
    "Limits",
    "ModelOptions",
    "ProviderConfig",
    "ProvidersFile",
    "RoutingSettings",
    "VirtualModelConfig",
    "VirtualModelsFile",
    "load_config",
]

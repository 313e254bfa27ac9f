"""The resolved view of the configuration: concrete deployments and virtual-model chains.

Built once at startup from the YAML and the environment. Everything routing needs to know
about a candidate (is it usable, and if not why; its context window) is decided here, so the
request path only looks things up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, GatewayConfig, Limits, ModelOptions
from gateway.config.loader import VIRTUAL_MODELS_FILE
from gateway.config.schema import ProviderConfig, SearchProviderConfig
from gateway.providers import PROVIDER_TYPES, SEARCH_PROVIDER_TYPES, ProviderType
from gateway.rankings.data import DEFAULT_RANKINGS_DIR, RankingData, load_ranking_data


@dataclass(frozen=True)
class Deployment:
    """One model of one configured provider, addressable as `provider/model`."""

    id: str
    provider: str
    provider_type: ProviderType
    model_id: str
    api_base: str | None
    api_key_env: str | None
    options: ModelOptions
    provider_limits: Limits
    timeout: float | None
    problem: str | None = None
    g4f_provider: str | None = None
    g4f_tools: str | None = None  # "native" | "emulated"; None: as the g4f provider can
    daily_reset: str = "UTC"
    engine: str = "native"  # or "litellm": LiteLLM's Router makes this provider's calls

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def context_window(self) -> int | None:
        return self.options.context_window

    @property
    def litellm_model(self) -> str:
        return self.provider_type.litellm_model(self.provider, self.model_id)

    @property
    def mode(self) -> str:
        """ "chat" or "embedding"."""
        return self.options.mode


@dataclass(frozen=True)
class Candidate:
    """A chain entry as written in `virtual_models.yaml`, resolved to a deployment if possible."""

    ref: str
    deployment: Deployment | None
    problem: str | None

    @property
    def usable(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Chain:
    """What a requested model name resolves to: a virtual model or one direct deployment."""

    name: str
    candidates: tuple[Candidate, ...]
    description: str = ""
    virtual: bool = True
    ordered_by: str | None = None  # the ranking profile when `auto_order: true`
    mode: str = "chat"  # "embedding": a chain for /v1/embeddings


# The chain of web-search providers (`search:` in providers.yaml), as `/v1/search` uses it.
SEARCH_CHAIN = "web-search"
# A search provider's one "model": its deployment is `<provider>/search`.
SEARCH_MODEL = "search"


@dataclass
class Catalog:
    deployments: dict[str, Deployment] = field(default_factory=dict)
    virtual_models: dict[str, Chain] = field(default_factory=dict)
    # Web search has its own chain: its deployments are not chat models, so they stay out of
    # `deployments` (and so out of LiteLLM's model list and `/v1/models`).
    search: Chain | None = None
    rankings: RankingData | None = None  # read when an auto-ordered virtual model needs it

    def chain_for(self, model: str) -> Chain | None:
        """Resolve a requested model name; direct `provider/model` names become one-step chains."""
        chain = self.virtual_models.get(model)
        if chain is not None:
            return chain
        deployment = self.deployments.get(model)
        if deployment is None:
            return None
        return Chain(
            name=model,
            candidates=(Candidate(model, deployment, deployment.problem),),
            virtual=False,
            mode=deployment.mode,
        )

    @property
    def usable_deployments(self) -> list[Deployment]:
        return [d for d in self.deployments.values() if d.usable]

    @property
    def search_deployments(self) -> list[Deployment]:
        if self.search is None:
            return []
        return [c.deployment for c in self.search.candidates if c.deployment is not None]


def build_catalog(
    config: GatewayConfig, env: Mapping[str, str], rankings_dir: Path | None = None
) -> Catalog:
    """The rankings data (`rankings_dir`, default `rankings/`) is read when an auto-ordered
    virtual model needs it."""
    catalog = Catalog()
    rankings: RankingData | None = None
    for provider_name, provider in config.providers.providers.items():
        make = _deployments_of(provider_name, provider, PROVIDER_TYPES[provider.type], env)
        for model_id, options in provider.models.items():
            deployment = make(
                model_id,
                options,
                g4f_provider=provider.g4f_provider,
                g4f_tools=provider.g4f_tools,
                engine=provider.engine,
            )
            catalog.deployments[deployment.id] = deployment
    catalog.search = _search_chain(config, env)
    for name, virtual in config.virtual_models.virtual_models.items():
        where = f"{config.directory / VIRTUAL_MODELS_FILE}: virtual_models.{name}"
        if virtual.ordered or virtual.candidates == "auto":
            rankings = rankings or load_ranking_data(rankings_dir or DEFAULT_RANKINGS_DIR)
            if virtual.profile not in rankings.profiles:
                raise ConfigError(
                    f"{where}.profile: unknown ranking profile {virtual.profile!r} in "
                    f"{rankings.directory / 'profiles.yaml'} "
                    f"(known: {', '.join(sorted(rankings.profiles))})"
                )
        if virtual.candidates == "auto":
            assert rankings is not None
            refs = _every_ranked_route(catalog, rankings, virtual.mode, virtual.providers)
            if not refs:
                raise ConfigError(
                    f"{where}.candidates: `auto` found no {virtual.mode} route that the rankings "
                    f"({rankings.directory / 'models.yaml'}) know"
                )
        else:
            refs = virtual.candidates
        candidates = tuple(_resolve_candidate(ref, catalog, config) for ref in refs)
        _check_modes(config, name, virtual.mode, candidates)
        catalog.virtual_models[name] = Chain(
            name=name,
            candidates=candidates,
            description=virtual.description,
            ordered_by=virtual.profile if virtual.ordered else None,
            mode=virtual.mode,
        )
    catalog.rankings = rankings
    return catalog


def _every_ranked_route(
    catalog: Catalog, rankings: RankingData, mode: str, providers: list[str] | None
) -> list[str]:
    """The configured routes the rankings' alias table knows (`candidates: auto`)."""
    return [
        deployment.id
        for deployment in catalog.deployments.values()
        if deployment.mode == mode
        and rankings.model_for(deployment.id) is not None
        and (providers is None or deployment.provider in providers)
    ]


def _deployments_of(
    name: str,
    account: ProviderConfig | SearchProviderConfig,
    provider_type: ProviderType,
    env: Mapping[str, str],
) -> Callable[..., Deployment]:
    """A maker of this account's deployments, its endpoint and usability resolved once."""
    endpoint = provider_type.resolve_endpoint(
        env, yaml_api_base=account.api_base, yaml_api_key_env=account.api_key_env
    )
    problem = "disabled in providers.yaml" if not account.enabled else endpoint.problem

    def make(model_id: str, options: ModelOptions, **extra: Any) -> Deployment:
        return Deployment(
            id=f"{name}/{model_id}",
            provider=name,
            provider_type=provider_type,
            model_id=model_id,
            api_base=endpoint.api_base,
            api_key_env=endpoint.api_key_env,
            options=options,
            provider_limits=account.limits,
            timeout=account.timeout,
            problem=problem,
            daily_reset=account.daily_reset or provider_type.daily_reset,
            **extra,
        )

    return make


def _search_chain(config: GatewayConfig, env: Mapping[str, str]) -> Chain | None:
    if not config.providers.search:
        return None
    candidates = []
    for name, provider in config.providers.search.items():
        make = _deployments_of(name, provider, SEARCH_PROVIDER_TYPES[provider.type], env)
        deployment = make(SEARCH_MODEL, ModelOptions())
        candidates.append(Candidate(deployment.id, deployment, deployment.problem))
    return Chain(
        name=SEARCH_CHAIN,
        candidates=tuple(candidates),
        description="web search, providers in the order of `search:` in providers.yaml",
    )


def _check_modes(
    config: GatewayConfig, name: str, mode: str, candidates: tuple[Candidate, ...]
) -> None:
    """A chain serves one API: an embedding model in a chat chain (or the reverse) is a
    configuration error naming it, not a request that fails later."""
    for candidate in candidates:
        deployment = candidate.deployment
        if deployment is not None and deployment.mode != mode:
            provider, _, model_id = deployment.id.partition("/")
            raise ConfigError(
                f"{config.directory / VIRTUAL_MODELS_FILE}: virtual_models.{name}.candidates: "
                f"{deployment.id} is a {deployment.mode} model, but {name} is a {mode} chain "
                f"(mode: {mode}); set `mode` of providers.{provider}.models.{model_id} in "
                f"providers.yaml or of virtual_models.{name}"
            )


def _resolve_candidate(ref: str, catalog: Catalog, config: GatewayConfig) -> Candidate:
    deployment = catalog.deployments.get(ref)
    if deployment is not None:
        return Candidate(ref, deployment, deployment.problem)
    provider_name, _, model_id = ref.partition("/")
    if provider_name not in config.providers.providers:
        return Candidate(ref, None, f"unknown provider {provider_name!r}")
    return Candidate(
        ref, None, f"model {model_id!r} is not listed under providers.{provider_name}.models"
    )

"""Pydantic models for `providers.yaml` and `virtual_models.yaml`.

Unknown keys are rejected (``extra="forbid"``) so a typo such as ``api_kye_env`` is an error
naming the file and key instead of a silently ignored setting.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ProviderType = Literal["groq", "gemini", "github", "cloudflare", "g4f", "openai_compatible"]
SearchProviderType = Literal["duckduckgo", "brave", "tavily"]
# Virtual models named like `router/best-coding` (the original project's name for a router
# over every provider); no provider may be called `router`.
ROUTER_PREFIX = "router/"
# What a model serves: chat (chat, Responses, Messages, completions) or embeddings.
ModelMode = Literal["chat", "embedding"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Limits(_Strict):
    """Free-tier quota of a provider or a model (used by the quota tracker)."""

    rpm: int | None = Field(default=None, ge=1, description="requests per minute")
    rpd: int | None = Field(default=None, ge=1, description="requests per day")
    tpm: int | None = Field(default=None, ge=1, description="tokens per minute")
    tpd: int | None = Field(default=None, ge=1, description="tokens per day")
    rpmonth: int | None = Field(
        default=None, ge=1, description="requests per calendar month (search providers' plans)"
    )


class ModelOptions(Limits):
    """Per-model settings: its own limits plus what routing needs to know about it."""

    context_window: int | None = Field(default=None, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    mode: ModelMode = Field(default="chat", description="chat, or embedding for /v1/embeddings")


class _Account(_Strict):
    """What every upstream account has: where it lives, its key, its limits and timeout."""

    api_base: str | None = None
    api_key_env: str | None = None
    enabled: bool = True
    limits: Limits = Field(default_factory=Limits)
    timeout: float | None = Field(default=None, gt=0, description="seconds per upstream call")
    daily_reset: str | None = Field(
        default=None,
        description="time zone whose midnight resets daily quotas (default: the provider "
        "type's, e.g. America/Los_Angeles for Gemini, UTC otherwise)",
    )

    @field_validator("daily_reset", mode="after")
    @classmethod
    def _known_time_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown time zone {value!r} (e.g. UTC, America/Los_Angeles)"
                ) from None
        return value


class ProviderConfig(_Account):
    """One chat account: its wire type and its models, besides what every account has."""

    type: ProviderType
    engine: Literal["native", "litellm"] = Field(
        default="native",
        description="native: the gateway's own engine sends the calls (LiteLLM translates); "
        "litellm: LiteLLM's Router makes them, for a provider the engine handles badly",
    )
    g4f_provider: str | None = Field(
        default=None, description="g4f provider class name, e.g. PollinationsAI (type g4f only)"
    )
    g4f_tools: Literal["native", "emulated"] | None = Field(
        default=None,
        description="type g4f only: how tools reach the model; native passes OpenAI `tools`, "
        "emulated describes them in the prompt and parses the call from the answer (default: "
        "native where the g4f provider takes tools, e.g. PollinationsAI or an api_base)",
    )
    models: dict[str, ModelOptions]

    @field_validator("models", mode="before")
    @classmethod
    def _models_list_or_mapping(cls, value: object) -> object:
        """Accept `[id, ...]` as shorthand for `{id: {}, ...}`."""
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise ValueError("a list of models must hold model ids (strings)")
            return {model_id: {} for model_id in value}
        if isinstance(value, dict):
            return {key: ({} if options is None else options) for key, options in value.items()}
        return value

    @model_validator(mode="after")
    def _g4f_has_no_litellm_engine(self) -> ProviderConfig:
        if self.type != "g4f" and (self.g4f_tools or self.g4f_provider):
            raise ValueError("g4f_provider and g4f_tools apply to type g4f only")
        if self.type == "g4f" and self.engine == "litellm":
            raise ValueError(
                "engine: litellm does not apply to g4f (LiteLLM has no g4f provider; the "
                "gateway calls g4f's own client)"
            )
        return self

    @field_validator("models", mode="after")
    @classmethod
    def _at_least_one_model(cls, value: dict[str, ModelOptions]) -> dict[str, ModelOptions]:
        if not value:
            raise ValueError("must list at least one model")
        return value


class SearchProviderConfig(_Account):
    """One web-search provider under `search:` in providers.yaml; tried in the listed order."""

    type: SearchProviderType


class ProvidersFile(_Strict):
    providers: dict[str, ProviderConfig]
    # Web search (`POST /v1/search`): providers in fallback order.
    search: dict[str, SearchProviderConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _search_names_are_their_own(self) -> ProvidersFile:
        if shared := sorted(set(self.search) & set(self.providers)):
            raise ValueError(
                f"search provider names must differ from chat provider names: {', '.join(shared)}"
            )
        return self

    @field_validator("providers", "search", mode="after")
    @classmethod
    def _names_have_no_slash(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if "/" in name or not name:
                raise ValueError(f"provider name {name!r} must be non-empty and contain no '/'")
            if name == ROUTER_PREFIX.rstrip("/"):
                raise ValueError(f"provider name {name!r} is reserved for router/... models")
        return value


class RoutingSettings(_Strict):
    """How chains behave; every number here is a default the README documents."""

    request_timeout: float = Field(default=60.0, gt=0, description="seconds per upstream call")
    cooldown_seconds: float = Field(
        default=15.0, ge=0, description="cooldown after a 5xx, timeout or connection error"
    )
    rate_limit_cooldown_seconds: float = Field(
        default=30.0, ge=0, description="cooldown after a 429 that carries no Retry-After"
    )
    auth_error_cooldown_seconds: float = Field(
        default=300.0, ge=0, description="cooldown after a 401/403/404 (a key or model problem)"
    )
    max_retry_after_seconds: float = Field(
        default=3600.0, gt=0, description="cap on an upstream Retry-After used as a cooldown"
    )
    first_byte_timeout: float = Field(
        default=10.0, gt=0, description="seconds to wait for an upstream to start answering"
    )
    first_token_timeout: float = Field(
        default=10.0, gt=0, description="seconds from an attempt's start to its first token"
    )
    stream_idle_timeout: float = Field(
        default=10.0, gt=0, description="longest silence between two chunks of a stream"
    )
    short_retry_after_seconds: float = Field(
        default=2.0,
        ge=0,
        description="a 429 on the best candidate with a Retry-After this short is waited out",
    )
    retry_server_error_once: bool = Field(
        default=True, description="one quick retry of the same route after a 5xx or a reset"
    )
    max_attempts_per_route: int = Field(default=3, ge=1, le=3)
    continue_interrupted_streams: bool = Field(
        default=True,
        description="continue a stream that died mid-answer on the next candidate (prefill)",
    )
    stream_upstream: bool = Field(
        default=True,
        description="stream from upstreams even for non-stream requests, so the same "
        "first-byte, first-token and idle limits apply to them",
    )
    health_check_interval: float = Field(
        default=300.0,
        ge=0,
        description="seconds between reachability probes (GET /models, no quota spent); 0: off",
    )
    route_around_content_policy: bool = Field(
        default=False, description="try the next candidate after a content-policy refusal"
    )
    ranking_interval: float = Field(
        default=300.0, gt=0, description="seconds between re-rankings of auto-ordered chains"
    )
    ranking_min_samples: int = Field(
        default=20, ge=1, description="live samples after which a route's live figures count fully"
    )
    ranking_window_samples: int = Field(
        default=50, ge=1, description="a route's most recent attempts its live figures come from"
    )
    ranking_window_seconds: float = Field(
        default=3600.0, gt=0, description="...within this many seconds"
    )
    ranking_explore_every: int = Field(
        default=20,
        ge=0,
        description="every Nth request of an auto chain tries a route live figures moved down "
        "first, so it is re-measured (0: never)",
    )


class VirtualModelConfig(_Strict):
    description: str = ""
    mode: ModelMode = Field(
        default="chat", description="embedding: a chain of embedding models (/v1/embeddings)"
    )
    candidates: list[str] | Literal["auto"] = Field(
        description="provider/model routes, or `auto`: every usable route the rankings know"
    )
    providers: list[str] | None = Field(
        default=None, description="with `candidates: auto`: only these providers' routes"
    )
    profile: str | None = Field(
        default=None, description="scoring profile from rankings/profiles.yaml"
    )
    auto_order: bool | None = Field(
        default=None,
        description="order candidates by the profile's score (default: on when a profile is "
        "set; false keeps the listed order)",
    )

    @property
    def ordered(self) -> bool:
        return self.auto_order if self.auto_order is not None else self.profile is not None

    @field_validator("candidates", mode="after")
    @classmethod
    def _candidates_are_provider_slash_model(cls, value: list[str] | str) -> list[str] | str:
        if value == "auto":
            return value
        if not value:
            raise ValueError("list at least one candidate (or write `auto`)")
        for candidate in value:
            if "/" not in candidate:
                raise ValueError(f"candidate {candidate!r} must look like 'provider/model'")
        if len(set(value)) != len(value):
            raise ValueError("candidates must not repeat")
        return value

    @model_validator(mode="after")
    def _auto_needs_a_profile(self) -> VirtualModelConfig:
        if self.candidates == "auto" and self.profile is None:
            raise ValueError("`candidates: auto` needs a `profile` to rank them by")
        if self.auto_order and self.profile is None:
            raise ValueError("`auto_order: true` needs a `profile`")
        if self.providers is not None and self.candidates != "auto":
            raise ValueError("`providers` filters `candidates: auto` only")
        return self


class VirtualModelsFile(_Strict):
    virtual_models: dict[str, VirtualModelConfig]
    routing: RoutingSettings = Field(default_factory=RoutingSettings)

    @field_validator("virtual_models", mode="after")
    @classmethod
    def _names_have_no_slash(
        cls, value: dict[str, VirtualModelConfig]
    ) -> dict[str, VirtualModelConfig]:
        for name in value:
            if "/" in name and not name.startswith(ROUTER_PREFIX):
                raise ValueError(
                    f"virtual model name {name!r} must not contain '/' (reserved for direct "
                    f"models), except after `{ROUTER_PREFIX}` (e.g. router/best-coding)"
                )
        return value

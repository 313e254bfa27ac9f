"""Request parsing and chain execution shared by the model API routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from starlette.requests import Request

from gateway.api.errors import APIError, retry_after_header
from gateway.catalog import Chain, Deployment
from gateway.readiness import missing_variables
from gateway.routing.chain import ChainExhausted, RequestRejected, Served, Skip
from gateway.routing.failures import FailureKind
from gateway.state import GatewayState
from gateway.telemetry.journal import AttemptJournal

T = TypeVar("T")

_REJECTION_CODES = {
    FailureKind.CONTEXT_WINDOW: "context_length_exceeded",
    FailureKind.CONTENT_POLICY: "content_policy_violation",
}


def gateway_state(request: Request) -> GatewayState:
    return request.app.state.gateway


async def read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()  # its size is bounded by gateway/api/guard.py
    if not raw.strip():
        raise APIError(400, "Request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise APIError(400, f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise APIError(400, "Request body must be a JSON object.", code="invalid_json")
    return body


def resolve_chain(state: GatewayState, body: dict[str, Any], mode: str = "chat") -> Chain:
    """The chain a request's `model` names; `mode` is what the route serves (chat models,
    or embedding models for /v1/embeddings)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise APIError(400, "'model' is required (a string).", code="missing_model", param="model")
    chain = state.catalog.chain_for(model.strip())
    if chain is None:
        raise APIError(
            404,
            f"The model {model!r} does not exist. GET /v1/models lists the virtual models and "
            "the direct provider/model names.",
            code="model_not_found",
            param="model",
        )
    if chain.ordered_by and state.ranker is not None:
        chain = state.ranker.apply(chain)
    if chain.mode != mode:
        where = "/v1/embeddings" if chain.mode == "embedding" else "the chat APIs"
        raise APIError(
            400,
            f"{model!r} is {'an' if chain.mode == 'embedding' else 'a'} {chain.mode} model: "
            f"send it to {where}.",
            code="wrong_model_type",
            param="model",
        )
    return chain


async def run_chain(
    state: GatewayState,
    chain: Chain,
    attempt: Callable[[Deployment], Awaitable[T]],
    journal: AttemptJournal,
) -> Served[T]:
    """Run the chain and turn its dead ends into the right HTTP errors."""
    with chain_errors(state, chain, journal):
        return await state.runner.run(chain, attempt, journal=journal)


def new_journal(
    state: GatewayState,
    request: Request,
    chain: Chain,
    stream: bool,
    request_id: str | None = None,
) -> AttemptJournal:
    metrics = state.metrics
    journal = AttemptJournal(
        sinks=(
            (state.telemetry, state.quotas)
            if metrics is None
            else (state.telemetry, state.quotas, metrics)
        ),
        observer=metrics,
        virtual_model=chain.name if chain.virtual else None,
        stream=stream,
        client=(request.headers.get("user-agent") or "")[:300] or None,
    )
    if request_id is not None:
        journal.request_id = request_id
    # A LiteLLM virtual key's request (database mode): its answer goes to LiteLLM's spend
    # logs under that key (gateway/litellm_glue/keys.py).
    caller = request.scope.get("state", {}).get("litellm_caller")
    if caller is not None:
        journal.sinks = (*journal.sinks, caller)
    return journal


@contextmanager
def chain_errors(
    state: GatewayState, chain: Chain, journal: AttemptJournal | None = None
) -> Iterator[None]:
    """Map a chain's dead ends (everyone failed, or the request itself was refused) to
    OpenAI-style HTTP errors (and tell the request's journal how it ended)."""
    try:
        yield
    except RequestRejected as rejected:
        if journal is not None:
            journal.ended("rejected")
        failure = rejected.failure
        status = failure.status if failure.status and 400 <= failure.status < 500 else 400
        raise APIError(
            status,
            f"{rejected.deployment.id} rejected the request: {failure.message}",
            code=_REJECTION_CODES.get(failure.kind, failure.kind.value),
            extra={"candidates": [s.as_dict() for s in rejected.skips]},
        ) from None
    except ChainExhausted as exhausted:
        skips = [s.as_dict() for s in exhausted.skips]
        if exhausted.unreachable:
            # Nothing configured or reachable: a retry fails the same way, so SDKs are told
            # not to retry (`x-should-retry`, honoured by OpenAI's and Anthropic's) and the
            # caller hears at once what to set.
            unconfigured = all(s.outcome == "unusable" for s in exhausted.skips)
            if journal is not None:
                journal.ended("unusable" if unconfigured else "unreachable")
            raise APIError(
                503,
                _unreachable_message(state, chain, exhausted.skips),
                code="no_usable_candidate" if unconfigured else "no_reachable_candidate",
                extra={"candidates": skips},
                headers={"x-should-retry": "false"},
            ) from None
        if journal is not None:
            journal.ended("exhausted")
        retry_after = (
            exhausted.wait or exhausted.retry_after or state.runner.settings.cooldown_seconds
        )
        raise APIError(
            429,
            f"Every candidate of {chain.name!r} is rate-limited, cooling down or failing; "
            "retry after the time in Retry-After.",
            code="all_candidates_exhausted",
            extra={"candidates": skips},
            headers=retry_after_header(retry_after),
        ) from None


def _unreachable_message(state: GatewayState, chain: Chain, skips: list[Skip]) -> str:
    """What is wrong, and what to set: the variables the chain's candidates lack (or, when
    they lack none, those of every provider that is not configured)."""
    missing = missing_variables(s.reason for s in skips)
    if not missing:
        missing = missing_variables(d.problem or "" for d in state.catalog.deployments.values())
    unreachable = [s for s in skips if s.outcome != "unusable"]
    parts = [f"No candidate of {chain.name!r} can answer with this setup"]
    if unreachable:
        parts.append(
            "; ".join(
                f"{s.candidate} could not be reached ({s.cause or s.outcome}: {s.reason})"
                for s in unreachable
            )
        )
    if missing:
        parts.append(
            f"Set {', '.join(missing)} in .env (one provider is enough) and restart the gateway"
        )
    parts.append("`gateway doctor --probe` checks every provider, `gateway models` each chain")
    return ". ".join(parts) + "."


def served_headers(chain: Chain, served: Served[Any], journal: AttemptJournal) -> dict[str, str]:
    headers = {
        "x-gateway-request-id": journal.request_id,
        "x-gateway-served-by": served.deployment.id,
        "x-gateway-attempt": str(served.attempt),
        "x-gateway-candidate": str(served.position),
    }
    if chain.virtual:
        headers["x-gateway-virtual-model"] = chain.name
    return headers

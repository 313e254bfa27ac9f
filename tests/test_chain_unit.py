"""Pure logic of the chain walk and cooldowns (no HTTP; the e2e tests cover that)."""

from __future__ import annotations

import pytest

from gateway.catalog import Candidate, Chain, Deployment
from gateway.config import Limits, ModelOptions, RoutingSettings
from gateway.providers import PROVIDER_TYPES
from gateway.redact import redact
from gateway.routing.chain import ChainExhausted, ChainRunner, RequestRejected
from gateway.routing.cooldowns import CooldownTracker
from gateway.routing.failures import FailureKind, UpstreamFailure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def deployment(ref: str, context_window: int | None = None, problem: str | None = None):
    provider, _, model = ref.partition("/")
    return Deployment(
        id=ref,
        provider=provider,
        provider_type=PROVIDER_TYPES["groq"],
        model_id=model,
        api_base=None,
        api_key_env="K",
        options=ModelOptions(context_window=context_window),
        provider_limits=Limits(),
        timeout=None,
        problem=problem,
    )


def chain(*deployments: Deployment) -> Chain:
    return Chain("v", tuple(Candidate(d.id, d, d.problem) for d in deployments))


def runner(clock: Clock | None = None) -> ChainRunner:
    return ChainRunner(RoutingSettings(), CooldownTracker(clock or Clock()))


def scripted(outcomes: dict[str, UpstreamFailure | str]):
    calls: list[str] = []

    async def attempt(d: Deployment) -> str:
        calls.append(d.id)
        outcome = outcomes[d.id]
        if isinstance(outcome, UpstreamFailure):
            raise outcome
        return outcome

    return attempt, calls


async def test_first_success_wins_and_counts_attempts():
    attempt, calls = scripted(
        {"a/1": UpstreamFailure(FailureKind.SERVER_ERROR, "boom", 500), "b/2": "ok", "c/3": "x"}
    )
    served = await runner().run(
        chain(deployment("a/1"), deployment("b/2"), deployment("c/3")), attempt
    )
    # A 500 gets one quick retry of the same route before the chain moves on.
    assert (served.result, served.attempt, served.position) == ("ok", 3, 2)
    assert calls == ["a/1", "a/1", "b/2"]


async def test_retry_after_sets_cooldown_and_exhaustion_reports_soonest():
    clock = Clock()
    r = runner(clock)
    attempt, calls = scripted(
        {
            "a/1": UpstreamFailure(FailureKind.RATE_LIMITED, "slow down", 429, retry_after=40),
            "b/2": UpstreamFailure(FailureKind.RATE_LIMITED, "no hint", 429),
        }
    )
    c = chain(deployment("a/1"), deployment("b/2"))
    with pytest.raises(ChainExhausted) as caught:
        await r.run(c, attempt)
    assert caught.value.retry_after == 30  # b's default beats a's 40
    clock.now += 31
    with pytest.raises(ChainExhausted) as caught:
        await r.run(c, attempt)
    assert calls == ["a/1", "b/2", "b/2"]  # a still cooling (40 s), b tried again
    assert [s.outcome for s in caught.value.skips] == ["cooling_down", "rate_limited"]
    assert caught.value.skips[0].retry_after == pytest.approx(9)


async def test_retry_after_zero_still_rests_the_route_briefly():
    clock = Clock()
    r = runner(clock)
    attempt, calls = scripted(
        {"a/1": UpstreamFailure(FailureKind.RATE_LIMITED, "", 429, retry_after=0), "b/2": "ok"}
    )
    c = chain(deployment("a/1"), deployment("b/2"))
    await r.run(c, attempt)
    await r.run(c, attempt)
    # Waited out once (0 s is short), then rested: the second request skips it.
    assert calls == ["a/1", "a/1", "b/2", "b/2"]


async def test_short_retry_after_is_waited_out_only_on_the_best_candidate():
    short = UpstreamFailure(FailureKind.RATE_LIMITED, "", 429, retry_after=0.01)
    attempt, calls = scripted({"a/1": short, "b/2": short, "c/3": "ok"})
    await runner().run(chain(deployment("a/1"), deployment("b/2"), deployment("c/3")), attempt)
    assert calls == ["a/1", "a/1", "b/2", "c/3"]


async def test_long_retry_after_and_timeouts_fail_over_at_once():
    attempt, calls = scripted(
        {
            "a/1": UpstreamFailure(FailureKind.RATE_LIMITED, "", 429, retry_after=5),
            "b/2": UpstreamFailure(FailureKind.TIMEOUT, "silent", None),
            "c/3": "ok",
        }
    )
    await runner().run(chain(deployment("a/1"), deployment("b/2"), deployment("c/3")), attempt)
    assert calls == ["a/1", "b/2", "c/3"]


async def test_at_most_two_calls_per_route():
    attempt, calls = scripted({"a/1": UpstreamFailure(FailureKind.SERVER_ERROR, "503", 503)})
    with pytest.raises(ChainExhausted):
        await runner().run(chain(deployment("a/1")), attempt)
    assert calls == ["a/1", "a/1"]


async def test_continuation_refused_moves_on_instead_of_failing_the_request():
    attempt, calls = scripted(
        {"a/1": UpstreamFailure(FailureKind.BAD_REQUEST, "no prefill", 400), "b/2": "ok"}
    )
    served = await runner().run(
        chain(deployment("a/1"), deployment("b/2")), attempt, continuing=True
    )
    assert served.deployment.id == "b/2"
    assert calls == ["a/1", "b/2"]


async def test_auth_failure_rests_every_model_of_the_provider():
    attempt, calls = scripted(
        {"p/1": UpstreamFailure(FailureKind.AUTH, "bad key", 401), "p/2": "never", "q/1": "ok"}
    )
    served = await runner().run(
        chain(deployment("p/1"), deployment("p/2"), deployment("q/1")), attempt
    )
    assert served.deployment.id == "q/1"
    assert calls == ["p/1", "q/1"]
    assert served.skips[1].outcome == "cooling_down"


async def test_context_overflow_only_tries_larger_windows():
    attempt, calls = scripted(
        {
            "a/small": UpstreamFailure(FailureKind.CONTEXT_WINDOW, "too long", 400),
            "b/same": "never",
            "c/big": "ok",
        }
    )
    c = chain(deployment("a/small", 8192), deployment("b/same", 8192), deployment("c/big", 131072))
    served = await runner().run(c, attempt)
    assert served.deployment.id == "c/big"
    assert calls == ["a/small", "c/big"]


async def test_context_overflow_everywhere_is_a_rejection_not_a_429():
    attempt, _ = scripted({"a/1": UpstreamFailure(FailureKind.CONTEXT_WINDOW, "too long", 400)})
    with pytest.raises(RequestRejected) as caught:
        await runner().run(chain(deployment("a/1", 8192), deployment("b/2", 4096)), attempt)
    assert caught.value.failure.kind is FailureKind.CONTEXT_WINDOW


@pytest.mark.parametrize("kind", [FailureKind.BAD_REQUEST, FailureKind.CONTENT_POLICY])
async def test_request_problems_are_not_routed_around(kind):
    attempt, calls = scripted({"a/1": UpstreamFailure(kind, "no", 400), "b/2": "ok"})
    with pytest.raises(RequestRejected):
        await runner().run(chain(deployment("a/1"), deployment("b/2")), attempt)
    assert calls == ["a/1"]


async def test_unusable_candidates_are_skipped_with_their_reason():
    attempt, calls = scripted({"b/2": "ok"})
    served = await runner().run(
        chain(deployment("a/1", problem="K is not set"), deployment("b/2")), attempt
    )
    assert calls == ["b/2"]
    assert served.skips[0].reason == "K is not set"
    assert served.position == 2 and served.attempt == 1


def test_cooldown_tracker_keeps_the_longer_cooldown_and_expires():
    clock = Clock()
    tracker = CooldownTracker(clock)
    tracker.cool_down("x", 30, "a")
    tracker.cool_down("x", 10, "b")
    assert tracker.active(["x"]).reason == "a"
    clock.now += 31
    assert tracker.active(["x"]) is None


def test_redact_masks_keys(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_abcdefghijklmnop")
    text = redact(
        "bad key gsk_abcdefghijklmnop; Bearer sk-zzzzzzzzzzzzzzzz; ?key=AIzaXXXXXXXXXXXXX"
    )
    assert "abcdefghijklmnop" not in text
    assert "zzzzzzzz" not in text
    assert "XXXXXXXXXXXX" not in text


async def test_content_policy_can_be_routed_around_when_configured():
    attempt, calls = scripted(
        {"a/1": UpstreamFailure(FailureKind.CONTENT_POLICY, "refused", 400), "b/2": "ok"}
    )
    settings = RoutingSettings(route_around_content_policy=True)
    served = await ChainRunner(settings, CooldownTracker(Clock())).run(
        chain(deployment("a/1"), deployment("b/2")), attempt
    )
    assert served.deployment.id == "b/2"
    assert calls == ["a/1", "b/2"]


class Saturated:
    """A stand-in for gateway/routing/saturation.Saturation."""

    def __init__(self, saturated: bool) -> None:
        self._saturated = saturated

    def saturated(self) -> bool:
        return self._saturated


@pytest.mark.parametrize("saturated", [False, True])
async def test_a_timeout_while_the_gateway_is_saturated_cools_nothing_down(saturated):
    clock = Clock()
    cooldowns = CooldownTracker(clock)
    r = ChainRunner(RoutingSettings(), cooldowns, saturation=Saturated(saturated))
    attempt, _ = scripted({"a/1": UpstreamFailure(FailureKind.TIMEOUT, "late"), "b/2": "ok"})
    served = await r.run(chain(deployment("a/1"), deployment("b/2")), attempt)
    assert served.result == "ok"
    assert (cooldowns.active(("a/1",)) is None) == saturated


async def test_an_unexpected_exception_is_a_rejection_without_cooldown():
    clock = Clock()
    cooldowns = CooldownTracker(clock)
    r = ChainRunner(RoutingSettings(), cooldowns)

    async def attempt(d: Deployment) -> str:
        raise TypeError("the translation broke")

    with pytest.raises(RequestRejected) as caught:
        await r.run(chain(deployment("a/1"), deployment("b/2")), attempt)
    assert caught.value.failure.kind is FailureKind.BAD_REQUEST
    assert caught.value.failure.status == 400
    assert cooldowns.active(("a/1",)) is None

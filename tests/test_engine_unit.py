"""The engine's own parsing (gateway/engine): server-sent events cut anywhere, and the small
differences between OpenAI-style providers' chunks. HTTP behaviour is covered end to end."""

from __future__ import annotations

import asyncio

import pytest

from gateway.engine.openai_wire import decode_chunk
from gateway.engine.sse import SSEDecoder, json_events
from gateway.routing.failures import FailureKind, UpstreamFailure

STREAM = (
    b'data: {"a":1}\n\n'
    b'data: {"b":2}\r\n\r\n'
    b'event: message\ndata: {"c":\ndata: 3}\n\n'
    b": a comment\n\n"
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_events_survive_any_split(size):
    decoder = SSEDecoder()
    payloads = []
    for start in range(0, len(STREAM), size):
        payloads += decoder.feed(STREAM[start : start + size])
    payloads += decoder.close()
    assert payloads == [b'{"a":1}', b'{"b":2}', b'{"c":\n3}', b"[DONE]"]


def test_a_last_event_without_a_blank_line_is_kept():
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a":1}\n\ndata: {"b":2}') == [b'{"a":1}']
    assert decoder.close() == [b'{"b":2}']


async def _collect(pieces: list[bytes]) -> list[dict]:
    async def source():
        for piece in pieces:
            yield piece

    return [event async for event in json_events(source(), "test")]


def test_malformed_events_are_skipped_and_done_ends(caplog):
    events = asyncio.run(
        _collect([b'data: {"a":1}\n\ndata: {not json\n\ndata: [1]\n\n', b'data: {"b":2}\n\n'])
    )
    assert events == [{"a": 1}, {"b": 2}]
    assert "skipped a malformed stream event from test" in caplog.text
    assert asyncio.run(_collect([b'data: {"a":1}\n\ndata: [DONE]\n\ndata: {"b":2}\n\n'])) == [
        {"a": 1}
    ]


def test_reasoning_and_groq_usage_are_evened_out():
    chunk = decode_chunk(
        {
            "choices": [{"index": 0, "delta": {"reasoning": "hmm"}}],
            "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 1}},
        }
    )
    assert chunk["choices"][0]["delta"] == {"reasoning_content": "hmm"}
    assert chunk["usage"] == {"prompt_tokens": 3, "completion_tokens": 1}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "slow down", "code": 429}, FailureKind.RATE_LIMITED),
        ({"message": "boom", "code": "500"}, FailureKind.SERVER_ERROR),
        ("overloaded", FailureKind.SERVER_ERROR),
    ],
)
def test_an_error_inside_a_stream_is_a_failure(error, kind):
    with pytest.raises(UpstreamFailure) as caught:
        decode_chunk({"error": error})
    assert caught.value.kind is kind

"""Chat chunks → Responses API events and objects (gateway/formats/responses.py), pure logic.

The HTTP behaviour is covered in test_responses.py and test_failover.py; these pin down the
cases emulators rarely produce: names arriving late, parallel calls, truncation, failure.
"""

from __future__ import annotations

from gateway.formats.responses import (
    ResponseBuilder,
    echoed_fields,
    response_from_completion,
    responses_usage,
)


def chunk(delta: dict | None = None, finish: str | None = None, **extra) -> dict:
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def run(*chunks: dict) -> list[dict]:
    builder = ResponseBuilder(echoed_fields({}), model="m")
    events = builder.start()
    for item in chunks:
        events += builder.feed(item)
    return events + builder.finish()


def types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def test_text_answer_event_sequence():
    events = run(chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}, "stop"))
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[2]["item"]["status"] == "in_progress" and events[2]["item"]["content"] == []
    assert events[6]["text"] == "Hello"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Hello"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_tool_call_is_announced_once_its_name_is_known():
    events = run(
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "write", "arguments": ":1"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}, "tool_calls"),
    )
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["name"] == "write" and added["item"]["call_id"] == "call_1"
    assert added["item"]["arguments"] == ""
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == ['{"a":1', "}"]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == '{"a":1}'
    final = events[-1]["response"]["output"]
    assert final == [
        {
            "id": added["item"]["id"],
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "write",
            "arguments": '{"a":1}',
        }
    ]


def test_parallel_tool_calls_are_separate_items():
    events = run(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "a", "function": {"name": "read", "arguments": "{}"}},
                    {"index": 1, "id": "b", "function": {"name": "glob", "arguments": ""}},
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"p":1}'}}]}, "tool_calls"),
    )
    output = events[-1]["response"]["output"]
    assert [(i["call_id"], i["name"], i["arguments"]) for i in output] == [
        ("a", "read", "{}"),
        ("b", "glob", '{"p":1}'),
    ]
    deltas = [
        (e["output_index"], e["delta"])
        for e in events
        if e["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [(0, "{}"), (1, '{"p":1}')]


def test_text_then_tool_call_closes_the_message_first():
    events = run(
        chunk({"content": "Writing it."}),
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "write"}}]}),
        chunk({}, "tool_calls"),
    )
    names = types(events)
    assert names.index("response.output_item.done") < names.index(
        "response.output_item.added", names.index("response.output_text.done")
    )
    assert [i["type"] for i in events[-1]["response"]["output"]] == ["message", "function_call"]


def test_reasoning_comes_before_the_answer_as_a_summary_item():
    events = run(chunk({"reasoning_content": "Hmm."}), chunk({"content": "Yes."}, "stop"))
    output = events[-1]["response"]["output"]
    assert output[0] == {
        "id": output[0]["id"],
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Hmm."}],
    }
    assert output[1]["content"][0]["text"] == "Yes."
    assert "response.reasoning_summary_text.done" in types(events)


def test_length_finish_is_an_incomplete_response():
    events = run(chunk({"content": "cut"}, "length"))
    assert events[-1]["type"] == "response.incomplete"
    response = events[-1]["response"]
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}


def test_failure_ends_with_error_and_failed_never_completed():
    builder = ResponseBuilder(echoed_fields({}), model="m")
    events = builder.start() + builder.feed(chunk({"content": "half"}))
    events += builder.fail("stream_interrupted", "x failed mid-answer")
    assert types(events)[-2:] == ["error", "response.failed"]
    error = events[-2]
    assert error["code"] == error["error"]["code"] == "stream_interrupted"
    assert error["message"] == error["error"]["message"] == "x failed mid-answer"
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "stream_interrupted"
    assert "response.completed" not in types(events)


def test_model_and_usage_follow_the_chunks():
    builder = ResponseBuilder(echoed_fields({}), model="first/model")
    builder.feed(chunk({"content": "a"}, model="first/model"))
    builder.feed(chunk({"content": "b"}, "stop", model="next/model"))
    builder.feed({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}})
    response = builder.finish()[-1]["response"]
    assert response["model"] == "next/model"
    assert response["usage"]["input_tokens"] == 7 and response["usage"]["total_tokens"] == 9


def test_usage_details_are_carried_over():
    usage = responses_usage(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 3},
        }
    )
    assert usage == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 15,
    }
    assert responses_usage(None)["total_tokens"] == 0


def test_whole_completion_becomes_a_response_object():
    completion = {
        "id": "chatcmpl-1",
        "created": 1700000000,
        "model": "groq/x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Let me write it.",
                    "reasoning_content": "plan",
                    "tool_calls": [
                        {
                            "id": "call_7",
                            "type": "function",
                            "function": {"name": "write", "arguments": '{"f":1}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    echoed = echoed_fields({"instructions": "be brief", "store": True, "tool_choice": "required"})
    response = response_from_completion(completion, echoed)
    assert response["status"] == "completed" and response["created_at"] == 1700000000
    assert response["model"] == "groq/x"
    assert [item["type"] for item in response["output"]] == [
        "reasoning",
        "message",
        "function_call",
    ]
    assert response["output"][2]["call_id"] == "call_7"
    assert response["output_text"] == "Let me write it."
    assert response["usage"]["output_tokens"] == 4
    assert response["instructions"] == "be brief" and response["tool_choice"] == "required"
    assert response["store"] is False  # nothing is stored, whatever was asked


def test_echoed_fields_defaults():
    echoed = echoed_fields({"temperature": 0.2, "tools": None})
    assert echoed["temperature"] == 0.2 and echoed["tools"] == []
    assert echoed["text"] == {"format": {"type": "text"}} and echoed["tool_choice"] == "auto"

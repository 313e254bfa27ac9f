"""Assembling answers from chunks, and trimming a continuation that restates its prefill."""

from __future__ import annotations

from gateway.routing.answer import AnswerProgress, OverlapTrimmer, blocked_by_content_filter


def test_trimmer_passes_a_plain_continuation_through():
    trimmer = OverlapTrimmer("one two ")
    assert trimmer.feed("three ") == "three "
    assert trimmer.feed("four") == "four"


def test_trimmer_drops_a_restated_prefix_split_over_chunks():
    trimmer = OverlapTrimmer("one two ")
    assert trimmer.feed("one ") == ""
    assert trimmer.feed("two three") == "three"
    assert trimmer.feed(" four") == " four"


def test_trimmer_releases_held_text_that_turned_out_different():
    trimmer = OverlapTrimmer("one two ")
    assert trimmer.feed("on") == ""
    assert trimmer.feed("ly this") == "only this"


def test_progress_assembles_text_tool_calls_and_usage():
    progress = AnswerProgress()
    chunks = [
        {"id": "c1", "created": 1, "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Let me "}}]},
        {"choices": [{"index": 0, "delta": {"content": "write."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "function": {"name": "write", "arguments": '{"a"'},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}},
    ]
    for chunk in chunks:
        progress.observe(chunk)
    completion = progress.completion("groq/m")
    message = completion["choices"][0]["message"]
    assert completion["id"] == "c1" and completion["model"] == "groq/m"
    assert message["content"] == "Let me write."
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "write", "arguments": '{"a":1}'}}
    ]
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"]["total_tokens"] == 12


def test_content_filter_finish_without_output_is_a_block():
    assert blocked_by_content_filter(
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]}
    )
    assert not blocked_by_content_filter(
        {
            "choices": [
                {"index": 0, "delta": {"content": "partial"}, "finish_reason": "content_filter"}
            ]
        }
    )

"""`/v1/completions` (legacy text completions over the chat chains) and `/v1/embeddings`
(chains of embedding models), driven by the OpenAI SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.emulators.embeddings import vector_for
from tests.gateway_process import run_cli, write_config

# -- completions ---------------------------------------------------------------------------


def test_completion(client, emulator):
    emulator.clear()
    raw = client.completions.with_raw_response.create(
        model="coding-elite", prompt="echo: hello world", max_tokens=20
    )
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "hello world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-gateway-served-by"] == "groq/llama-3.3-70b-versatile"
    upstream = next(r for r in emulator.requests if r.model == "llama-3.3-70b-versatile")
    assert upstream.body["messages"] == [{"role": "user", "content": "echo: hello world"}]
    assert upstream.body["max_tokens"] == 20


def test_completion_echo_and_several_prompts(client):
    completion = client.completions.create(
        model="coding-elite", prompt=["echo: one", "echo: two"], echo=True
    )
    assert [c.index for c in completion.choices] == [0, 1]
    assert [c.text for c in completion.choices] == ["echo: oneone", "echo: twotwo"]


def test_streamed_completion(client):
    stream = client.completions.create(
        model="coding-elite",
        prompt="echo: a b c d",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "a b c d"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert {c.object for c in chunks} == {"text_completion"}


def test_completion_fails_over(client):
    completion = client.completions.create(model="chain-429", prompt="echo: fine")
    assert completion.choices[0].text == "fine"
    assert completion.model == "gemini/gemini-3-pro"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"suffix": "tail"}, "suffix"),
        ({"logprobs": 3}, "logprobs"),
        ({"best_of": 2}, "best_of"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": ["a", "b"], "stream": True}, "prompt"),
    ],
)
def test_what_a_chat_model_cannot_do_is_refused_by_name(gateway, extra, param):
    body = {"model": "coding-elite", "prompt": "x", **extra}
    response = httpx.post(gateway.url + "/v1/completions", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


# -- embeddings ----------------------------------------------------------------------------


def test_embeddings_with_the_sdk_fail_over(client):
    """The SDK asks for base64 by default; the chain's first candidate answers 500."""
    raw = client.embeddings.with_raw_response.create(model="embeddings", input=["alpha", "beta"])
    result = raw.parse()
    assert result.model == "cloudflare/@cf/baai/bge-m3"
    assert raw.headers["x-gateway-served-by"] == "cloudflare/@cf/baai/bge-m3"
    for item, text in zip(result.data, ["alpha", "beta"], strict=True):
        expected = vector_for(text, "@cf/baai/bge-m3")
        assert item.embedding == pytest.approx(expected, abs=1e-6)
    assert result.usage.prompt_tokens > 0


def test_embeddings_as_floats_from_gemini(gateway, emulator):
    emulator.clear()
    response = httpx.post(
        gateway.url + "/v1/embeddings",
        json={
            "model": "gemini/text-embedding-004",
            "input": "hello",
            "encoding_format": "float",
            "dimensions": 4,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data[0]["embedding"] == pytest.approx(vector_for("hello", "text-embedding-004", 4))
    assert emulator.count(provider="gemini", model="text-embedding-004") == 1


def test_embedding_chain_skips_a_rate_limited_candidate(client):
    result = client.embeddings.create(model="embed-429", input="x")
    assert result.model == "mybox/embed-box"


def test_embeddings_refuse_chat_models_and_chat_refuses_embedding_models(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="coding-elite", input="x")
    assert caught.value.body["code"] == "wrong_model_type"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="embeddings", messages=[{"role": "user", "content": "x"}]
        )
    assert "/v1/embeddings" in caught.value.body["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "embeddings"}, "invalid_input"),
        ({"model": "embeddings", "input": [1, 2]}, "unsupported_parameter"),
        (
            {"model": "embeddings", "input": "x", "encoding_format": "hex"},
            "invalid_encoding_format",
        ),
        ({"model": "embeddings", "input": "x", "dimensions": 0}, "invalid_dimensions"),
    ],
)
def test_bad_embedding_requests(gateway, body, code):
    response = httpx.post(gateway.url + "/v1/embeddings", json=body, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_a_chat_model_in_an_embedding_chain_is_a_config_error(tmp_path):
    config = write_config(
        tmp_path,
        {"groq": {"type": "groq", "models": {"chatty": {}, "vec": {"mode": "embedding"}}}},
        {"vectors": {"mode": "embedding", "candidates": ["groq/vec", "groq/chatty"]}},
    )
    result = run_cli("models", "--config-dir", str(config))
    assert result.returncode == 2
    assert "virtual_models.vectors.candidates: groq/chatty is a chat model" in result.stderr

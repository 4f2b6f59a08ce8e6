"""Tests of the fake OpenAI server itself, driven by the real ``openai.AsyncOpenAI`` client."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import openai
import pytest

from fakeserver import (
    LLAMACPP_CONTEXT_MESSAGE,
    OPENAI_CONTEXT_MESSAGE,
    VLLM_CONTEXT_MESSAGE,
    FakeOpenAI,
    Fault,
    default_reply,
    unused_port,
)


def _messages(text: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You write blog posts."},
        {"role": "user", "content": text},
    ]


async def _chat(url: str, text: str = "Section ID: intro\nWrite it.", timeout: float = 5.0, **kw: Any) -> Any:
    async with openai.AsyncOpenAI(base_url=url, api_key="test-key", max_retries=0, timeout=timeout) as c:
        return await c.chat.completions.create(model="fake-model", messages=_messages(text), **kw)


def _raises(url: str, exc: type[BaseException], **kw: Any) -> Any:
    with pytest.raises(exc) as info:
        asyncio.run(_chat(url, **kw))
    return info.value


# -- successful completions ---------------------------------------------------------------


def test_normal_completion_has_content_usage_and_is_recorded(fake_server: FakeOpenAI) -> None:
    text = "Section id: related-work\nSummarise the related work."
    resp = asyncio.run(_chat(fake_server.url, text, temperature=0.2))

    content = resp.choices[0].message.content
    assert content.startswith("Fake draft for related-work.")
    assert "fake-hash: " in content
    assert resp.model == "fake-model"
    assert resp.object == "chat.completion"
    assert resp.choices[0].finish_reason == "stop"
    prompt_chars = len("You write blog posts.") + len(text)
    assert resp.usage.prompt_tokens == prompt_chars // 4
    assert resp.usage.completion_tokens == len(content) // 4
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    [rec] = fake_server.requests
    assert fake_server.completions() == [rec]
    assert rec.status == 200
    assert rec.fault is None
    assert rec.body["model"] == "fake-model"
    assert rec.body["temperature"] == 0.2
    assert rec.messages[1]["content"] == text
    assert rec.headers["authorization"] == "Bearer test-key"
    assert rec.headers["content-type"].startswith("application/json")
    assert rec.started <= rec.finished


def test_default_reply_distinguishes_sections_and_requests() -> None:
    a = default_reply({"messages": _messages("section id: method\nfoo")})
    b = default_reply({"messages": _messages("section id: method\nbar")})
    c = default_reply({"messages": _messages("no marker here")})
    assert a.startswith("Fake draft for method.")
    assert b.startswith("Fake draft for method.")
    assert a != b  # different hash line
    assert a == default_reply({"messages": _messages("section id: method\nfoo")})  # deterministic
    assert c.startswith("Fake draft for unknown.")


def test_custom_reply_callable(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    server = fake_server_factory(reply=lambda body: f"echo {body['messages'][-1]['content']}")
    resp = asyncio.run(_chat(server.url, "hello"))
    assert resp.choices[0].message.content == "echo hello"


def test_models_endpoint(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    server = fake_server_factory(model_ids=("m-a", "m-b"))

    async def list_models() -> list[str]:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0) as c:
            return [m.id async for m in c.models.list()]

    assert asyncio.run(list_models()) == ["m-a", "m-b"]
    assert server.requests == []  # only chat requests are recorded


def test_concurrent_requests_overlap(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    latency = 0.3
    server = fake_server_factory(latency=latency)

    async def run() -> list[Any]:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0) as c:
            return await asyncio.gather(
                *(
                    c.chat.completions.create(model="fake-model", messages=_messages(f"section id: s{i}"))
                    for i in range(4)
                )
            )

    results = asyncio.run(run())

    assert sorted(r.choices[0].message.content.split("\n")[0] for r in results) == [
        f"Fake draft for s{i}." for i in range(4)
    ]
    assert server.max_in_flight == 4  # they really ran in parallel, all four at once
    assert all(r.finished - r.started >= latency * 0.9 for r in server.requests)


def test_burst_of_concurrent_connections_is_not_throttled(
    fake_server_factory: Callable[..., FakeOpenAI],
) -> None:
    # Regression: socketserver's default listen backlog (5) made bursts wait ~1 s for SYN retries.
    n, latency = 16, 0.4
    server = fake_server_factory(latency=latency)

    async def run() -> None:
        async with openai.AsyncOpenAI(base_url=server.url, api_key="k", max_retries=0) as c:
            await asyncio.gather(
                *(c.chat.completions.create(model="fake-model", messages=_messages("x")) for _ in range(n))
            )

    asyncio.run(run())
    # With the default backlog the late connections wait ~1 s for a SYN retry, after the first ones (0.4 s) are
    # answered: all n in flight at once shows none waited.
    assert server.max_in_flight == n


def test_sequential_requests_do_not_overlap(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    server = fake_server_factory(latency=0.05)
    for _ in range(2):
        asyncio.run(_chat(server.url))
    assert server.max_in_flight == 1


# -- HTTP error faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "exc", "status", "code", "message_part"),
    [
        (Fault.rate_limit(), openai.RateLimitError, 429, "rate_limit_exceeded", "Rate limit reached for"),
        (Fault.insufficient_quota(), openai.RateLimitError, 429, "insufficient_quota", "exceeded your"),
        (Fault.server_error(500), openai.InternalServerError, 500, None, "had an error"),
        (Fault.server_error(502), openai.InternalServerError, 502, None, "Bad gateway"),
        (Fault.server_error(503), openai.InternalServerError, 503, None, "overloaded"),
        (Fault.invalid_api_key(), openai.AuthenticationError, 401, "invalid_api_key", "Incorrect API key"),
        (Fault.model_not_found(), openai.NotFoundError, 404, "model_not_found", "`fake-model` does not"),
        (
            Fault.context_length_exceeded(),
            openai.BadRequestError,
            400,
            "context_length_exceeded",
            OPENAI_CONTEXT_MESSAGE,
        ),
        # llama.cpp and vLLM send an *integer* code; the openai client stringifies it.
        (Fault.context_exceeded_llamacpp(), openai.BadRequestError, 400, "400", LLAMACPP_CONTEXT_MESSAGE),
        (Fault.context_exceeded_vllm(), openai.BadRequestError, 400, "400", VLLM_CONTEXT_MESSAGE),
        (Fault.context_exceeded_vllm(flat=True), openai.BadRequestError, 400, "400", VLLM_CONTEXT_MESSAGE),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_http_faults_raise_matching_openai_errors(
    fake_server: FakeOpenAI,
    fault: Fault,
    exc: type[openai.APIStatusError],
    status: int,
    code: str | None,
    message_part: str,
) -> None:
    fake_server.enqueue(fault)
    err = _raises(fake_server.url, exc)

    assert err.status_code == status
    assert err.code == code
    assert message_part in err.message
    assert isinstance(err.body, dict)
    assert message_part in err.body["message"]
    assert err.request_id is not None and err.request_id.startswith("req_fake_")
    [rec] = fake_server.requests
    assert rec.status == status
    assert rec.fault is fault
    assert fake_server.completions() == []


def test_error_types_are_preserved(fake_server: FakeOpenAI) -> None:
    fake_server.enqueue(Fault.context_exceeded_llamacpp(), Fault.context_exceeded_vllm())
    llama = _raises(fake_server.url, openai.BadRequestError)
    vllm = _raises(fake_server.url, openai.BadRequestError)
    assert llama.type == "exceed_context_size_error"
    assert llama.body["n_ctx"] == 8192
    assert vllm.type == "BadRequestError"


def test_rate_limit_retry_after_header(fake_server: FakeOpenAI) -> None:
    fake_server.enqueue(Fault.rate_limit(retry_after=2), Fault.rate_limit(retry_after=None))
    first = _raises(fake_server.url, openai.RateLimitError)
    second = _raises(fake_server.url, openai.RateLimitError)
    assert first.response.headers["retry-after"] == "2"
    assert "retry-after" not in second.response.headers


def test_http_error_with_raw_html_body(fake_server: FakeOpenAI) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fake_server.enqueue(Fault.http_error(502, "unused", raw_body=html))
    err = _raises(fake_server.url, openai.InternalServerError)
    assert err.status_code == 502
    assert err.body == html
    assert err.code is None


# -- transport faults ------------------------------------------------------------------------


@pytest.mark.parametrize("partial", [False, True], ids=["close", "partial-headers"])
def test_drop_raises_connection_error(fake_server: FakeOpenAI, partial: bool) -> None:
    fake_server.enqueue(Fault.drop(partial=partial))
    err = _raises(fake_server.url, openai.APIConnectionError)
    assert not isinstance(err, openai.APITimeoutError)
    [rec] = fake_server.requests
    assert rec.status == 0
    assert rec.body["model"] == "fake-model"  # the request was read before dropping


def test_hang_longer_than_client_timeout_raises_timeout(fake_server: FakeOpenAI) -> None:
    fake_server.enqueue(Fault.hang(30))
    _raises(fake_server.url, openai.APITimeoutError, timeout=0.3)
    # the server notices the client hanging up and abandons the request
    deadline = time.monotonic() + 2
    while fake_server.requests[0].finished == 0.0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_server.requests[0].status == 0
    assert fake_server.completions() == []


def test_short_hang_then_answers_normally(fake_server: FakeOpenAI) -> None:
    fake_server.enqueue(Fault.hang(0.2))
    resp = asyncio.run(_chat(fake_server.url, timeout=5))
    assert resp.choices[0].message.content.startswith("Fake draft for intro.")
    [rec] = fake_server.requests
    assert rec.finished - rec.started >= 0.2
    assert rec.status == 200


def test_connection_refused_on_unused_port() -> None:
    err = _raises(f"http://127.0.0.1:{unused_port()}/v1", openai.APIConnectionError)
    assert not isinstance(err, openai.APITimeoutError)


# -- content faults and queue semantics ---------------------------------------------------------


@pytest.mark.parametrize("whitespace", [False, True])
def test_empty_content(fake_server: FakeOpenAI, whitespace: bool) -> None:
    fake_server.enqueue(Fault.empty(whitespace=whitespace))
    resp = asyncio.run(_chat(fake_server.url))
    content = resp.choices[0].message.content
    assert content.strip() == ""
    assert (content != "") is whitespace
    assert fake_server.requests[0].status == 200


def test_faults_are_consumed_fifo_then_requests_succeed(fake_server: FakeOpenAI) -> None:
    fake_server.enqueue(Fault.reply("first"), Fault.server_error(503))
    fake_server.enqueue(Fault.reply("third", finish_reason="length"))
    assert fake_server.pending_faults() == 3

    one = asyncio.run(_chat(fake_server.url))
    _raises(fake_server.url, openai.InternalServerError)
    three = asyncio.run(_chat(fake_server.url))
    four = asyncio.run(_chat(fake_server.url))

    assert one.choices[0].message.content == "first"
    assert three.choices[0].message.content == "third"
    assert three.choices[0].finish_reason == "length"
    assert four.choices[0].message.content.startswith("Fake draft for intro.")
    assert [r.status for r in fake_server.requests] == [200, 503, 200, 200]
    assert len(fake_server.completions()) == 3
    assert fake_server.pending_faults() == 0


def test_a_server_that_does_not_stream_rejects_stream_true(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    server = fake_server_factory(streaming=False)
    _raises(server.url, openai.BadRequestError, stream=True)


async def _stream(url: str, **kw: Any) -> list[Any]:
    async with openai.AsyncOpenAI(base_url=url, api_key="test-key", max_retries=0, timeout=5) as c:
        stream = await c.chat.completions.create(model="fake-model", messages=_messages("Section ID: intro\nGo."),
                                                 stream=True, **kw)
        return [chunk async for chunk in stream]


def test_a_stream_carries_the_whole_answer_then_the_usage(fake_server: FakeOpenAI) -> None:
    chunks = asyncio.run(_stream(fake_server.url, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Fake draft for intro.") and "fake-hash: " in text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text) // 4
    assert all(c.usage is None for c in chunks[:-1])
    plain = asyncio.run(_stream(fake_server.url))
    assert all(c.choices for c in plain)  # no usage chunk unless asked


def test_stream_options_can_be_rejected(fake_server_factory: Callable[..., FakeOpenAI]) -> None:
    server = fake_server_factory(stream_options=False)
    error = _raises(server.url, openai.BadRequestError, stream=True, stream_options={"include_usage": True})
    assert "stream_options" in str(error)
    assert asyncio.run(_stream(server.url))  # streaming without it still works


# -- plumbing ------------------------------------------------------------------------------------


def test_unknown_path_gives_json_404(fake_server: FakeOpenAI) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(fake_server.url + "/nope", timeout=5)
    with info.value as resp:
        assert resp.status == 404
        body = json.loads(resp.read())
    assert "nope" in body["error"]["message"]
    assert fake_server.requests == []


def test_url_requires_start_and_stop_is_idempotent() -> None:
    server = FakeOpenAI()
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/v1")
    server.stop()


def test_stop_is_prompt_with_idle_and_hanging_connections() -> None:
    server = FakeOpenAI().start()
    server.enqueue(Fault.hang(60))
    body = json.dumps({"model": "m", "messages": []}).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with (
        socket.create_connection(("127.0.0.1", server.port)) as idle,
        socket.create_connection(("127.0.0.1", server.port)) as hanging,
    ):
        hanging.sendall(request)
        deadline = time.monotonic() + 2
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        server.stop()  # returns, though a connection is idle and a request hangs
        assert idle.recv(1) == b""
        assert hanging.recv(1) == b""
    assert server.requests[0].status == 0
    assert server.errors == []

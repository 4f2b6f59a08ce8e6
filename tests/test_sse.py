"""The errors servers send inside a 200 stream, in each real server's shape (see fakeserver._stream_error_lines),
read as the HTTP error they would have been: status, message and the extra fields kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from drafter.llm.errors import CONTEXT_PATTERNS
from drafter.llm.sse import ServerFailed, sse_data
from fakeserver import LLAMACPP_CONTEXT_MESSAGE, STREAM_ERROR_SHAPES, TGI_CONTEXT_MESSAGE, _stream_error_lines

CHUNK = b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}]}\n\n'


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def read(data: bytes, size: int = 7) -> list[dict]:
    async def go() -> list[dict]:
        return [item async for item in sse_data(_pieces(data, size))]
    return asyncio.run(go())


@pytest.mark.parametrize("shape", STREAM_ERROR_SHAPES)
def test_every_shape_of_a_stream_error_is_the_error_it_names(shape: str) -> None:
    error = {"code": 503, "message": "Loading model", "type": "unavailable_error"}
    with pytest.raises(ServerFailed) as caught:
        read(CHUNK + b"".join(_stream_error_lines(shape, error)))
    assert caught.value.status == (500 if shape == "lmstudio" else 503)  # LM Studio names no status
    assert str(caught.value) == "Loading model"


@pytest.mark.parametrize(("shape", "message", "status"), [
    ("llamacpp-legacy", LLAMACPP_CONTEXT_MESSAGE, 400), ("llamacpp", LLAMACPP_CONTEXT_MESSAGE, 400),
    ("tgi", TGI_CONTEXT_MESSAGE, 422)])
def test_a_context_error_keeps_its_words_and_numbers(shape: str, message: str, status: int) -> None:
    error = {"code": status, "message": message, "type": "exceed_context_size_error", "n_ctx": 8192}
    with pytest.raises(ServerFailed) as caught:
        read(b"".join(_stream_error_lines(shape, error)), size=1)
    assert caught.value.status == status
    assert CONTEXT_PATTERNS.search(str(caught.value))
    if shape.startswith("llamacpp"):
        assert caught.value.error["n_ctx"] == 8192


def test_an_error_without_a_status_is_a_server_failure_unless_it_speaks_of_the_context() -> None:
    with pytest.raises(ServerFailed) as caught:
        read(CHUNK + b'data: {"error": "Request failed during generation: CUDA out of memory"}\n\n')
    assert caught.value.status == 500
    with pytest.raises(ServerFailed) as caught:
        read(b'data: {"error": {"message": "the prompt is longer than the context length currently available '
             b'to the model"}}\n\n')
    assert caught.value.status == 400


def test_comments_blank_lines_and_other_fields_are_not_chunks() -> None:
    stream = (b": ping\n\n" + b"id: 1\nretry: 100\n" + CHUNK.replace(b"\n", b"\r\n") + b":\n\n\n" + CHUNK
              + b"event: message\n" + CHUNK + b'data: {"choices": [], "usage": {"prompt_tokens": 3}, "error": null}'
              + b"\n\ndata: [DONE]\n\n" + CHUNK)
    items = read(stream, size=3)
    assert len(items) == 4
    assert items[-1]["usage"] == {"prompt_tokens": 3}

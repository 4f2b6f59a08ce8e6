"""A context error in each server's words: the window and prompt sizes it gives, and the paper budget of the one
try after it (fits the window the server stated, instead of halving blindly)."""

from __future__ import annotations

import httpx2
import openai
import pytest

from drafter.llm.errors import context_sizes, model_error
from drafter.llm.types import ContextTooLong
from drafter.pipeline import fitted_budget, prompt_room
from drafter.prompts import Rendered
from fakeserver import LLAMACPP_CONTEXT_MESSAGE, OPENAI_CONTEXT_MESSAGE, TGI_CONTEXT_MESSAGE, VLLM_CONTEXT_MESSAGE

# llama.cpp's wording since 2025 (tools/server: "request (%d tokens) exceeds the available context size (%d
# tokens), try increasing it"), vLLM's newer one for an output budget that does not fit (serving_engine.py,
# _validate_input), Ollama's (llm/llama_server.go), which gives no sizes.
LLAMACPP_NEW = "request (9000 tokens) exceeds the available context size (8192 tokens), try increasing it"
VLLM_NEW = ("'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's maximum context length is "
            "4096 tokens and your request has 3500 input tokens (1000 > 4096 - 3500).")
# LM Studio's two wordings (lmstudio-bug-tracker issues 546 and 237; Gitlawb/openclaude issue 353).
LMSTUDIO = ("Trying to keep the first 111490 tokens when context the overflows. However, the model is loaded with "
            "context length of only 32768 tokens, which is not enough. Try to load the model with a larger context "
            "length, or provide a shorter input.")
LMSTUDIO_KEEP = ("The number of tokens to keep from the initial prompt is greater than the context length (n_keep: "
                 "13055>= n_ctx: 4096). Try to load the model with a larger context length, or provide a shorter "
                 "input.")
OLLAMA = ("the prompt is longer than the context length currently available to the model; shorten the prompt, "
          "adjust the context length in settings, or use a model with a longer context length")


def error(status: int, body: dict) -> openai.APIStatusError:
    response = httpx2.Response(status, request=httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions"))
    cls = openai.BadRequestError if status == 400 else openai.UnprocessableEntityError
    return cls(str(body.get("message")), response=response, body=body)


@pytest.mark.parametrize(("status", "body", "window", "prompt"), [
    (400, {"message": OPENAI_CONTEXT_MESSAGE, "code": "context_length_exceeded"}, 8192, 9000),
    (400, {"message": LLAMACPP_CONTEXT_MESSAGE, "type": "exceed_context_size_error", "n_prompt_tokens": 9000,
           "n_ctx": 8192}, 8192, 9000),
    (400, {"message": LLAMACPP_NEW, "type": "exceed_context_size_error"}, 8192, 9000),
    (400, {"message": VLLM_CONTEXT_MESSAGE, "type": "BadRequestError"}, 4096, 4000),
    (400, {"message": VLLM_NEW, "type": "BadRequestError"}, 4096, 3500),
    (422, {"message": TGI_CONTEXT_MESSAGE}, 4096, 4000),
    (400, {"message": OLLAMA, "type": "invalid_request_error"}, None, None),
    (400, {"message": LMSTUDIO}, 32768, 111490),
    (400, {"message": LMSTUDIO_KEEP}, 4096, 13055),
], ids=["openai", "llamacpp", "llamacpp-new", "vllm", "vllm-new", "tgi", "ollama", "lmstudio", "lmstudio-keep"])
def test_each_servers_context_error_is_one_with_the_sizes_it_gives(status: int, body: dict, window: int | None,
                                                                    prompt: int | None) -> None:
    exc = error(status, body)
    assert context_sizes(exc, body["message"]) == (window, prompt)
    reported = model_error(exc, where="http://127.0.0.1/v1", model="m", section="summary", tries=3, timeout=60,
                           secret=None)
    assert isinstance(reported, ContextTooLong)
    assert (reported.window, reported.prompt) == (window, prompt)
    assert (f"of {window} tokens" in reported.message) == bool(window)


def rendered(paper_chars: int, max_tokens: int = 1000) -> Rendered:
    return Rendered("summary", [{"role": "system", "content": "s" * 400}, {"role": "user", "content":
                                                                           "p" * paper_chars}], max_tokens)


def too_long(window: int | None, prompt: int | None) -> ContextTooLong:
    exc = ContextTooLong("too long")
    exc.window, exc.prompt = window, prompt
    return exc


def prompt_at(tokens: int) -> int:
    """A prompt of 100 tokens around a paper of 10000, the paper cut to `tokens`."""
    return rendered(4 * min(tokens, 10000)).prompt_tokens


def test_the_room_is_the_window_less_the_answer_in_drafters_tokens() -> None:
    request = rendered(40000)
    assert prompt_room(request, too_long(4096, request.prompt_tokens)) == int(3096 * 0.9)
    # A server that counts twice the tokens drafter estimates leaves half the room in drafter's tokens.
    assert prompt_room(request, too_long(4096, 2 * request.prompt_tokens)) == int(3096 * 0.5 * 0.9)
    assert prompt_room(request, too_long(None, 9000)) is None


def test_the_paper_is_cut_until_the_prompt_fits_the_room() -> None:
    budget = fitted_budget(prompt_at, 12000, 2786)
    assert prompt_at(budget) <= 2786
    assert budget > 2786 - 200  # not more than needed: the paper keeps what fits
    assert budget < 10000 // 2  # halving would not have fitted


def test_without_a_room_or_when_the_prompt_already_fits_it_the_paper_is_halved() -> None:
    assert fitted_budget(prompt_at, 10100, None) == 5050
    assert fitted_budget(prompt_at, 10100, 50000) == 5050
    assert fitted_budget(prompt_at, 10100, 50) == 250  # the answer's budget alone nearly fills the window

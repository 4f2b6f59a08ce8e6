"""Endpoint profiles: which parameters a model takes, learned from 400s and remembered across runs."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from drafter.cache import ResponseCache
from drafter.llm import (
    REASONING,
    REASONING_HEADROOM,
    CachedBackend,
    OfflineBackend,
    Profile,
    Profiles,
    Request,
    adapt_profile,
    chat_body,
    is_reasoning_name,
    rejected_parameter,
)
from fakeserver import FakeOpenAI, Fault


@pytest.mark.parametrize(("name", "reasoning"), [
    ("o1", True), ("o1-mini", True), ("o3", True), ("o3-mini-2025-01-31", True), ("o4-mini", True),
    ("o3-pro", True), ("gpt-5", True), ("gpt-5-mini", True), ("gpt-5-nano", True), ("gpt-5.1", True),
    ("openai/gpt-5-mini", True), ("azure/o4-mini", True), ("GPT-5", True),
    ("gpt-5-chat-latest", False), ("gpt-4o-mini", False), ("gpt-4.1", False), ("llama3.1", False),
    ("qwen3:8b", False), ("deepseek-r1:7b", False), ("ollama", False), ("o", False), ("gpt-oss-20b", False),
])
def test_known_reasoning_names(name: str, reasoning: bool) -> None:
    assert is_reasoning_name(name) is reasoning


def _request(**changes: object) -> Request:
    fields: dict = {"section_id": "math", "messages": [{"role": "user", "content": "x"}], "max_tokens": 900,
                    "model": "m", "temperature": 0.3}
    fields.update(changes)
    return Request(**fields)


def test_chat_body_follows_the_profile() -> None:
    assert chat_body(_request()) == {"model": "m", "messages": [{"role": "user", "content": "x"}],
                                     "max_tokens": 900, "temperature": 0.3}
    reasoning = chat_body(_request(model="o3", reasoning_effort="medium"))
    assert reasoning == {"model": "o3", "messages": [{"role": "user", "content": "x"}],
                         "max_completion_tokens": 900 + REASONING_HEADROOM, "reasoning_effort": "medium"}
    high = chat_body(_request(model="o3", reasoning_effort="high"))
    assert high["max_completion_tokens"] == 900 + 2 * REASONING_HEADROOM
    quiet = chat_body(_request(reasoning_effort="low"), Profile(effort=False))
    assert "reasoning_effort" not in quiet


@pytest.mark.parametrize(("before", "param", "after"), [
    (Profile(), "max_tokens", REASONING),
    (Profile(), "temperature", REASONING),
    (REASONING, "max_completion_tokens", Profile("max_tokens", False, REASONING_HEADROOM)),
    (Profile(), "reasoning_effort", Profile(effort=False)),
    (REASONING, "temperature", None),  # nothing left to change: a real error
    (Profile(effort=False), "reasoning_effort", None),
    (Profile(), "max_completion_tokens", None),
])
def test_adapt_profile(before: Profile, param: str, after: Profile | None) -> None:
    assert adapt_profile(before, param) == after


def _error_for(server: FakeOpenAI, fault: Fault) -> openai.APIStatusError:
    """The exception the real client raises for this fault."""
    server.enqueue(fault)
    client = openai.OpenAI(base_url=server.url, api_key="k", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], max_tokens=5)
    client.close()
    return caught.value


@pytest.mark.parametrize(("fault", "param"), [
    (Fault.unsupported_parameter("max_tokens"), "max_tokens"),
    (Fault.unsupported_value("temperature", 0.3), "temperature"),
    (Fault.unsupported_parameter("temperature"), "temperature"),
    (Fault.unsupported_parameter("reasoning_effort"), "reasoning_effort"),
    # a proxy that keeps OpenAI's message but not its code or param
    (Fault.http_error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
                      "'max_completion_tokens' instead.", code="invalid_request_body"), "max_tokens"),
    (Fault.http_error(400, "reasoning_effort is not supported with this model"), "reasoning_effort"),
    (Fault.context_length_exceeded(), None),
    (Fault.http_error(400, "max_tokens is too large: 50000. This model supports at most 16384 completion tokens",
                      param="max_tokens", code="invalid_value"), None),
])
def test_rejected_parameter(fake_server: FakeOpenAI, fault: Fault, param: str | None) -> None:
    assert rejected_parameter(_error_for(fake_server, fault)) == param


def test_profiles_persist_atomically_and_survive_damage(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    profiles = Profiles(path)
    key = Profiles.key("http://h/v1/", "team-writer")
    assert profiles.get(key, "team-writer") == Profile()
    profiles.remember(key, REASONING)
    assert Profiles(path).get(key, "team-writer") == REASONING
    assert [p.name for p in tmp_path.iterdir()] == ["endpoints.json"]
    path.write_text("{not json", encoding="utf-8")
    assert Profiles(path).known == {}
    path.write_text('{"k": {"token_param": "bogus"}, "j": {"nope": 1}}', encoding="utf-8")
    assert Profiles(path).known == {}


def test_cache_key_is_the_logical_request_not_the_profile_body(tmp_path: Path) -> None:
    cached = CachedBackend(OfflineBackend(), ResponseCache(tmp_path), endpoint="http://h/v1")
    request = _request(model="team-writer")
    assert chat_body(request, Profile()) != chat_body(request, REASONING)
    assert cached.key(request) == cached.key(_request(model="team-writer"))
    assert cached.key(request) != cached.key(_request(model="team-writer", reasoning_effort="low"))

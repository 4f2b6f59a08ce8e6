"""Settings resolution: flag > DRAFTER_* > OPENAI_* > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter.config import DEFAULT_MODEL, config_file, default_cache_dir, load_settings
from drafter.errors import ConfigError


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_configured_means_offline(tmp_path: Path) -> None:
    settings = load_settings({}, env={}, file=tmp_path / "none.toml")
    assert settings.offline
    assert settings.model == DEFAULT_MODEL


def test_precedence_flag_then_drafter_env_then_openai_env_then_file(tmp_path: Path) -> None:
    cfg = _file(tmp_path, 'model = "file-model"\nbase_url = "http://file:1/v1"\napi_key = "file-key"\njobs = 3\n')
    s = load_settings({}, env={}, file=cfg)
    assert (s.model, s.base_url, s.api_key, s.jobs) == ("file-model", "http://file:1/v1", "file-key", 3)
    s = load_settings({}, env={"OPENAI_BASE_URL": "http://openai-env:1/v1", "OPENAI_API_KEY": "env-key"}, file=cfg)
    assert (s.base_url, s.api_key, s.model) == ("http://openai-env:1/v1", "env-key", "file-model")
    env = {"OPENAI_BASE_URL": "http://openai-env:1/v1", "DRAFTER_BASE_URL": "http://drafter-env:1/v1",
           "DRAFTER_MODEL": "env-model", "DRAFTER_JOBS": "5"}
    s = load_settings({}, env=env, file=cfg)
    assert (s.base_url, s.model, s.jobs) == ("http://drafter-env:1/v1", "env-model", 5)
    s = load_settings({"base_url": "http://flag:1/v1", "model": "flag-model", "jobs": 7}, env=env, file=cfg)
    assert (s.base_url, s.model, s.jobs) == ("http://flag:1/v1", "flag-model", 7)
    assert s.origins["base_url"] == "flag" and s.origins["api_key"] == str(cfg)
    assert not s.offline


def test_keyless_local_server_is_not_offline(tmp_path: Path) -> None:
    s = load_settings({"base_url": "http://127.0.0.1:11434/v1", "model": "llama3.1"}, env={}, file=tmp_path / "x")
    assert not s.offline and s.api_key is None and s.endpoint == "http://127.0.0.1:11434/v1"


def test_custom_base_url_needs_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a model name"):
        load_settings({"base_url": "http://127.0.0.1:11434/v1"}, env={}, file=tmp_path / "x")


@pytest.mark.parametrize(("text", "match"), [
    ("model = ", "not valid TOML"),
    ("colour = 'blue'", "unknown setting"),
    ("jobs = 'many'", "not a valid int"),
    ("[prices]\nx = 3", "needs numeric input and output"),
])
def test_bad_config_file_is_named(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        load_settings({}, env={}, file=_file(tmp_path, text))
    assert "config.toml" in info.value.one_line()


def test_bad_values_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http"):
        load_settings({"base_url": "localhost:8080"}, env={}, file=tmp_path / "x")
    with pytest.raises(ConfigError, match="DRAFTER_JOBS"):
        load_settings({}, env={"DRAFTER_JOBS": "lots"}, file=tmp_path / "x")


def test_prices_give_a_cost(tmp_path: Path) -> None:
    cfg = _file(tmp_path, 'api_key = "k"\n[prices."gpt-4o-mini"]\ninput = 0.15\noutput = 0.6\n')
    s = load_settings({}, env={}, file=cfg)
    assert s.cost(1_000_000, 1_000_000) == pytest.approx(0.75)
    assert s.with_overrides(model="other").cost(10, 10) is None


def test_dirs_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert config_file() == tmp_path / "cfg" / "drafter" / "config.toml"
    assert default_cache_dir() == tmp_path / "cache" / "drafter"


def test_config_file_in_config_dir_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "drafter").mkdir()
    (tmp_path / "drafter" / "config.toml").write_text('model = "from-file"\napi_key = "k"\n', encoding="utf-8")
    assert load_settings({}).model == "from-file"


def test_api_key_is_not_in_repr() -> None:
    s = load_settings({"api_key": "sk-secret-123"}, env={})
    assert "sk-secret-123" not in repr(s)


def test_config_command_shows_origins_and_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from cliutil import cli

    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.example.invalid/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-NEVERSHOWN")
    monkeypatch.setenv("DRAFTER_MODEL", "env-model")
    run = cli("config", "--json", "--base-url", "http://127.0.0.1:9/v1")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["endpoint"] == "http://127.0.0.1:9/v1" and data["origins"]["base_url"] == "flag"
    assert data["model"] == "env-model" and data["origins"]["model"] == "DRAFTER_MODEL"
    assert data["api_key"] == "set"
    assert "NEVERSHOWN" not in run.stdout + run.stderr
    assert "NEVERSHOWN" not in cli("config").stdout


@pytest.mark.parametrize(("env", "says"), [
    ({"DRAFTER_TIMEOUT": "0"}, "DRAFTER_TIMEOUT: timeout = 0 is out of range"),
    ({"DRAFTER_TIMEOUT": "-1"}, "DRAFTER_TIMEOUT: timeout = -1 is out of range"),
    ({"DRAFTER_TIMEOUT": "nan"}, "DRAFTER_TIMEOUT: timeout = nan is not a finite number"),
    ({"DRAFTER_RETRIES": "-3"}, "DRAFTER_RETRIES: retries = -3 is out of range"),
    ({"DRAFTER_JOBS": "0"}, "DRAFTER_JOBS: jobs = 0 is out of range"),
    ({"DRAFTER_JOBS": "1000"}, "DRAFTER_JOBS: jobs = 1000 is out of range"),
    ({"DRAFTER_CONTEXT_TOKENS": "10"}, "DRAFTER_CONTEXT_TOKENS: context_tokens = 10 is out of range"),
    ({"DRAFTER_MAX_TOKENS": "0"}, "DRAFTER_MAX_TOKENS: max_tokens = 0 is out of range"),
])
def test_environment_values_meet_the_flags_limits(env: dict[str, str], says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({}, env=env, file=tmp_path / "none.toml")
    assert info.value.one_line().startswith(says)


@pytest.mark.parametrize(("text", "says"), [
    ('model = ["a", "b"]', "model = ['a', 'b'] must be one text value"),
    ("base_url = 8080", "base_url = 8080 must be one text value"),
    ("timeout = 0", "timeout = 0 is out of range"),
    ("retries = -3", "retries = -3 is out of range"),
    ("jobs = 2.7", "jobs = 2.7 is not a valid int"),
    ("jobs = true", "jobs = True is not a valid int"),
    ("temperature = 9", "temperature = 9 is out of range"),
])
def test_config_file_values_meet_the_flags_limits(text: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({}, env={}, file=_file(tmp_path, text))
    line = info.value.one_line()
    assert "config.toml" in line and says in line and len(line.splitlines()) == 1


def test_a_bad_environment_value_is_one_line_exit_2(tmp_path: Path) -> None:
    from cliutil import cli

    run = cli("new", "x.pdf", "--offline", env={"DRAFTER_TIMEOUT": "-1"})
    assert run.code == 2 and "Traceback" not in run.stderr
    assert [ln for ln in run.stderr.splitlines() if ln.startswith("error:")] == [
        "error: DRAFTER_TIMEOUT: timeout = -1 is out of range (must be at least 1). Use --timeout 1 or more "
        "(seconds)."]

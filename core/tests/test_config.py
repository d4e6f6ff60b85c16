"""Config loading: core keys, env expansion, and errors that say where and what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import cliproxy_echo
import cliproxy_openai
import pytest
from cliproxy.cli import main
from cliproxy.config import ConfigError, load_config
from cliproxy.gateway import Gateway
from cliproxy.plugins import Plugins


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def build(path: Path) -> Gateway:
    plugins = Plugins.load(entry_points=False, extra=[cliproxy_openai, cliproxy_echo])
    return Gateway.build(load_config(path), plugins)


def test_defaults():
    config = load_config({})
    assert (config.host, config.port) == ("127.0.0.1", 8317)
    assert config.api_keys == ()
    assert config.request_retry == 3 and config.max_retry_interval == 30
    assert config.routing.strategy == "round-robin"
    assert config.state.backend == "memory"


def test_core_keys_are_read(tmp_path):
    path = write(
        tmp_path,
        """
        host: 0.0.0.0
        port: 9000
        api-keys: [a, b]
        request-retry: 1
        max-retry-interval: 5
        force-model-prefix: true
        routing: {strategy: fill-first}
        max-body-size-mb: 2
        """,
    )
    config = load_config(path)
    assert config.port == 9000 and config.api_keys == ("a", "b")
    assert config.force_model_prefix and config.routing.strategy == "fill-first"
    assert config.max_body_bytes == 2 * 1024 * 1024


def test_unknown_key_names_line_and_suggests(tmp_path):
    path = write(tmp_path, "port: 8317\napi_keys: [x]\n")
    with pytest.raises(ConfigError) as caught:
        build(path)
    error = caught.value
    assert (error.line, error.column) == (2, 1)
    assert str(error) == f"{path}:2:1: unknown key 'api_keys' -- did you mean 'api-keys'?"


def test_typo_inside_a_provider_entry(tmp_path):
    path = write(
        tmp_path,
        """
        openai-compatibility:
          - name: local
            base-url: http://127.0.0.1:1/v1
            modles: [a]
        """,
    )
    with pytest.raises(ConfigError) as caught:
        build(path)
    assert caught.value.line == 4
    assert "openai-compatibility[0].modles" in str(caught.value)
    assert "did you mean 'models'?" in str(caught.value)


def test_wrong_type_is_named(tmp_path):
    path = write(tmp_path, "port: eighty\n")
    with pytest.raises(ConfigError, match=r"config.yaml:1:1: 'port' must be a whole number"):
        load_config(path)


def test_missing_plugin_says_what_to_install(tmp_path):
    path = write(tmp_path, "kiro:\n  - token-file: x.json\n")
    with pytest.raises(ConfigError) as caught:
        build(path)
    assert "pip install cliproxy-kiro" in str(caught.value)
    assert caught.value.line == 1


def test_env_vars_expand_and_missing_ones_are_located(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPROXY_TEST_KEY", "from-env")
    path = write(tmp_path, 'api-keys: ["${CLIPROXY_TEST_KEY}", "${NOPE_UNSET_VAR:-fallback}"]\n')
    assert load_config(path).api_keys == ("from-env", "fallback")
    path = write(tmp_path, 'api-keys: ["${NOPE_UNSET_VAR}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "environment variable NOPE_UNSET_VAR is not set" in str(caught.value)
    assert caught.value.line == 1


def test_yaml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, "port: 1\napi-keys: [a, b\nhost: x\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.line is not None and "invalid YAML" in str(caught.value)


def test_bad_choice_suggests(tmp_path):
    path = write(tmp_path, "routing:\n  strategy: round_robin\n")
    with pytest.raises(ConfigError, match="did you mean 'round-robin'"):
        load_config(path)


def test_responses_store_defaults_and_values(tmp_path):
    assert (load_config({}).responses_store.enabled, load_config({}).responses_store.ttl) == (True, 3600.0)
    path = write(tmp_path, "responses-store:\n  enabled: false\n  ttl: 600\n")
    store = load_config(path).responses_store
    assert (store.enabled, store.ttl) == (False, 600.0)
    default = load_config({}).responses_store
    assert (default.max_record_mb, default.max_total_mb) == (4.0, 256.0)
    assert (default.max_record_bytes, default.max_total_bytes) == (4 << 20, 256 << 20)
    path = write(tmp_path, "responses-store:\n  max-record-mb: 0.5\n  max-total-mb: 64\n")
    store = load_config(path).responses_store
    assert (store.max_record_bytes, store.max_total_bytes) == (512 << 10, 64 << 20)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("responses-store:\n  ttl: 0\n", "'responses-store.ttl' must be at least 1, not 0", 2),
        ("responses-store:\n  ttl: an hour\n", "'responses-store.ttl' must be a number, not 'an hour'", 2),
        ("responses-store:\n  enabled: maybe\n", "'responses-store.enabled' must be true or false", 2),
        ("responses-store:\n  tll: 60\n", "unknown key 'responses-store.tll' -- did you mean 'ttl'?", 2),
        ("responses-store: false\n", "write 'responses-store: {enabled: false}'", 1),
        ("responses-store:\n  max-record-mb: 0\n", "must be a positive number of megabytes, not 0", 2),
        ("responses-store:\n  max-total-mb: -1\n", "'responses-store.max-total-mb' must be a positive", 2),
        ("responses-store:\n  max-total-mb: .nan\n", "'responses-store.max-total-mb' must be a positive", 2),
        ("responses-store:\n  max-total-mb: lots\n", "'responses-store.max-total-mb' must be a number", 2),
        ("responses-store:\n  max-record-mb: [4]\n", "'responses-store.max-record-mb' must be a number", 2),
        (
            "responses-store:\n  ttl: 60\n  max-record-mb: 8\n  max-total-mb: 4\n",
            "'responses-store.max-record-mb' (8) is larger than 'responses-store.max-total-mb' (4)",
            3,
        ),
        ("responses-store:\n  max-record: 8\n", "did you mean 'max-record-mb'?", 2),
    ],
)
def test_responses_store_errors_name_the_key(tmp_path, text, message, line):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert caught.value.line == line


def test_session_affinity_defaults_and_values(tmp_path):
    routing = load_config({}).routing
    assert (routing.session_affinity, routing.session_ttl) == (False, 3600.0)
    path = write(tmp_path, "routing:\n  strategy: fill-first\n  session-affinity: true\n  session-ttl: 600\n")
    routing = load_config(path).routing
    assert (routing.strategy, routing.session_affinity, routing.session_ttl) == ("fill-first", True, 600.0)


@pytest.mark.parametrize(
    ("text", "message", "hint", "line"),
    [
        (
            "routing:\n  session-affinity: sometimes\n",
            "'routing.session-affinity' must be true or false",
            "write 'session-affinity: true'",
            2,
        ),
        (
            "routing:\n  session-affinity: true\n  session-ttl: 0\n",
            "'routing.session-ttl' must be a positive number of seconds, not 0",
            "session-ttl: 3600",
            3,
        ),
        (
            "routing:\n  session-affinity: true\n  session-ttl: an hour\n",
            "'routing.session-ttl' must be a number, not 'an hour'",
            "session-ttl: 3600",
            3,
        ),
        (
            "routing:\n  session-ttl: 600\n",
            "'routing.session-ttl' is set, but session affinity is off",
            "add 'session-affinity: true'",
            2,
        ),
        (
            "routing:\n  session_affinity: true\n",
            "unknown key 'routing.session_affinity' -- did you mean 'session-affinity'?",
            None,
            2,
        ),
    ],
)
def test_session_affinity_errors_name_the_key(tmp_path, text, message, hint, line):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value)
    if hint is not None:
        assert hint in (caught.value.hint or "")
    assert caught.value.line == line


def test_missing_file_has_a_hint(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as caught:
        load_config(tmp_path / "absent.yaml")
    assert caught.value.hint


def test_model_entries_accept_names_and_aliases(tmp_path):
    path = write(
        tmp_path,
        """
        openai-compatibility:
          - name: local
            base-url: http://127.0.0.1:1/v1
            models:
              - plain-model
              - name: upstream-name
                alias: client-name
        """,
    )
    gateway = build(path)
    ids = {m.id for m in gateway.router.models()}
    assert {"plain-model", "client-name"} <= ids
    assert gateway.router.resolve("client-name")[0].upstream_model == "upstream-name"


def test_check_command_exit_codes(tmp_path, capsys):
    good = write(tmp_path, "echo:\n  - models: [echo-1]\n")
    assert main(["check", "--config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("ech:\n  - models: [echo-1]\n")
    assert main(["check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:1:1: unknown key 'ech'" in err and "did you mean 'echo'?" in err


def test_example_config_is_valid(capsys):
    example = Path(__file__).parents[2] / "examples" / "config.yaml"
    assert main(["check", "--config", str(example)]) == 0
    assert "echo" in capsys.readouterr().out


def test_common_fields_build_credentials():
    from cliproxy import ConfigNode, read_common_fields

    node = ConfigNode(
        {
            "api-key": "sk-1",
            "prefix": "team",
            "models": [{"name": "up", "alias": "down"}],
            "priority": 2,
            "proxy-url": "direct",
        }
    )
    fields = read_common_fields(node, base_url="https://api.example.com")
    node.done()
    cred = fields.credential(id="x:1", provider="p", label="l", settings="s", weight=3)
    assert (cred.prefix, cred.priority, cred.weight, cred.proxy_url, cred.settings) == ("team", 2, 3, "direct", "s")
    assert cred.models[0].id == "down" and not cred.any_model


def test_state_timeouts_parse_and_default(tmp_path):
    assert (load_config({}).state.timeout, load_config({}).state.retry_interval) == (0.5, 5.0)
    path = write(
        tmp_path,
        """
        state:
          backend: redis
          url: redis://127.0.0.1:6379/0
          timeout: 0.25
          retry-interval: 2
        """,
    )
    state = load_config(path).state
    assert (state.timeout, state.retry_interval) == (0.25, 2.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("timeout: 0", "'state.timeout' must be a positive number of seconds, not 0"),
        ("timeout: -1", "'state.timeout' must be a positive number of seconds, not -1"),
        ("timeout: .nan", "'state.timeout' must be a positive number of seconds, not nan"),
        ("timeout: soon", "'state.timeout' must be a number, not 'soon'"),
        ("retry-interval: [5]", "'state.retry-interval' must be a number, not a list"),
        ("retry-interval: 0", "'state.retry-interval' must be a positive number of seconds"),
    ],
)
def test_bad_state_timeouts_are_config_errors_naming_the_key(tmp_path, line, message):
    path = write(tmp_path, f"state:\n  backend: memory\n  {line}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert message in error.message
    assert error.key == "state." + line.split(":")[0] and error.line == 3
    assert error.hint and "seconds" in error.hint


async def test_state_timeouts_reach_the_redis_store_and_its_description():
    from cliproxy.state import create_store

    state = {"backend": "redis", "url": "redis://127.0.0.1:6379/0"}
    config = load_config({"state": {**state, "timeout": 0.25, "retry-interval": 2}})
    store = create_store(config.state)
    try:
        info = store.describe()
        assert (info["timeout"], info["retry_interval"]) == (0.25, 2.0)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("usage:\n  write-interval: -1\n", "'usage.write-interval' must be between 0 and 60 seconds, not -1"),
        ("usage:\n  write-interval: 600\n", "'usage.write-interval' must be between 0 and 60 seconds, not 600"),
        ("usage:\n  write-interval: .nan\n", "'usage.write-interval' must be between 0 and 60 seconds"),
        ("usage:\n  write-interval: soon\n", "'usage.write-interval' must be a number"),
    ],
)
def test_usage_write_interval_errors_name_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert message in str(caught.value)
    assert caught.value.line == 2


def test_usage_write_interval_default_and_zero(tmp_path):
    assert load_config({}).usage.write_interval == 1.0
    assert load_config(write(tmp_path, "usage:\n  write-interval: 0\n")).usage.write_interval == 0.0

"""The ``metrics:`` block: defaults, values, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cliproxy.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_metrics_are_off_by_default():
    metrics = load_config({}).metrics
    assert (metrics.enabled, metrics.path, metrics.public) == (False, "/metrics", False)


def test_metrics_values(tmp_path):
    path = write(tmp_path, "metrics:\n  enabled: true\n  path: /internal/metrics\n  public: true\n")
    metrics = load_config(path).metrics
    assert (metrics.enabled, metrics.path, metrics.public) == (True, "/internal/metrics", True)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("metrics: true\n", "write 'metrics: {enabled: true}'", 1),
        ("metrics:\n  enabled: maybe\n", "'metrics.enabled' must be true or false", 2),
        (
            "metrics:\n  enable: true\n",
            "unknown key 'metrics.enable' -- did you mean 'enabled'?",
            2,
        ),
        ("metrics:\n  path: metrics\n", "'metrics.path' must be a URL path starting with '/'", 2),
        (
            "metrics:\n  path: /v1/metrics\n",
            "'/v1/metrics' is taken by the gateway's own endpoints",
            2,
        ),
        ("metrics:\n  path: /healthz\n", "is taken by the gateway's own endpoints", 2),
        ("metrics:\n  public: 1.5\n", "'metrics.public' must be true or false", 2),
    ],
)
def test_metrics_errors_name_the_key(tmp_path, text, message, line):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value)
    assert caught.value.line == line

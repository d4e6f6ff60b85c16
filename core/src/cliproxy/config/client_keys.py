"""Reading ``api-keys``: plain keys, or mappings with a policy (see :mod:`cliproxy.key_policy`)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from cliproxy.config.nodes import ConfigNode, expand_env
from cliproxy.key_policy import HASH_PREFIX, ClientKey, KeyPolicy, is_client_key_hash
from cliproxy.pricing import usd_to_nanos

__all__ = ["KEY_FIELDS", "read_client_keys"]

KEY_FIELDS = (
    "key",
    "name",
    "models",
    "rpm",
    "tpm",
    "max-parallel",
    "daily-tokens",
    "monthly-budget-usd",
    "expires",
    "metadata",
)
"""The fields of an ``api-keys`` mapping."""

_EXAMPLE = "e.g. '- {key: sk-team-a-..., name: team-a, models: [\"claude-*\"], rpm: 60}'"


def read_client_keys(root: ConfigNode) -> tuple[ClientKey, ...]:
    """Every ``api-keys`` entry, in order; empty strings are skipped (an unset variable)."""
    if isinstance(root.raw("api-keys"), str):
        key = root.str("api-keys")
        return (ClientKey(key, "key-1"),) if key else ()
    raw = root.raw_list("api-keys")  # (a located error for 'api-keys:' with nothing after it)
    if raw is None:
        return ()
    keys: list[ClientKey] = []
    names: dict[str, int] = {}
    seen: dict[bytes, int] = {}
    for i, item in enumerate(raw):
        if isinstance(item, Mapping):
            entry = ConfigNode(item, root.file, f"api-keys[{i}]")
            key = _entry(entry, f"key-{len(keys) + 1}")
        elif isinstance(item, str | int | float) and not isinstance(item, bool):
            text = expand_env(str(item), ConfigNode(raw, root.file, "api-keys"), i)
            if not text:
                continue
            key = ClientKey(text, f"key-{len(keys) + 1}")
        else:
            raise ConfigNode(raw, root.file, "api-keys").error(
                i, f"'api-keys[{i}]' must be a key or a mapping with 'key' and its policy", hint=_EXAMPLE
            )
        if key.name in names:
            raise ConfigNode(raw, root.file, "api-keys").error(
                i,
                f"'api-keys[{i}]' is named '{key.name}', like 'api-keys[{names[key.name]}]'",
                hint="give each key a name of its own (unnamed keys are named key-<position>)",
            )
        if key.digest in seen:
            raise ConfigNode(raw, root.file, "api-keys").error(
                i, f"'api-keys[{i}]' is the same key as 'api-keys[{seen[key.digest]}]'", hint="remove one of them"
            )
        names[key.name] = seen[key.digest] = i
        keys.append(key)
    return tuple(keys)


def _entry(node: ConfigNode, default_name: str) -> ClientKey:
    key = node.str("key", required=True)
    if not key:
        raise node.error("key", f"'{node.qualified('key')}' is empty", hint="write the key, or its sha256: hash")
    if key.startswith(HASH_PREFIX) and not is_client_key_hash(key):
        raise node.error(
            "key",
            f"'{node.qualified('key')}' starts like a key hash but is not one",
            hint="write 'sha256:' and the 64 hex digits 'cliproxy hash-key --client' prints, or the key itself",
        )
    name = node.str("name") or default_name
    if any(c.isspace() or ord(c) < 32 for c in name) or len(name) > 64:
        raise node.error("name", f"'{node.qualified('name')}' must be a short name without spaces, not '{name}'")
    policy = KeyPolicy(
        models=_models(node),
        rpm=_limit(node, "rpm"),
        tpm=_limit(node, "tpm"),
        max_parallel=_limit(node, "max-parallel"),
        daily_tokens=_limit(node, "daily-tokens"),
        monthly_budget_nanos=_budget(node),
        expires=_expires(node),
        metadata=tuple(sorted(node.str_map("metadata").items())),
    )
    node.done()
    return ClientKey(key, name, policy)


def _models(node: ConfigNode) -> tuple[str, ...]:
    models = node.str_list("models")
    for i, pattern in enumerate(models):
        if not pattern.strip():
            raise node.error("models", f"'{node.qualified('models')}[{i}]' is empty", hint="name a model glob")
    return models


def _limit(node: ConfigNode, key: str) -> int | None:
    value: int | None = node.int(key, None, minimum=1)
    return value


def _budget(node: ConfigNode) -> int | None:
    usd: float | None = node.float("monthly-budget-usd", None, minimum=0)
    if usd is None:
        return None
    if not math.isfinite(usd):
        raise node.error("monthly-budget-usd", "'monthly-budget-usd' must be a number of dollars, e.g. 200")
    return usd_to_nanos(usd)


def _expires(node: ConfigNode) -> float | None:
    raw: Any = node.raw("expires")
    if raw is None:
        return None
    hint = "write a date '2027-01-01', a date-time '2027-01-01T12:00:00Z', or Unix seconds"
    if isinstance(raw, dt.datetime):
        moment = raw if raw.tzinfo is not None else raw.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day, tzinfo=dt.UTC).timestamp()
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    if isinstance(raw, str):
        text = node.str("expires")
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise node.error("expires", f"'{node.qualified('expires')}' is not a date: '{text}'", hint=hint) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    raise node.error("expires", f"'{node.qualified('expires')}' must be a date or a time, not {raw!r}", hint=hint)

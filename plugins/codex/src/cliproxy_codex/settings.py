"""The ``codex:`` config block: where to sign in, where the Codex backend is, and defaults
for every signed-in ChatGPT account."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from cliproxy import ConfigNode, ModelEntry, read_common_fields

__all__ = [
    "CODEX_CLIENT_ID",
    "DEFAULT_BASE_URL",
    "DEFAULT_CALLBACK_PORTS",
    "DEFAULT_CLIENT_VERSION",
    "DEFAULT_ISSUER",
    "DEFAULT_ORIGINATOR",
    "PROVIDER",
    "CodexConfig",
    "read_codex_config",
]

PROVIDER = "codex"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
"""The public OAuth client of OpenAI's Codex CLI (``CLIENT_ID`` in openai/codex
``codex-rs/login``), also CLIProxyAPI's. The default, so ``cliproxy login codex`` works
unconfigured and Codex's own stored sign-ins refresh; the ChatGPT account's terms apply.
``codex.client-id`` or ``--client-id`` use another."""
DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
DEFAULT_CALLBACK_PORTS = (1455, 1457)
"""The loopback ports Codex's own sign-in listens on, both on the client's allow-list of
redirect URIs: the second when the first is taken."""
DEFAULT_ORIGINATOR = "codex_cli_rs"
DEFAULT_CLIENT_VERSION = "0.171.0"
"""The Codex CLI version the models endpoint is asked for (``client_version``): it lists
the models that version may use. The version the end-to-end suite pins."""
DEFAULT_MODELS_REFRESH = 3600.0
DEFAULT_USAGE_INTERVAL = 600.0


@attrs.frozen
class CodexConfig:
    """The ``codex:`` block (defaults when absent).

    Attributes:
        client_id: The OAuth client signing in and refreshing.
        issuer: The sign-in service (``/oauth/authorize``, ``/oauth/token``, device flow).
        base_url: The Codex backend; requests go to ``{base_url}/responses``.
        usage_url: The plan's usage endpoint (default: ``/wham/usage`` beside ``base_url``).
        callback_ports: Loopback ports for the sign-in redirect, tried in order.
        originator: The ``originator`` header (and the start of ``User-Agent``).
        client_version: The Codex version named to the models endpoint and in ``version``.
        user_agent: ``User-Agent`` of the gateway's own requests.
        models_refresh: Seconds between readings of each account's model list.
        usage_interval: Seconds after which an account's usage is read from the usage
            endpoint when no answer brought its rate-limit headers meanwhile.
        prefix, proxy_url, headers, models, excluded_models, priority, weight: Defaults
            for every signed-in account.
    """

    client_id: str = CODEX_CLIENT_ID
    issuer: str = DEFAULT_ISSUER
    base_url: str = DEFAULT_BASE_URL
    usage_url: str = ""
    callback_ports: tuple[int, ...] = DEFAULT_CALLBACK_PORTS
    originator: str = DEFAULT_ORIGINATOR
    client_version: str = DEFAULT_CLIENT_VERSION
    user_agent: str = ""
    models_refresh: float = DEFAULT_MODELS_REFRESH
    usage_interval: float = DEFAULT_USAGE_INTERVAL
    prefix: str | None = None
    proxy_url: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    models: tuple[ModelEntry, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1

    @property
    def token_url(self) -> str:
        return self.issuer + "/oauth/token"

    @property
    def agent(self) -> str:
        """The ``User-Agent``: configured, else ``<originator>/<version> (cliproxy)``."""
        return self.user_agent or f"{self.originator}/{self.client_version} (cliproxy)"


def _usage_url(base_url: str) -> str:
    root = base_url[: -len("/codex")] if base_url.endswith("/codex") else base_url
    return root + "/wham/usage"


def read_codex_config(root: ConfigNode, *, check: bool = False) -> CodexConfig:
    """Read ``codex:`` from the top-level config; ``check`` reports unknown keys."""
    node = root.node("codex")
    if node is None:
        return attrs.evolve(CodexConfig(), usage_url=_usage_url(DEFAULT_BASE_URL))
    fields = read_common_fields(node, api_key=None, base_url=DEFAULT_BASE_URL)
    base_url = fields.base_url or DEFAULT_BASE_URL
    issuer = (node.str("issuer") or DEFAULT_ISSUER).rstrip("/")
    if not issuer.startswith(("http://", "https://")):
        raise node.error("issuer", f"issuer '{issuer}' must start with http:// or https://")
    port = node.int("callback-port", None, minimum=1)
    config = CodexConfig(
        client_id=node.str("client-id") or CODEX_CLIENT_ID,
        issuer=issuer,
        base_url=base_url,
        usage_url=(node.str("usage-url") or _usage_url(base_url)).rstrip("/"),
        callback_ports=(port,) if port else DEFAULT_CALLBACK_PORTS,
        originator=node.str("originator") or DEFAULT_ORIGINATOR,
        client_version=node.str("client-version") or DEFAULT_CLIENT_VERSION,
        user_agent=node.str("user-agent") or "",
        models_refresh=float(node.float("models-refresh", DEFAULT_MODELS_REFRESH, minimum=60.0)),
        usage_interval=float(node.float("usage-interval", DEFAULT_USAGE_INTERVAL, minimum=60.0)),
        prefix=fields.prefix,
        proxy_url=fields.proxy_url,
        headers=fields.headers,
        models=fields.models,
        excluded_models=fields.excluded_models,
        priority=fields.priority,
        weight=fields.weight,
    )
    if check:
        node.done()
    return config

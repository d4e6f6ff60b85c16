"""cliproxy: a pluggable LLM gateway.

This module is the public API for plugin authors and embedding apps; everything a plugin
needs is importable from here (or from :mod:`cliproxy.ir`, :mod:`cliproxy.translate`,
:mod:`cliproxy.oauth` for login flows, :mod:`cliproxy.testing`). Other modules are
internals that may change.
"""

from cliproxy import ir
from cliproxy.commands import Command, LoginContext, LoginFlow
from cliproxy.config import Config, ConfigError, ConfigNode
from cliproxy.credentials import (
    CommonFields,
    Credential,
    ModelEntry,
    credential_id,
    mask_secret,
    read_common_fields,
)
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.estimate import estimate_request_tokens, estimate_tokens
from cliproxy.hookspecs import hookimpl
from cliproxy.providers import (
    Call,
    ClientIdentity,
    ClientRequest,
    DirectResponse,
    InboundRequest,
    Provider,
    UpstreamResponse,
)
from cliproxy.routing import ModelInfo
from cliproxy.state.base import Cooldown
from cliproxy.tokens import AuthType, TokenSet, write_token_file
from cliproxy.translate import (
    ClientTranslator,
    Door,
    EncodeContext,
    StreamDecoder,
    StreamEncoder,
    UpstreamTranslator,
)

__version__ = "0.1.0"

__all__ = [
    "AuthType",
    "Call",
    "ClientIdentity",
    "ClientRequest",
    "ClientTranslator",
    "Command",
    "CommonFields",
    "Config",
    "ConfigError",
    "ConfigNode",
    "Cooldown",
    "Credential",
    "DirectResponse",
    "Door",
    "EncodeContext",
    "ErrorKind",
    "GatewayError",
    "InboundRequest",
    "LoginContext",
    "LoginFlow",
    "ModelEntry",
    "ModelInfo",
    "Provider",
    "StreamDecoder",
    "StreamEncoder",
    "TokenSet",
    "UpstreamResponse",
    "UpstreamTranslator",
    "__version__",
    "create_app",
    "credential_id",
    "estimate_request_tokens",
    "estimate_tokens",
    "gateway_of",
    "hookimpl",
    "ir",
    "mask_secret",
    "read_common_fields",
    "write_token_file",
]


def __getattr__(name: str) -> object:
    # create_app pulls in Starlette and aiohttp; plugins importing cliproxy for its types
    # should not pay for that.
    if name == "create_app":
        from cliproxy.app import create_app

        return create_app
    if name == "gateway_of":  # the running Gateway of an app: await gateway_of(app).reload()
        from cliproxy.app import gateway_of

        return gateway_of
    raise AttributeError(f"module 'cliproxy' has no attribute {name!r}")

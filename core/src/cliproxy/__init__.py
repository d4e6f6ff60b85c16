"""cliproxy: a pluggable LLM gateway.

This module is the public API for plugin authors and embedding apps; everything a plugin
needs is importable from here (or from :mod:`cliproxy.ir`, :mod:`cliproxy.translate`,
:mod:`cliproxy.oauth` for login flows, :mod:`cliproxy.testing`). Other modules are
internals that may change.
"""

from cliproxy import ir
from cliproxy.affinity import session_value
from cliproxy.answers import DirectResponse, UpstreamResponse
from cliproxy.auth_types import AuthType
from cliproxy.client import ClientIdentity, ClientRequest, InboundRequest
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
from cliproxy.embedding import EmbeddingInput, EmbeddingRequest, Embeddings, in_batches, text_only
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.estimate import estimate_request_tokens, estimate_tokens
from cliproxy.hookspecs import hookimpl
from cliproxy.host import Host
from cliproxy.init_choice import InitChoice
from cliproxy.providers import Call, Provider
from cliproxy.quota import Quota, QuotaWindow
from cliproxy.routing import ModelInfo
from cliproxy.state import StateStore
from cliproxy.state.base import Cooldown
from cliproxy.tokens import SIGN_IN_AGAIN, TokenManager, TokenSet, write_token_file
from cliproxy.translate import (
    ClientTranslator,
    Door,
    EncodeContext,
    StreamDecoder,
    StreamEncoder,
    UpstreamTranslator,
)
from cliproxy.version import USER_AGENT, __version__
from cliproxy.wire import openai_embeddings
from cliproxy.wire.gemini import embeddings as gemini_embeddings
from cliproxy.wire.reasoning_details import add_reasoning_details

__all__ = [
    "SIGN_IN_AGAIN",
    "USER_AGENT",
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
    "EmbeddingInput",
    "EmbeddingRequest",
    "Embeddings",
    "EncodeContext",
    "ErrorKind",
    "GatewayError",
    "Host",
    "InboundRequest",
    "InitChoice",
    "LoginContext",
    "LoginFlow",
    "ModelEntry",
    "ModelInfo",
    "Provider",
    "Quota",
    "QuotaWindow",
    "StateStore",
    "StreamDecoder",
    "StreamEncoder",
    "TokenManager",
    "TokenSet",
    "UpstreamResponse",
    "UpstreamTranslator",
    "__version__",
    "add_reasoning_details",
    "create_app",
    "credential_id",
    "estimate_request_tokens",
    "estimate_tokens",
    "gateway_of",
    "gemini_embeddings",
    "hookimpl",
    "in_batches",
    "ir",
    "mask_secret",
    "openai_embeddings",
    "read_common_fields",
    "reload_app",
    "session_value",
    "text_only",
    "write_token_file",
]


def __getattr__(name: str) -> object:
    # create_app pulls in Starlette and aiohttp; plugins importing cliproxy for its types
    # should not pay for that.
    if name == "create_app":
        from cliproxy.app import create_app

        return create_app
    if name in ("gateway_of", "reload_app"):
        from cliproxy import app

        return getattr(app, name)
    raise AttributeError(f"module 'cliproxy' has no attribute {name!r}")

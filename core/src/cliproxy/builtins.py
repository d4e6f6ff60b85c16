"""The core's built-in plugin: the wire formats it ships, and ``api-keys`` authentication.

Registered through the same hooks as any third-party plugin.
"""

from __future__ import annotations

from collections.abc import Callable

from cliproxy.auth import check_api_key
from cliproxy.client import ClientIdentity, InboundRequest
from cliproxy.config import Config
from cliproxy.hookspecs import hookimpl
from cliproxy.wire.anthropic import Anthropic
from cliproxy.wire.gemini import Gemini
from cliproxy.wire.openai_chat import OpenAIChat
from cliproxy.wire.openai_completions import OpenAICompletions
from cliproxy.wire.openai_responses import OpenAIResponses


@hookimpl
def register_translators(register: Callable[[object], None]) -> None:
    register(OpenAIChat())
    register(OpenAIResponses())
    register(OpenAICompletions())
    register(Anthropic())
    register(Gemini())


@hookimpl
def authenticate_client(request: InboundRequest, config: Config) -> ClientIdentity | None:
    return check_api_key(request, config.client_keys or config.api_keys)

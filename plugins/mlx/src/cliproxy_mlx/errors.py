"""Local servers' failures, restated so the client knows what to do."""

from __future__ import annotations

import re

from cliproxy import ErrorKind, GatewayError

__all__ = ["explain"]

# What servers say when a model (or the server's launch options) cannot do tool calls:
# Ollama "... does not support tools", vLLM "\"auto\" tool choice requires
# --enable-auto-tool-choice and --tool-call-parser to be set", llama.cpp "tools param
# requires --jinja flag", and the generic "tools are not supported".
_TOOLS_REJECTED = re.compile(
    r"does not support (?:tools|tool use|tool calling|function calling)"
    r"|(?:tools?|tool calling|function calling) (?:is |are )?not (?:supported|enabled)"
    r"|tool.?choice requires|enable-auto-tool-choice|tool-call-parser|--jinja",
    re.IGNORECASE,
)


def explain(error: GatewayError, *, model: str, server: str, has_tools: bool, timeout: float | None) -> GatewayError:
    """``error`` with an actionable message for the usual local-server failures.

    Args:
        model: The model name the client asked for.
        server: The server's name and base URL, for messages.
        has_tools: Whether the request carried tool definitions.
        timeout: The entry's ``timeout`` (None: the gateway's read timeout).
    """
    if has_tools and error.status in (400, 404, 422, 500, 501) and _TOOLS_REJECTED.search(error.message):
        return GatewayError(
            status=400,
            kind=ErrorKind.INVALID_REQUEST,
            message=(
                f"model '{model}' on {server} does not accept tools ({error.message}); "
                "send the request without 'tools', or use a model (or server options) with tool-call support"
            ),
            provider=error.provider,
            param="tools",
            code="tools_not_supported",
        )
    if error.kind is ErrorKind.TIMEOUT:
        waited = f"{timeout:g}s" if timeout is not None else "the gateway's upstream-timeouts.read"
        error.message = (
            f"{error.message}: no bytes from {server} within {waited}; a local model may still be loading "
            "or thinking -- raise 'timeout' in its mlx entry"
        )
    elif error.status == 502 and error.message.startswith("could not reach"):
        error.message = f"{error.message}; is the server running at {server}?"
    return error

"""Talking to an OAuth token endpoint, and turning its refusals into errors that say
what to do (never echoing a secret).

``invalid_grant`` means the sign-in expired or was revoked: log in again.
``invalid_client`` means the client id (or secret) is wrong or no longer accepted.
Other 4xx are refusals too; 429 and 5xx are the service's trouble, worth a retry.
Network failures propagate as :mod:`aiohttp` errors from :meth:`TokenEndpoint.post`
(the token manager treats them as transient); login flows turn them into a clear
message with :meth:`TokenEndpoint.network_errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

import aiohttp
import attrs
import orjson

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["TokenEndpoint", "token_error"]

_MAX_DETAIL = 300
_SECRET_FIELDS = frozenset(
    {
        "code",
        "code_verifier",
        "codeVerifier",
        "refresh_token",
        "refreshToken",
        "client_secret",
        "clientSecret",
        "device_code",
        "deviceCode",
    }
)


def _reason(body: bytes) -> tuple[str | None, str | None]:
    """``(error code, description)`` from the error shapes token endpoints use: OAuth's
    ``{"error", "error_description"}``, Anthropic's ``{"error": {"type", "message"}}``,
    AWS's ``{"error", "message"}`` or ``{"message"}``."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    code: Any = data.get("error")
    detail: Any = data.get("error_description") or data.get("message")
    if isinstance(code, dict):
        code, detail = code.get("type") or code.get("code"), code.get("message") or detail
    if not isinstance(code, str) or not code:
        code = found if isinstance(found := data.get("code"), str) else None
    return code or None, detail if isinstance(detail, str) and detail else None


def _scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text[:_MAX_DETAIL]


def token_error(
    status: int,
    body: bytes,
    *,
    endpoint: str,
    provider: str | None = None,
    login_command: str | None = None,
    client_setting: str | None = None,
    secrets: Iterable[str | None] = (),
) -> GatewayError:
    """The error for a token endpoint's refusal.

    Args:
        status, body: The answer.
        endpoint: How to name the endpoint (``the Claude token endpoint``).
        provider: The provider, for the error.
        login_command: The command that signs in again (``cliproxy login claude``).
        client_setting: Where the client id is configured (``claude-oauth.client-id``).
        secrets: Values to keep out of the message if the server echoes them.
    """
    code, detail = _reason(body)
    if code is None and detail is None:
        what = "an answer that is not JSON" if body else "an empty answer"
    else:
        what = ": ".join(_scrub(part, secrets) for part in (code, detail) if part)
    again = f"log in again with `{login_command}`" if login_command else "sign in again"
    if status == 429 or status >= 500:
        return GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"{endpoint} answered {status} ({what}); the service is having trouble, try again shortly",
            provider=provider,
        )
    if code in ("invalid_client", "unauthorized_client"):
        where = f"check {client_setting} or --client-id" if client_setting else "check the configured client id"
        advice = f"the OAuth client id is wrong or no longer accepted: {where} (leave it unset to use the default)"
    elif code == "invalid_grant":
        advice = f"the sign-in expired or was revoked: {again}"
    else:
        advice = again
    return GatewayError(
        status=401,
        kind=ErrorKind.AUTHENTICATION,
        message=f"{endpoint} answered {status} ({what}); {advice}",
        provider=provider,
        code=code if code in ("invalid_grant", "invalid_client", "unauthorized_client") else None,
    )


@attrs.frozen
class TokenEndpoint:
    """One token endpoint and how to name it in errors.

    Attributes:
        url: Where to POST.
        name: How messages name it (``the Claude token endpoint``).
        provider: The provider, for errors.
        login_command: What signs in again (``cliproxy login claude``).
        client_setting: Where the client id is configured, for ``invalid_client``.
        encoding: ``form`` (RFC 6749) or ``json`` (Anthropic, AWS, Kiro).
        headers: Extra request headers.
    """

    url: str
    name: str
    provider: str | None = None
    login_command: str | None = None
    client_setting: str | None = None
    encoding: Literal["form", "json"] = "form"
    headers: Mapping[str, str] = attrs.field(factory=dict)

    async def post(
        self,
        http: aiohttp.ClientSession,
        payload: Mapping[str, Any],
        *,
        proxy: str | None = None,
        require: str | None = "access_token",
        secrets: Iterable[str | None] = (),
    ) -> dict[str, Any]:
        """POST ``payload``; the JSON answer.

        Raises :class:`~cliproxy.GatewayError` for a refusal, or when the answer lacks
        ``require`` (a string field, ``access_token`` by default); network errors
        propagate (see the module doc).
        """
        headers = {"accept": "application/json", **self.headers}
        if self.encoding == "json":
            headers["content-type"] = "application/json"
            request = http.post(self.url, data=orjson.dumps(dict(payload)), headers=headers, proxy=proxy or None)
        else:
            request = http.post(self.url, data=dict(payload), headers=headers, proxy=proxy or None)
        async with request as response:
            status, body = response.status, await response.read()
        hidden = [*secrets, *(v for k, v in payload.items() if k in _SECRET_FIELDS and isinstance(v, str))]
        if status >= 400:
            raise self.error(status, body, secrets=hidden)
        try:
            data = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message=f"{self.name} answered {status} with {'an answer that is not JSON' if body else 'nothing'}; "
                "try again shortly",
                provider=self.provider,
            )
        if require is not None and not (isinstance(data.get(require), str) and data[require]):
            code, _ = _reason(body)
            if code is not None:  # 200 with an error body (GitHub does this)
                raise self.error(400, body, secrets=hidden)
            raise GatewayError(
                status=502,
                kind=ErrorKind.UPSTREAM,
                message=f"{self.name} answered {status} without {require}",
                provider=self.provider,
            )
        return data

    def error(self, status: int, body: bytes, *, secrets: Iterable[str | None] = ()) -> GatewayError:
        """The error for a refusal from this endpoint (see :func:`token_error`)."""
        return token_error(
            status,
            body,
            endpoint=self.name,
            provider=self.provider,
            login_command=self.login_command,
            client_setting=self.client_setting,
            secrets=secrets,
        )

    def unreachable(self, exc: BaseException) -> GatewayError:
        """The error for a network failure talking to this endpoint."""
        return GatewayError(
            status=502,
            kind=ErrorKind.UPSTREAM,
            message=f"could not reach {self.name} ({type(exc).__name__}); check the network or proxy-url",
            provider=self.provider,
        )

    @contextlib.contextmanager
    def network_errors(self) -> Iterator[None]:
        """Turn network failures inside the block into :meth:`unreachable` errors."""
        try:
            yield
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self.unreachable(exc) from None

"""Keeping web pages away from the gateway's operator endpoints (``/v0``, ``/metrics``).

Those endpoints trust requests from this machine, and a browser on this machine sends
what any page it shows asks for. Two ways a page could use that, and what stops them:

- **DNS rebinding**: a page on ``evil.example`` re-points that name at 127.0.0.1 and reads
  the answers as its own. The request then carries ``Host: evil.example``; only loopback
  names, IP addresses (which no page can re-point), the configured ``host`` and
  ``allowed-hosts`` are accepted (:func:`check_host`).
- **Cross-site requests**: a page posts to ``http://127.0.0.1:8317/v0/...`` without
  reading the answer. A browser names the page in ``Origin`` (and ``Referer``,
  ``Sec-Fetch-Site``); a request from another origin is refused, and one that changes
  state must be ``Content-Type: application/json``, which no page can send to another
  origin without a CORS preflight the gateway never grants (:func:`check_origin`). A
  POST without a body may omit the type only when it names no page at all (``curl -X
  POST``): browsers always send ``Origin`` with a POST.

:func:`check_site` runs both; :func:`check_json_body` finishes the content-type rule once
the body is read. Errors are :class:`GatewayError` (403 or 415) with a message that says
what to change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cliproxy.errors import ErrorKind, GatewayError

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = [
    "LOOPBACK_NAMES",
    "check_host",
    "check_json_body",
    "check_origin",
    "check_site",
    "trusted_hosts",
]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names that always reach this machine (``[::1]`` is written with brackets in a
``Host`` header; names here are bare)."""

_ANY_HOST = frozenset({"", "0.0.0.0", "::", "[::]"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SAFE_FETCH_SITES = frozenset({"same-origin", "none"})


def trusted_hosts(config: Config) -> frozenset[str]:
    """The host names ``config``'s gateway answers to on its operator endpoints:
    loopback names, the configured ``host`` (unless a wildcard) and ``allowed-hosts``.
    IP addresses are accepted besides (see :func:`check_host`)."""
    return _trusted(config.host, config.allowed_hosts)


@lru_cache(maxsize=8)
def _trusted(host: str, allowed: tuple[str, ...]) -> frozenset[str]:
    names = set(LOOPBACK_NAMES) | set(allowed)
    if host not in _ANY_HOST:
        names.add(host.strip("[]").lower())
    return frozenset(names)


def _split_authority(authority: str) -> tuple[str, int | None] | None:
    """``Example.com:8317`` -> ``("example.com", 8317)``, ``[::1]`` -> ``("::1", None)``;
    None when it is not a host[:port]."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        host, rest = authority[1:end], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        return None
    if port_text:
        if not port_text.isdigit():
            return None
        return host.rstrip("."), int(port_text)
    return host.rstrip("."), None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_host(headers: Mapping[str, str], trusted: Collection[str]) -> None:
    """Refuse (403) a ``Host`` that is neither a trusted name nor an IP address.

    A request without ``Host`` (HTTP/1.0) passes: a browser always sends one.
    """
    raw = headers.get("host")
    if raw is None:
        return
    parsed = _split_authority(raw)
    if parsed is not None and (parsed[0] in trusted or _is_ip(parsed[0])):
        return
    shown = raw[:100]
    raise GatewayError(
        status=403,
        kind=ErrorKind.PERMISSION,
        code="host_not_allowed",
        message=f"the gateway does not answer operator requests for host '{shown}': it answers to localhost, "
        "IP addresses and the names in 'allowed-hosts' (so that a web page cannot reach it through DNS rebinding); "
        "if you reach the gateway by this name, add it to 'allowed-hosts' in config.yaml",
    )


def _same_origin(url: str, host: str | None) -> bool:
    """Whether ``url`` (an ``Origin`` or ``Referer``) is the origin the request was
    sent to (``host``, the ``Host`` header; a missing default port follows the URL's
    scheme)."""
    if host is None:
        return False
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    default = _DEFAULT_PORTS[parts.scheme]
    target = _split_authority(host)
    if target is None:
        return False
    return (parts.hostname.rstrip("."), port or default) == (target[0], target[1] or default)


def _refused(what: str) -> GatewayError:
    return GatewayError(
        status=403,
        kind=ErrorKind.PERMISSION,
        code="cross_site_request",
        message=f"cross-site request refused: {what}; the operator endpoints answer only requests from "
        "their own origin or from programs that name no web page (curl, cliproxy status)",
    )


def check_origin(headers: Mapping[str, str], *, changes_state: bool) -> None:
    """Refuse (403) a request a web page of another origin sent, and (415) a
    state-changing one that is not declared JSON (see the module docstring)."""
    host = headers.get("host")
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, host):
        raise _refused(f"the request comes from a page of {origin[:100]!r}, not of this gateway")
    if not changes_state:
        return
    referer = headers.get("referer")
    if origin is None and referer is not None and not _same_origin(referer, host):
        raise _refused("the request comes from a page of another site (Referer)")
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _SAFE_FETCH_SITES:
        raise _refused(f"the browser marks it as {site.strip()[:20]}")
    content_type = headers.get("content-type")
    if content_type is None:
        if origin is not None or referer is not None:
            raise _not_json(None)
        return  # a program's POST without a body (check_json_body sees to the body)
    if not _is_json(content_type):
        raise _not_json(content_type)


def check_json_body(headers: Mapping[str, str], body: bytes) -> None:
    """Refuse (415) a state-changing request that carries a body not declared JSON."""
    if body.strip() and not _is_json(headers.get("content-type")):
        raise _not_json(headers.get("content-type"))


def check_site(headers: Mapping[str, str], trusted: Collection[str], *, changes_state: bool) -> None:
    """:func:`check_host`, then :func:`check_origin`."""
    check_host(headers, trusted)
    check_origin(headers, changes_state=changes_state)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() == "application/json"


def _not_json(content_type: str | None) -> GatewayError:
    sent = "no Content-Type" if content_type is None else f"Content-Type '{content_type[:60]}'"
    return GatewayError(
        status=415,
        kind=ErrorKind.INVALID_REQUEST,
        code="unsupported_media_type",
        message=f"this endpoint changes the gateway's state and takes JSON only, but the request has {sent}: "
        "send 'Content-Type: application/json' (curl: -H 'Content-Type: application/json')",
    )

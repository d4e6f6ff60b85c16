"""Who may use ``/v0/management``: the guard every management route runs first.

In order, each refusal with a message that says what to change:

1. the ``Host``/``Origin``/JSON rules of :mod:`cliproxy.site_guard` (403, 415): no web
   page reaches the API through DNS rebinding or a cross-site request;
2. no ``remote-management.secret-key`` configured: the API is off -- 404 with how to turn
   it on, never open;
3. a caller not on this machine (or one a proxy forwarded) without
   ``remote-management.allow-remote: true``: 403;
4. an address locked out after repeated wrong keys: 429 with ``Retry-After``;
5. the key -- ``Authorization: Bearer <key>`` or ``X-Management-Key: <key>`` -- missing
   or wrong: 401 (:class:`cliproxy.key_guard.KeyGuard`; five wrong keys in 15 minutes
   lock the address out for 30).

Unlike ``/v0/status``, the key is needed from this machine too: the API changes the
config and holds sign-ins.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Scope

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management import caller_address, is_local_caller, presented_management_key
from cliproxy.site_guard import check_site, trusted_hosts

__all__ = ["check_access", "check_reachable"]

_API_OFF = (
    "the management API is off: it needs a key. Set 'remote-management: {secret-key: <key>}' in "
    "config.yaml -- the key itself, or the hash 'cliproxy hash-key' prints -- and send the key as "
    "'Authorization: Bearer <key>' (the cliproxy CLI reads $CLIPROXY_MANAGEMENT_KEY)"
)


async def check_access(gateway: Gateway, scope: Scope, headers: Mapping[str, str], *, changes_state: bool) -> None:
    """Raise a :class:`GatewayError` unless this request may use the management API."""
    secret_key = check_reachable(gateway, scope, headers, changes_state=changes_state)
    await gateway.key_guard.check(caller_address(scope), presented_management_key(headers), secret_key)


def check_reachable(
    gateway: Gateway,
    scope: Scope,
    headers: Mapping[str, str],
    *,
    changes_state: bool,
    what: str = "the management API",
    off: str = _API_OFF,
) -> str:
    """The rules before the key: a trusted site, the API switched on (``off`` says how),
    and this machine only unless ``allow-remote``. ``what`` names what is refused.
    Returns the management key (plain or hashed) the caller must then present."""
    config = gateway.config
    check_site(headers, trusted_hosts(config), changes_state=changes_state)
    remote = config.remote_management
    if not remote.secret_key:
        raise GatewayError(status=404, kind=ErrorKind.NOT_FOUND, code="management_disabled", message=off)
    if not remote.allow_remote and not is_local_caller(scope, headers):
        raise GatewayError(
            status=403,
            kind=ErrorKind.PERMISSION,
            code="remote_management_disabled",
            message=f"{what} answers requests from this machine only; set "
            "'remote-management.allow-remote: true' in config.yaml to use it from other hosts "
            "(requests through a proxy count as remote)",
        )
    return remote.secret_key

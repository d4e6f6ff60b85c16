"""The plugin contract: every hook a cliproxy plugin can implement.

Plugins are modules (or objects) with functions named after these hooks and decorated with
:data:`cliproxy.hookimpl`; they are found through the ``cliproxy`` entry-point group::

    [project.entry-points.cliproxy]
    claude = "cliproxy_claude"

Most hooks run once at start-up and take a ``register`` callback: the plugin registers
objects, and those objects do the per-request work in async methods ("hooks register,
objects execute"). Two hooks run per request (``authenticate_client`` and
``prepare_upstream_request``); the gateway calls every implementation and awaits whatever
it returns, so implementations may be plain or ``async`` functions.

An implementation may accept fewer arguments than the spec lists; arguments added in later
versions therefore never break existing plugins. A plugin whose hook raises is logged with
its name and skipped (fatal with ``--strict-plugins``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from cliproxy.auth_types import AuthType
    from cliproxy.client import ClientIdentity, InboundRequest
    from cliproxy.commands import Command, LoginFlow
    from cliproxy.config import Config
    from cliproxy.init_choice import InitChoice
    from cliproxy.providers import Call, Provider
    from cliproxy.translate import ClientTranslator, UpstreamTranslator

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "cliproxy"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- Translators -------------------------------------------------------------------------


@hookspec
def register_translators(register: Callable[[ClientTranslator | UpstreamTranslator], None]) -> None:
    """Register wire-format translators (IR <-> wire, requests, responses, streams, errors).

    :param register: Call with each translator object. A subclass of
        :class:`~cliproxy.ClientTranslator` can serve a door; one of
        :class:`~cliproxy.UpstreamTranslator` can serve providers; the built-in formats
        subclass both. (An object with a role's methods but not its base class is adapted,
        its optional members defaulted.) Names must be unique; a second registration of a
        name is an error reported with both plugins' names.

    Runs once at start-up. All implementations are called.

    .. versionadded:: 0.1
    """


# -- Providers ---------------------------------------------------------------------------


@hookspec
def register_providers(register: Callable[[Provider], None]) -> None:
    """Register providers: the config blocks each owns, its credentials and its executor.

    :param register: Call with each :class:`~cliproxy.Provider` instance. A provider's
        ``config_keys`` must not clash with another provider's or with core keys.

    Runs once at start-up. All implementations are called.

    .. versionadded:: 0.1
    """


# -- Authentication ----------------------------------------------------------------------


@hookspec
def register_auth_types(register: Callable[[AuthType], None]) -> None:
    """Register the kinds of OAuth token file found in ``auth-dir``.

    :param register: Call with each :class:`~cliproxy.AuthType`; its ``type`` matches the
        ``"type"`` field of the token files it loads, refreshes and writes back.

    Runs once at start-up. All implementations are called.

    .. versionadded:: 0.1
    """


@hookspec
def authenticate_client(
    request: InboundRequest, config: Config
) -> ClientIdentity | Awaitable[ClientIdentity | None] | None:
    """Decide who is calling (inbound client authentication).

    :param request: Method, path, lower-case headers, query and client address.
    :param config: The gateway's configuration (``api-keys`` and the rest).
    :returns: A :class:`~cliproxy.ClientIdentity` to accept the caller; None for no
        opinion. Raise :class:`~cliproxy.GatewayError` (401/403) to reject outright.

    Runs for every API request. All implementations are called and awaited if they return
    awaitables; the caller is accepted if any returns an identity, rejected if any raises,
    and refused with 401 otherwise. The core implementation checks ``api-keys``
    (``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``, ``?key=``) and accepts
    everyone when the list is empty.

    .. versionadded:: 0.1
    """


@hookspec
def prepare_upstream_request(call: Call, url: str, headers: dict[str, str]) -> Awaitable[None] | None:
    """Adjust an outgoing upstream request just before it is sent (sign it, tag it).

    :param call: The call being made (credential, model, client request).
    :param url: The upstream URL.
    :param headers: The request headers; modify in place.

    Runs for every upstream request made with :meth:`cliproxy.Call.post`. All
    implementations are called and awaited if they return awaitables. Not called when no
    plugin implements it.

    .. versionadded:: 0.1
    """


# -- Command line ------------------------------------------------------------------------


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Add ``cliproxy`` subcommands.

    :param register: Call with each :class:`~cliproxy.Command`; names must not clash with
        built-in commands (``serve``, ``check``, ``models``, ``plugins``, ``login``,
        ``status``).

    Runs once when the command line starts. All implementations are called.

    .. versionadded:: 0.1
    """


@hookspec
def register_init_choices(register: Callable[[InitChoice], None]) -> None:
    """Offer ``cliproxy init`` ways to set up this plugin's provider.

    :param register: Call with each :class:`~cliproxy.InitChoice`: its menu line, the
        config block it writes, the API key variable it asks for or the ``cliproxy
        login`` flow it runs, and the models to suggest to clients.

    Runs once when the command line starts. All implementations are called; a choice
    whose ``id`` is already taken is skipped with an error in the log.

    .. versionadded:: 0.2
    """


@hookspec
def register_login_flows(register: Callable[[LoginFlow], None]) -> None:
    """Add ``cliproxy login <provider>`` flows that obtain OAuth tokens.

    :param register: Call with each :class:`~cliproxy.LoginFlow`.

    Runs once when the command line starts. All implementations are called.

    .. versionadded:: 0.1
    """

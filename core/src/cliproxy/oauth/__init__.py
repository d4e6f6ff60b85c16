"""``cliproxy.oauth``: what every login flow is built from.

* :class:`Pkce`, :func:`new_state` -- the authorization request's secrets;
* :class:`CallbackServer` -- a loopback server that catches the redirect;
* :func:`authorize_in_browser` -- show the sign-in URL, take the code from the callback
  or from a pasted address, whichever comes first;
* :func:`parse_redirect`, :func:`check_state` -- read what came back;
* :func:`poll_device_token` and its classifiers -- the device-code flow;
* :class:`TokenEndpoint`, :func:`token_error` -- exchanges and refreshes, with refusals
  turned into actionable errors;
* :func:`save_token_file`, :func:`token_file_name` -- token files in ``auth-dir``;
* :class:`VendorFile` -- import a vendor CLI's stored sign-in (``--import``);
* :class:`RemoteLoginContext` -- run any flow without a terminal;
* :func:`parse_expiry`, :func:`login_session` -- small shared pieces.

The user is reached only through :class:`cliproxy.LoginContext`, so every flow runs in a
terminal and remotely alike. Tokens are refreshed by the core's token manager through the
flow's :class:`~cliproxy.AuthType` (ahead of expiry and after a 401, one refresh at a time
per credential, even across instances).
"""

from cliproxy.auth_types import AuthType
from cliproxy.commands import LoginContext, PasteUnavailable
from cliproxy.oauth.browser import DEFAULT_TIMEOUT, AuthorizationCode, authorize_in_browser
from cliproxy.oauth.callback import CallbackServer, PortsTaken
from cliproxy.oauth.device import (
    SLOW_DOWN_STEP,
    Classifier,
    PollOutcome,
    PollState,
    by_body_status,
    by_status,
    poll_device_token,
    rfc8628,
)
from cliproxy.oauth.http import login_session
from cliproxy.oauth.pkce import Pkce, new_state
from cliproxy.oauth.redirect import Authorization, authorization_from_query, check_state, parse_redirect
from cliproxy.oauth.remote import Challenge, RemoteLoginContext
from cliproxy.oauth.store import save_token_file, token_file_name
from cliproxy.oauth.times import format_expiry, parse_expiry
from cliproxy.oauth.token_endpoint import TokenEndpoint, token_error
from cliproxy.oauth.vendor import VendorFile, VendorPath, add_import_argument
from cliproxy.tokens import SIGN_IN_AGAIN, TokenSet

__all__ = [
    "DEFAULT_TIMEOUT",
    "SIGN_IN_AGAIN",
    "SLOW_DOWN_STEP",
    "AuthType",
    "Authorization",
    "AuthorizationCode",
    "CallbackServer",
    "Challenge",
    "Classifier",
    "LoginContext",
    "PasteUnavailable",
    "Pkce",
    "PollOutcome",
    "PollState",
    "PortsTaken",
    "RemoteLoginContext",
    "TokenEndpoint",
    "TokenSet",
    "VendorFile",
    "VendorPath",
    "add_import_argument",
    "authorization_from_query",
    "authorize_in_browser",
    "by_body_status",
    "by_status",
    "check_state",
    "format_expiry",
    "login_session",
    "new_state",
    "parse_expiry",
    "parse_redirect",
    "poll_device_token",
    "rfc8628",
    "save_token_file",
    "token_error",
    "token_file_name",
]

"""Reading the answer of an authorization server: the redirect's query, or what the user
pasted (the whole address, ``?code=...&state=...``, ``code#state``, or the bare code)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import attrs

from cliproxy.errors import ErrorKind, GatewayError

__all__ = ["Authorization", "authorization_from_query", "check_state", "parse_redirect"]


@attrs.frozen
class Authorization:
    """An authorization code and the ``state`` that came with it (None when the user
    pasted a bare code)."""

    code: str = attrs.field(repr=False)
    state: str | None = None


def _invalid(message: str) -> GatewayError:
    return GatewayError(status=400, kind=ErrorKind.INVALID_REQUEST, message=message)


def _refused(error: str, description: str | None) -> GatewayError:
    detail = f"{error} ({description})" if description else error
    return GatewayError(
        status=401,
        kind=ErrorKind.AUTHENTICATION,
        message=f"the sign-in was refused: {detail}; start the login again",
        code="access_denied" if error == "access_denied" else None,
    )


def authorization_from_query(query: Mapping[str, str], code_param: str = "code") -> Authorization:
    """The code and state of a redirect's query; raises if it reports an error or
    carries no code. ``code_param`` names the parameter the code comes in (``token`` for a
    sign-in page that hands over the token itself, as Roo Code's does)."""
    if query.get("error"):
        raise _refused(query["error"], query.get("error_description"))
    code = query.get(code_param)
    if not code:
        raise _invalid(f"the address has no '{code_param}' parameter; copy the whole address the browser ended on")
    code, _, inline_state = code.partition("#")  # some pages show code#state inside the URL too
    return Authorization(code, query.get("state") or inline_state or None)


def parse_redirect(text: str, code_param: str = "code") -> Authorization:
    """What the user pasted, read (``code_param``: see :func:`authorization_from_query`)."""
    text = text.strip()
    if not text:
        raise _invalid("nothing was pasted; paste the whole address your browser was sent to after signing in")
    if "://" in text or text.startswith("?") or f"{code_param}=" in text or "error=" in text:
        raw = urlsplit(text).query if "://" in text else text.lstrip("?")
        query = {key: values[0] for key, values in parse_qs(raw).items() if values}
        answer = authorization_from_query(query, code_param)
        # A redirect always carries the state it was sent with; one that lost it is not ours.
        return answer if answer.state is not None else Authorization(answer.code, "")
    code, _, state = text.partition("#")
    return Authorization(code, state or None)


def check_state(answer: Authorization, expected: str) -> None:
    """Refuse an answer whose ``state`` is not this attempt's (a bare pasted code has
    none to compare)."""
    if answer.state is not None and answer.state != expected:
        raise _invalid(
            "the sign-in answer belongs to another login attempt: its state does not match this login "
            "(state mismatch); start the login again"
        )

"""A :class:`~cliproxy.LoginContext` for running a login flow with no terminal: what the
user must see is recorded as :class:`Challenge` objects, and the pasted redirect is
supplied later -- by the management API, or by a test.

::

    ctx = RemoteLoginContext(config=config, auth_dir=auth_dir)
    task = asyncio.create_task(flow.run(args, ctx))
    challenge = await ctx.next_challenge()      # the URL (or device code) to hand over
    ...                                         # the operator signs in somewhere
    ctx.supply_redirect(pasted_address)         # only for flows that ask for it
    token_file = await task
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Literal

import attrs

from cliproxy.commands import LoginContext

__all__ = ["Challenge", "RemoteLoginContext"]

MAX_MESSAGES = 100
MAX_CHALLENGES = 20
MAX_PENDING_REDIRECTS = 4


@attrs.frozen
class Challenge:
    """Something the user must do to sign in.

    Attributes:
        kind: ``url`` (open ``url`` and sign in) or ``device_code`` (open ``url`` and
            enter ``user_code``).
        url: The sign-in page, or the device verification page.
        hint: What to do there, in words.
        user_code: The code to enter (device flow).
        expires_in: Seconds the code stays valid (device flow), if known.
        url_complete: The verification page with the code filled in, if given.
    """

    kind: Literal["url", "device_code"]
    url: str
    hint: str = ""
    user_code: str | None = None
    expires_in: float | None = None
    url_complete: str | None = None


class _Inbox:
    """The mutable half of a remote context (the context itself is frozen)."""

    def __init__(self) -> None:
        self.messages: collections.deque[str] = collections.deque(maxlen=MAX_MESSAGES)
        self.challenges: collections.deque[Challenge] = collections.deque(maxlen=MAX_CHALLENGES)
        self.recorded = 0  # challenges ever recorded (the deque keeps the last few)
        self.handed_out = 0  # challenges next_challenge returned
        self.redirects: collections.deque[str] = collections.deque(maxlen=MAX_PENDING_REDIRECTS)
        self.asking: str | None = None
        self._waiters: list[asyncio.Future[None]] = []

    def poke(self) -> None:
        """Wake everyone waiting for a change."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def change(self) -> None:
        """Wait for the next :meth:`poke`."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter


@attrs.frozen
class RemoteLoginContext(LoginContext):
    """Runs a login flow without a terminal (see the module doc). Never opens a browser."""

    no_browser: bool = True
    _inbox: _Inbox = attrs.field(factory=_Inbox, init=False, repr=False, eq=False)
    echo: Callable[[str], None] = attrs.field(
        default=attrs.Factory(lambda self: self._inbox.messages.append, takes_self=True), repr=False, eq=False
    )

    @property
    def messages(self) -> tuple[str, ...]:
        """The lines the flow printed (the last :data:`MAX_MESSAGES`)."""
        return tuple(self._inbox.messages)

    @property
    def challenges(self) -> tuple[Challenge, ...]:
        """What the flow asked the user to do, oldest first."""
        return tuple(self._inbox.challenges)

    @property
    def awaiting_redirect(self) -> str | None:
        """The question, while the flow waits for :meth:`supply_redirect`; else None."""
        return self._inbox.asking

    async def next_challenge(self, timeout: float | None = None) -> Challenge:
        """The next challenge the flow shows (one already shown and not yet returned by
        this method counts); :class:`TimeoutError` after ``timeout`` seconds."""
        inbox = self._inbox

        async def arrival() -> Challenge:
            while inbox.handed_out >= inbox.recorded:
                await inbox.change()
            dropped = inbox.recorded - len(inbox.challenges)  # fell off the bounded history
            inbox.handed_out = max(inbox.handed_out, dropped) + 1
            return inbox.challenges[inbox.handed_out - 1 - dropped]

        return await asyncio.wait_for(arrival(), timeout)

    def supply_redirect(self, text: str) -> None:
        """Answer :meth:`ask_redirect`: the address the browser ended on, or the code.
        Kept until the flow asks, if it has not yet."""
        self._inbox.redirects.append(text)
        self._inbox.poke()

    async def show_url(self, url: str, hint: str) -> None:
        self._record(Challenge("url", url, hint))

    async def show_device_code(
        self,
        user_code: str,
        verification_uri: str,
        expires_in: float | None = None,
        *,
        verification_uri_complete: str | None = None,
    ) -> None:
        hint = f"Open {verification_uri} and enter the code {user_code}"
        self._record(Challenge("device_code", verification_uri, hint, user_code, expires_in, verification_uri_complete))

    async def ask_redirect(self, prompt: str) -> str:
        inbox = self._inbox
        inbox.asking = prompt
        try:
            while not inbox.redirects:
                await inbox.change()
            return inbox.redirects.popleft()
        finally:
            inbox.asking = None

    def _record(self, challenge: Challenge) -> None:
        inbox = self._inbox
        inbox.challenges.append(challenge)
        inbox.recorded += 1
        inbox.messages.append(f"{challenge.hint}: {challenge.url}" if challenge.hint else challenge.url)
        inbox.poke()

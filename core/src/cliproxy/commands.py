"""Objects plugins register to extend the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import webbrowser
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["Command", "LoginContext", "LoginFlow", "PasteUnavailable"]


@attrs.frozen
class Command:
    """A ``cliproxy <name>`` subcommand.

    Attributes:
        name: The subcommand word.
        help: One line for ``cliproxy --help``.
        run: Called with the parsed arguments; returns the exit status (may be async).
        add_arguments: Adds the subcommand's options to its parser.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace], int | Awaitable[int]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


class PasteUnavailable(Exception):
    """:meth:`LoginContext.ask_redirect` has no way to read an answer (no terminal, stdin
    closed): the flow can still finish through its loopback callback."""


def _print(text: str) -> None:
    print(text)


def _input(question: str) -> str:
    return input(question)


@attrs.frozen
class LoginContext:
    """What a login flow gets: where to write tokens and how to reach the user.

    Flows talk to the user only through the async methods (:meth:`show_url`,
    :meth:`show_device_code`, :meth:`ask_redirect`) and :attr:`echo`, so the same flow
    runs in a terminal (this class: prints, opens a browser unless ``no_browser``, reads
    a line from ``prompt`` in a thread) and remotely
    (:class:`cliproxy.oauth.RemoteLoginContext`, which records what to show and waits
    for an answer supplied later, e.g. through the management API).

    Attributes:
        config: The loaded config (for ``proxy-url`` and provider settings).
        auth_dir: The expanded ``auth-dir``; token files go here (mode 0600, dir 0700).
        no_browser: Print URLs instead of opening a browser (remote/headless machines).
        echo: Prints a line for the user.
        prompt: Asks the user for a line of input (the pasted redirect URL); blocking,
            so it runs in a thread of its own.
        open_browser: Opens a URL in a browser (default: :func:`webbrowser.open`).
    """

    config: Config
    auth_dir: str
    no_browser: bool = False
    echo: Callable[[str], None] = _print
    prompt: Callable[[str], str] = _input
    open_browser: Callable[[str], object] | None = None

    async def show_url(self, url: str, hint: str) -> None:
        """Send the user to ``url`` (``hint`` says what to do there): print it, and open
        a browser unless ``no_browser``."""
        self.echo(f"{hint}:\n\n  {url}\n")
        if self.no_browser:
            return
        opener = self.open_browser or webbrowser.open
        try:
            await asyncio.to_thread(opener, url)
        except Exception as exc:  # a missing browser is not a failed login: the URL is printed
            self.echo(f"(could not open a browser: {exc}; open the address above yourself)")

    async def show_device_code(
        self,
        user_code: str,
        verification_uri: str,
        expires_in: float | None = None,
        *,
        verification_uri_complete: str | None = None,
    ) -> None:
        """Ask the user to confirm ``user_code`` at ``verification_uri`` (device flow)."""
        within = f" within {int(expires_in // 60) or 1} min" if expires_in else ""
        self.echo(f"Open {verification_uri} and enter the code {user_code}{within}.")
        page = verification_uri_complete or verification_uri
        if self.no_browser or not page:
            return
        opener = self.open_browser or webbrowser.open
        try:
            await asyncio.to_thread(opener, page)
        except Exception as exc:
            self.echo(f"(could not open a browser: {exc})")

    async def ask_redirect(self, prompt: str) -> str:
        """The address the browser was sent to after signing in (or the code the page
        shows), as the user pastes it.

        Raises :class:`PasteUnavailable` when nothing can be read (no terminal). The
        line is read in a daemon thread: a flow that finishes another way (its loopback
        callback) does not wait for the user to press Enter.
        """
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[str] = loop.create_future()

        def settle(value: str | None, error: BaseException | None) -> None:
            if answer.done():
                return
            if error is not None:
                answer.set_exception(PasteUnavailable(f"{type(error).__name__}: {error}"))
            else:
                answer.set_result(value or "")

        def read() -> None:
            try:
                value, error = self.prompt(prompt), None
            except BaseException as exc:  # EOF, closed or captured stdin, a broken prompt
                value, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(settle, value, error)

        threading.Thread(target=read, name="cliproxy-login-prompt", daemon=True).start()
        return await answer


@attrs.frozen
class LoginFlow:
    """``cliproxy login <provider>``: obtain credentials and write a token file.

    ``run`` returns the path of the token file it wrote.
    """

    provider: str
    help: str
    run: Callable[[argparse.Namespace, LoginContext], Awaitable[str]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None

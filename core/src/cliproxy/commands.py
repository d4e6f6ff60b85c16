"""Objects plugins register to extend the command line."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["Command", "LoginContext", "LoginFlow"]


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


@attrs.frozen
class LoginContext:
    """What a login flow gets: where to write tokens and how to talk to the user.

    Attributes:
        config: The loaded config (for ``proxy-url`` and provider settings).
        auth_dir: The expanded ``auth-dir``; token files go here (mode 0600, dir 0700).
        no_browser: Print URLs instead of opening a browser (remote/headless machines).
        echo: Prints a line for the user.
        prompt: Asks the user for a line of input (the pasted redirect URL).
    """

    config: Config
    auth_dir: str
    no_browser: bool
    echo: Callable[[str], None]
    prompt: Callable[[str], str]


@attrs.frozen
class LoginFlow:
    """``cliproxy login <provider>``: obtain credentials and write a token file.

    ``run`` returns the path of the token file it wrote.
    """

    provider: str
    help: str
    run: Callable[[argparse.Namespace, LoginContext], Awaitable[str]]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None

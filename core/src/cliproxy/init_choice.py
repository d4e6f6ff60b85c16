"""What a plugin offers ``cliproxy init``: one way to reach its provider.

A plugin registers :class:`InitChoice` s through the ``register_init_choices`` hook;
``cliproxy init`` lists the choices of the plugins installed, writes each chosen one's
config block, asks for its API key or runs its sign-in, and prints client settings with
its models. The core names no provider: what a block holds and which models to suggest
is each plugin's own knowledge.
"""

from __future__ import annotations

import attrs

__all__ = ["InitChoice"]


@attrs.frozen
class InitChoice:
    """One way to reach a provider that ``cliproxy init`` can set up.

    Attributes:
        id: What ``cliproxy init --provider`` takes (``claude-key``); unique across plugins.
        title: One line for the menu.
        block: The commented config lines it adds; ``{env}`` stands for the environment
            variable its API key is read from (write literal braces as ``{{ }}``).
        model: A model it serves, put in the printed client settings.
        small_model: A small, fast model it serves (Claude Code's haiku slot); default
            ``model``.
        env: The environment variable its API key usually lives in (none: no key asked).
        login: The ``cliproxy login`` provider to run (none: no sign-in).
    """

    id: str
    title: str
    block: str
    model: str
    small_model: str = ""
    env: str = ""
    login: str = ""

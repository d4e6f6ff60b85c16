"""Changing the config file through the API: checked first, written whole, applied live.

Every write -- a whole new file or one targeted edit -- goes through
:meth:`ConfigEditor.edit` or :meth:`ConfigEditor.replace`, one at a time:

1. the new text is read by the same loader as start-up (errors name the file, line and
   key) and staged the way a reload stages it: every owning plugin reads its blocks and
   ``auth-dir`` is loaded (:func:`cliproxy.reload.check_reload`); an edit that would leave
   no credential, or empty ``api-keys``, is refused unless ``force``;
2. only then is the file replaced, in one step (:func:`write_atomically`), comments and
   key order kept (:class:`ConfigDocument`);
3. and the new config applied with :func:`cliproxy.reload.reload_gateway`. Should that
   still fail, the old file is put back.

A refused edit leaves the file's bytes and the running config as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cliproxy.config import Config, ConfigError, load_config_text
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.management_api.config_document import ConfigDocument, write_atomically, yaml_value
from cliproxy.management_api.secret_refs import SecretRefs
from cliproxy.reload import ReloadRefused, check_reload, reload_gateway
from cliproxy.snapshot import Snapshot

__all__ = ["ConfigEditor"]

_PLAIN = (2, 2, 0)


class ConfigEditor:
    """Edits of one gateway's config file (see the module doc)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._lock = asyncio.Lock()

    @property
    def refs(self) -> SecretRefs:
        return SecretRefs.for_config(self.gateway.config)

    def path(self) -> Path:
        """The config file; 409 for a gateway built from a mapping."""
        file = self.gateway.config.file
        if file.startswith("<"):
            raise GatewayError(
                status=409,
                kind=ErrorKind.INVALID_REQUEST,
                code="no_config_file",
                message="this gateway was built from a config in code, not from a file, so there is no file to "
                "change; change the config where it is made and call reload_app(app, config)",
            )
        return Path(file).expanduser()

    def read_text(self) -> str:
        """The config file's text (for a gateway built from a mapping: that mapping as YAML,
        for reading only)."""
        config = self.gateway.config
        if config.file.startswith("<"):
            root = config.root
            return ConfigDocument(yaml_value({k: root.raw(k) for k in root.keys()}), config.file, _PLAIN).dump()
        path = self.path()
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GatewayError(
                status=409,
                kind=ErrorKind.INVALID_REQUEST,
                code="config_unreadable",
                message=f"cannot read the config file {path}: {exc.strerror or exc}",
            ) from None

    def document(self, text: str | None = None) -> ConfigDocument:
        """The config file as it is now (or ``text`` read as it), for reading or editing;
        409 when it does not parse (a hand edit gone wrong: replace it whole, or fix it)."""
        try:
            return ConfigDocument.parse(self.read_text() if text is None else text, self.gateway.config.file)
        except ConfigError as error:
            raise GatewayError(
                status=409,
                kind=ErrorKind.INVALID_REQUEST,
                code="config_file_broken",
                message=f"the config file does not read as YAML now ({error}); fix it, or replace it whole "
                "(PUT /v0/management/config.yaml)",
            ) from None

    def secrets(self) -> dict[str, str]:
        """The secrets written in the config file now, by reference."""
        return self.refs.secrets(self.document().data)

    async def edit(self, change: Callable[[ConfigDocument], Any], *, force: bool = False) -> dict[str, Any]:
        """Apply ``change`` to the file's document, then check, write and apply it; what
        ``change`` returns is in the answer's ``"edit"``."""
        async with self._lock:
            before = self.read_text()
            document = self.document(before)
            outcome = change(document)
            answer = await self._commit(before, document.dump(), force)
        if outcome is not None:
            answer["edit"] = outcome
        return answer

    async def replace(self, text: str, *, force: bool = False) -> dict[str, Any]:
        """Make ``text`` the config file (references to secrets put back first)."""
        async with self._lock:
            before = self.read_text()
            return await self._commit(before, self._with_secrets(text), force)

    def check(self, text: str, *, force: bool = False) -> Snapshot:
        """What :meth:`replace` would check, without writing or applying anything: the
        snapshot the text would serve."""
        config = load_config_text(self._with_secrets(text), self.gateway.config.file)
        return check_reload(self.gateway, config, force=force)

    def _with_secrets(self, text: str) -> str:
        if "<secret:" not in text:
            return text
        file = self.gateway.config.file
        document = ConfigDocument.parse(text, file)
        self.refs.restore(document.data, self.secrets(), file)
        return document.dump()

    def _check(self, text: str, force: bool) -> Config:
        config = load_config_text(text, self.gateway.config.file)
        if not force and self.gateway.config.remote_management.secret_key and not config.remote_management.secret_key:
            raise ReloadRefused(
                message="refusing to apply the new config: it has no 'remote-management.secret-key', which turns "
                "this management API off -- every later request, this one's answer aside, would get a 404",
                file=config.file,
            )
        check_reload(self.gateway, config, force=force)
        return config

    async def _commit(self, before: str, after: str, force: bool) -> dict[str, Any]:
        config = self._check(after, force)
        path = self.path()
        written = after != before
        if written:
            write_atomically(path, after)
        try:
            result = await reload_gateway(self.gateway, config, force=force)
        except ConfigError:
            if written:
                write_atomically(path, before)
            raise
        return {"written": written, "file": str(path), "reload": result.as_dict()}

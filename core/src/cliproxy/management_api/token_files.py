"""Token files in ``auth-dir``, uploaded and deleted through the API.

An upload is checked by the plugin that reads its ``type`` -- its
:meth:`~cliproxy.AuthType.load` must make at least one credential of an installed
provider from it -- before it is kept: written with mode 0600 (the directory 0700), then
live at once (``auth-dir`` is read again). A deleted file's credentials stop serving at
once. The running config serves on unchanged: these routes never read the config file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.oauth import token_file_name
from cliproxy.redaction import Redactor, is_secret_name
from cliproxy.reload import reload_gateway
from cliproxy.tokens import TokenManager, write_token_file

__all__ = ["delete_token_file", "token_file_of", "upload_token_file"]

_NAME = re.compile(r"[A-Za-z0-9@._+-]{1,200}\.json")


def _refused(message: str, code: str = "token_file_refused") -> GatewayError:
    return GatewayError(status=422, kind=ErrorKind.UNPROCESSABLE, code=code, message=message)


def _content_secrets(content: Mapping[str, Any]) -> list[str]:
    found = []
    for key, value in content.items():
        if isinstance(value, str) and is_secret_name(str(key)):
            found.append(value)
        elif isinstance(value, Mapping):
            found.extend(_content_secrets(value))
    return found


def token_file_of(gateway: Gateway, cred: Credential) -> Path | None:
    """The token file in ``auth-dir`` a credential was loaded from, if it was."""
    if not cred.source or not cred.source.endswith(".json"):
        return None
    path = Path(cred.source)
    auth_dir = gateway.host.auth_dir
    try:
        if path.resolve().parent != auth_dir.resolve():
            return None
    except OSError:
        return None
    return path


def _served_from(gateway: Gateway, path: Path) -> list[Credential]:
    pool = [*gateway.credentials, *gateway.snapshot.disabled]
    return [c for c in pool if c.source and Path(c.source) == path]


def _shown(gateway: Gateway, creds: list[Credential]) -> list[dict[str, Any]]:
    disabled = {c.id for c in gateway.snapshot.disabled}
    return [{"id": c.id, "label": c.label, "provider": c.provider, "enabled": c.id not in disabled} for c in creds]


async def upload_token_file(
    gateway: Gateway, content: Mapping[str, Any], name: str | None = None, *, replace: bool = False
) -> dict[str, Any]:
    """Check ``content`` with its plugin, write it to ``auth-dir`` as ``name`` and serve it."""
    kind = content.get("type")
    auth_type = gateway.registry.auth_types.get(kind) if isinstance(kind, str) else None
    if auth_type is None:
        known = ", ".join(sorted(gateway.registry.auth_types)) or "none: no plugin reads token files"
        raise _refused(f"a token file needs a 'type' an installed plugin reads, not {kind!r} (known: {known})")
    if name is None:
        email = content.get("email")
        name = token_file_name(kind, email if isinstance(email, str) else None)  # type: ignore[arg-type]
    if not _NAME.fullmatch(name) or name.startswith("."):
        raise GatewayError.invalid(
            f"'{name[:80]}' is not a token file name: letters, digits and @._+- ending in .json, not starting "
            "with a dot",
            param="name",
        )
    auth_dir = gateway.host.auth_dir
    path = auth_dir / name
    existed = path.exists()
    if existed and not replace:
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="token_file_exists",
            message=f'{name} is in auth-dir already; send "replace": true to overwrite it',
        )
    staging = gateway.host.staging(gateway.config, TokenManager(gateway.state, gateway.clock))
    try:
        loaded = list(auth_type.load(path, content, staging))
    except (GatewayError, KeyError, ValueError, TypeError) as exc:
        text = exc.message if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
        text = Redactor.of(_content_secrets(content)).text(text)
        raise _refused(f"the {kind} plugin does not accept this token file: {text}") from None
    if not loaded:
        raise _refused(f"the {kind} plugin found no credential in this token file")
    missing = sorted({c.provider for c, _ in loaded if c.provider not in gateway.providers})
    if missing:
        raise _refused(f"this token file is for provider {missing[0]!r}, which is not installed")
    previous = path.read_bytes() if existed else None
    write_token_file(path, content)
    try:
        await reload_gateway(gateway, gateway.config)
    except Exception:
        if previous is None:
            with contextlib.suppress(OSError):
                path.unlink()
        else:
            path.write_bytes(previous)
        raise
    return {"file": name, "credentials": _shown(gateway, _served_from(gateway, path))}


async def delete_token_file(gateway: Gateway, cred: Credential) -> dict[str, Any]:
    """Delete the token file ``cred`` came from; its credentials stop serving."""
    path = token_file_of(gateway, cred)
    if path is None:
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="not_a_token_file",
            message=f"{cred.label} is defined in the config ({cred.source}), not by a token file in auth-dir: "
            "remove its entry with DELETE /v0/management/providers/<block>/<entry>, or disable it",
        )
    removed = _shown(gateway, _served_from(gateway, path))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    await reload_gateway(gateway, gateway.config)
    return {"file": path.name, "removed": removed}

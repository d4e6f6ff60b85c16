"""Routes: client keys (``api-keys``) -- list, add, remove, rename, edit their policy,
and read one key's usage against its limits.

Keys are never shown: each has a ``name`` (its configured name, else ``key-1``..., its
position, as in ``/v0/status`` and the access log), an ``id`` (a keyed digest of the key,
stable while the key stays) and a ``masked`` form. A route names a key by either.
"Rename" gives a key a new value in its place, so its name, and the usage counted under
it, carry on. A key's policy (``models``, ``rpm``... see :mod:`cliproxy.key_policy`) is
shown as ``policy`` and set by ``POST`` and ``PATCH`` with the same field names (null
removes a field); a plain key becomes a mapping when it gets one. ``GET .../limits``
reads what the key has used of each limit the running gateway enforces for it (see
:mod:`cliproxy.key_usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cliproxy.config import ConfigError, ConfigNode, expand_env
from cliproxy.config.client_keys import KEY_FIELDS
from cliproxy.credentials import mask_secret
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.key_usage import limits_view
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute, Reply
from cliproxy.management_api.config_document import ConfigDocument, plain, same_style
from cliproxy.management_api.secret_refs import REFERENCE, SecretRefs

__all__ = ["MIN_KEY_LENGTH", "routes"]

MIN_KEY_LENGTH = 8
POLICY_FIELDS = tuple(f for f in KEY_FIELDS if f != "key")
"""The fields of a key besides the key itself: its name and policy."""


def _key_list(document: ConfigDocument, *, create: bool = False) -> CommentedSeq | None:
    raw = document.data.get("api-keys")
    if isinstance(raw, str):  # one key written without a list
        raw = CommentedSeq([raw])
        document.data["api-keys"] = raw
    if raw is None:
        if not create:
            return None
        raw = CommentedSeq()
        document.data["api-keys"] = raw
    if not isinstance(raw, list):
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="not_a_list",
            message=f"'api-keys' in {document.file} is not a list; fix it by hand first",
        )
    return raw  # type: ignore[return-value]


def _raw_key(item: Any) -> Any:
    """The key of an ``api-keys`` item as written (a mapping's ``key``)."""
    return item.get("key", "") if isinstance(item, Mapping) else item


def _expanded(raw: list[Any], index: int, file: str) -> str:
    text = str(_raw_key(raw[index]) or "")
    try:
        return expand_env(text, ConfigNode({}, file, "api-keys"), index)
    except ConfigError:
        return text


def _policy(item: Any) -> dict[str, Any]:
    """A mapping item's fields besides ``key`` and ``name``, as JSON data."""
    if not isinstance(item, Mapping):
        return {}
    return {str(k): plain(v) for k, v in item.items() if k not in ("key", "name")}


def _keys(document: ConfigDocument, refs: SecretRefs) -> list[dict[str, Any]]:
    """The keys in file order: their place in the list, name, id, masked form."""
    raw: CommentedSeq | list[Any] = _key_list(document) or []
    found: list[dict[str, Any]] = []
    for index in range(len(raw)):
        key = _expanded(raw, index, document.file)
        if not key:
            continue
        item = raw[index]
        named = item.get("name") if isinstance(item, Mapping) else None
        found.append(
            {
                "index": index,
                "name": str(named) if named else f"key-{len(found) + 1}",
                "id": REFERENCE.fullmatch(refs.reference(key)).group(1),  # type: ignore[union-attr]
                "masked": mask_secret(key),
                "from_env": "${" in str(_raw_key(item)),
                "policy": _policy(item),
                "value": key,
            }
        )
    return found


def _shown(key: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in key.items() if k not in ("value", "index")}


def _find(keys: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    match = REFERENCE.fullmatch(ref)
    wanted = match.group(1) if match else ref
    for key in keys:
        if wanted in (key["name"], key["id"]):
            return key
    known = ", ".join(f"{k['name']} ({k['id']})" for k in keys) or "none configured"
    raise GatewayError(
        status=404, kind=ErrorKind.NOT_FOUND, code="no_such_key", message=f"no client key '{ref}' (known: {known})"
    )


def _checked(key: Any, keys: list[dict[str, Any]], param: str = "key") -> str:
    if not isinstance(key, str) or not key:
        raise GatewayError.invalid(f"'{param}' must be the new key, as text", param=param)
    if len(key) < MIN_KEY_LENGTH or any(c.isspace() or ord(c) < 32 for c in key) or "${" in key:
        raise GatewayError.invalid(
            f"a client key needs at least {MIN_KEY_LENGTH} characters and no spaces (the cliproxy CLI makes one "
            "when you give none: cliproxy keys add)",
            param=param,
        )
    if any(k["value"] == key for k in keys):
        raise GatewayError(
            status=409, kind=ErrorKind.INVALID_REQUEST, code="key_exists", message="that key is configured already"
        )
    return key


def routes(api: ManagementApi) -> list[ManagementRoute]:
    editor = api.editor

    async def list_keys(request: ManagementRequest) -> Any:
        keys = _keys(editor.document(), editor.refs)
        return {"keys": [_shown(k) for k in keys], "open": not keys}

    async def add(request: ManagementRequest) -> Any:
        body = request.only("key", "force", *POLICY_FIELDS)
        new = request.field("key", str, required=True)
        fields = {k: v for k, v in body.items() if k in POLICY_FIELDS and v is not None}

        def change(document: ConfigDocument) -> dict[str, Any]:
            keys = _keys(document, editor.refs)
            _checked(new, keys)
            item: Any = CommentedMap([("key", new), *fields.items()]) if fields else new
            _key_list(document, create=True).append(item)  # type: ignore[union-attr]
            return {"key": _shown(_find(_keys(document, editor.refs), editor.refs.reference(new)))}

        return Reply(await editor.edit(change, force=request.flag("force")), 201)

    async def remove(request: ManagementRequest) -> Any:
        ref = request.param("ref")

        def change(document: ConfigDocument) -> dict[str, Any]:
            key = _find(_keys(document, editor.refs), ref)
            listed = _key_list(document)
            if listed is not None:  # (_find found the key in it)
                del listed[key["index"]]
            return {"removed": _shown(key)}

        return await editor.edit(change, force=request.flag("force"))

    async def rename(request: ManagementRequest) -> Any:
        body = request.only("key", "force", *POLICY_FIELDS)
        ref = request.param("ref")
        new = request.field("key", str)
        fields = {k: v for k, v in body.items() if k in POLICY_FIELDS}
        if new is None and not fields:
            raise GatewayError.invalid(
                "send 'key' (a new value for the key) and/or policy fields: " + ", ".join(POLICY_FIELDS), param="key"
            )

        def change(document: ConfigDocument) -> dict[str, Any]:
            keys = _keys(document, editor.refs)
            old = _find(keys, ref)
            raw = _key_list(document)
            assert raw is not None
            item = raw[old["index"]]
            if new is not None:
                value = same_style(_raw_key(item), _checked(new, keys))
                if isinstance(item, Mapping):
                    item["key"] = value  # type: ignore[index]
                else:
                    item = value
            if fields:
                if not isinstance(item, Mapping):
                    item = CommentedMap([("key", item)])
                for field, value in fields.items():
                    if value is None:
                        item.pop(field, None)
                    else:
                        item[field] = value
            raw[old["index"]] = item
            named = item.get("name") if isinstance(item, Mapping) else None
            edited = _find(_keys(document, editor.refs), str(named) if named else old["name"])
            return {"renamed": _shown(old), "key": _shown(edited)}

        return await editor.edit(change, force=request.flag("force"))

    async def limits(request: ManagementRequest) -> Any:
        key = _find(_keys(editor.document(), editor.refs), request.param("ref"))
        gateway = api.gateway
        live = next((k for k in gateway.config.client_keys if k.name == key["name"]), None)
        policy = None if live is None else live.policy
        view: dict[str, Any] = {}
        if policy is not None and policy.limits_rate:
            view = limits_view(policy, await gateway.state.limit_usage(key["name"]), gateway.state.clock())
        return {"key": _shown(key), "limits": view, "shared": bool(gateway.state.describe().get("shared"))}

    return [
        ManagementRoute("GET", "/keys", list_keys, "client keys: name, id, masked, policy"),
        ManagementRoute(
            "GET", "/keys/{ref}/limits", limits, "a client key's usage against each of its limits, used and remaining"
        ),
        ManagementRoute("POST", "/keys", add, "add a client key"),
        ManagementRoute(
            "PATCH", "/keys/{ref}", rename, "give a client key a new value in its place, or edit its policy"
        ),
        ManagementRoute("DELETE", "/keys/{ref}", remove, "remove a client key"),
    ]

"""Routes: provider blocks (``openai-compatibility``, ``claude-api-key``, ``kiro``...),
their entries, and the keys of an entry.

A block belongs to the plugin that owns it; the core does not know its schema. Entries
are written as given (JSON becomes YAML), checked by the owning plugin exactly as at
start-up, and applied live -- or refused with the plugin's located error, leaving
everything as it was. An entry is named by its position (``0``) or its ``name``; a key of
an entry's ``api-key-entries`` by its position or its id (the digest shown as
``<secret:id>`` in reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cliproxy.config import ConfigError, load_config_text
from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute, Reply
from cliproxy.management_api.config_document import ConfigDocument, plain, yaml_value
from cliproxy.management_api.secret_refs import REFERENCE
from cliproxy.snapshot import Snapshot
from cliproxy.tokens import TokenManager

__all__ = ["routes"]

KEY_LIST = "api-key-entries"


def _not_found(message: str, code: str) -> GatewayError:
    return GatewayError(status=404, kind=ErrorKind.NOT_FOUND, code=code, message=message)


def _conflict(message: str, code: str) -> GatewayError:
    return GatewayError(status=409, kind=ErrorKind.INVALID_REQUEST, code=code, message=message)


def merge_patch(target: CommentedMap, patch: Mapping[str, Any]) -> None:
    """JSON merge patch (RFC 7396) onto a YAML mapping: ``null`` removes a key, objects
    merge into mappings, anything else replaces; untouched keys keep their comments."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), CommentedMap):
            merge_patch(target[key], value)
        else:
            target[key] = yaml_value(value)


def _entry_lines(block: CommentedSeq, total_lines: int) -> list[tuple[int, int]]:
    """1-based line range of each entry of a list block."""
    starts = []
    for index in range(len(block)):
        try:
            starts.append(block.lc.item(index)[0] + 1)
        except (KeyError, IndexError, TypeError, AttributeError):
            starts.append(0)
    ends = [*starts[1:], total_lines + 1]
    return list(zip(starts, ends, strict=True))


def _as_written(api: ManagementApi, text: str) -> tuple[list[Credential], set[str]]:
    """The credentials the config file defines as it reads now (so their lines match the
    file, which the running ones' may not after edits), and the ids of disabled ones."""
    gateway = api.gateway
    try:
        config = load_config_text(text, gateway.config.file)
        host = gateway.host.staging(config, TokenManager(gateway.state, gateway.clock))
        staged = Snapshot.load(config, gateway.registry, host, gateway.state)
    except ConfigError:
        return [], set()
    return [*staged.credentials, *staged.disabled], {c.id for c in staged.disabled}


def _located(cred: Credential, file: str) -> int | None:
    """The config line a credential was defined on (None for token files)."""
    where, _, rest = cred.source.rpartition(":")
    where, _, line = where.rpartition(":")
    if not where or where != file or not line.isdigit() or not rest.isdigit():
        return None
    return int(line)


class _Blocks:
    """What one request needs to find blocks, entries and keys in the document."""

    def __init__(self, api: ManagementApi) -> None:
        self.api = api
        self.owned = api.gateway.registry.owned_keys()

    def owner(self, block: str) -> str:
        provider = self.owned.get(block)
        if provider is None:
            known = ", ".join(sorted(self.owned)) or "none: no provider plugin is installed"
            raise _not_found(f"no installed plugin reads a '{block}' block (known blocks: {known})", "no_such_block")
        return provider.name

    def list_block(self, document: ConfigDocument, block: str, *, create: bool = False) -> CommentedSeq:
        self.owner(block)
        value = document.data.get(block)
        if value is None:
            if not create:
                raise _not_found(f"'{block}' is not configured in {document.file}", "block_not_configured")
            value = CommentedSeq()
            document.data[block] = value
        if not isinstance(value, CommentedSeq):
            raise _conflict(
                f"'{block}' is a mapping, not a list of entries: change it with PATCH /v0/management/providers/{block}",
                "not_a_list",
            )
        return value

    @staticmethod
    def entry_index(block: CommentedSeq, name: str, ref: str) -> int:
        if ref.isdigit() and int(ref) < len(block):
            return int(ref)
        named = [i for i, entry in enumerate(block) if isinstance(entry, Mapping) and str(entry.get("name")) == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise _conflict(f"{len(named)} entries of '{name}' are named '{ref}'; name one by position", "ambiguous")
        raise _not_found(f"'{name}' has no entry '{ref}' (it has {len(block)}, numbered from 0)", "no_such_entry")

    def key_index(self, entry: Any, where: str, ref: str) -> int:
        keys = entry.get(KEY_LIST) if isinstance(entry, Mapping) else None
        if not isinstance(keys, CommentedSeq):
            raise _not_found(f"{where} has no '{KEY_LIST}'", "no_key_list")
        if ref.isdigit() and int(ref) < len(keys):
            return int(ref)
        match = REFERENCE.fullmatch(ref)
        wanted = f"<secret:{match.group(1) if match else ref}>"
        refs = self.api.editor.refs
        for index, item in enumerate(keys):
            key = item.get("api-key") if isinstance(item, Mapping) else None
            if isinstance(key, str) and refs.reference(key) == wanted:
                return index
        raise _not_found(f"{where} has no key '{ref}' (name it by position or id)", "no_such_key")


def routes(api: ManagementApi) -> list[ManagementRoute]:
    editor = api.editor

    def given(request: ManagementRequest, name: str, kind: type = dict) -> Any:
        value = request.field(name, kind, required=True)
        editor.refs.restore(value, editor.secrets(), api.gateway.config.file)
        return value

    async def list_blocks(request: ManagementRequest) -> Any:
        blocks = _Blocks(api)
        text = editor.read_text()
        document = editor.document(text)
        masked = editor.refs.masked(document.data)
        total = len(text.splitlines())
        served, disabled = _as_written(api, text)
        file = api.gateway.config.file
        lines = {c.id: _located(c, file) for c in served}
        out = []
        for block, provider in blocks.owned.items():
            value = document.data.get(block)
            if value is None:
                continue
            item: dict[str, Any] = {"block": block, "provider": provider.name}
            if isinstance(value, CommentedSeq):
                entries = []
                for index, (start, end) in enumerate(_entry_lines(value, total)):
                    creds = [c for c in served if (lines[c.id] or -1) in range(start, end)]
                    entry = masked[block][index]
                    entries.append(
                        {
                            "index": index,
                            "name": entry.get("name") if isinstance(entry, Mapping) else None,
                            "entry": plain(entry),
                            "credentials": [
                                {"id": c.id, "label": c.label, "enabled": c.id not in disabled} for c in creds
                            ],
                        }
                    )
                item.update(kind="list", entries=entries)
            else:
                item.update(kind="mapping", value=plain(masked[block]))
            out.append(item)
        configured = {b["block"] for b in out}
        available = sorted(k for k in blocks.owned if k not in configured)
        return {"blocks": out, "available": available}

    async def add_entry(request: ManagementRequest) -> Any:
        request.only("entry", "force")
        name = request.param("block")
        entry = given(request, "entry")
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name, create=True)
            block.append(yaml_value(entry))
            return {"block": name, "index": len(block) - 1}

        return Reply(await editor.edit(change, force=request.flag("force")), 201)

    async def set_block(request: ManagementRequest) -> Any:
        request.only("block", "force")
        name = request.param("block")
        value = given(request, "block", (dict, list))  # type: ignore[arg-type]
        blocks = _Blocks(api)
        blocks.owner(name)

        def change(document: ConfigDocument) -> dict[str, Any]:
            document.data[name] = yaml_value(value)
            return {"block": name, "set": True}

        return await editor.edit(change, force=request.flag("force"))

    async def patch_block(request: ManagementRequest) -> Any:
        request.only("entry", "force")
        name = request.param("block")
        patch = given(request, "entry")
        blocks = _Blocks(api)
        blocks.owner(name)

        def change(document: ConfigDocument) -> dict[str, Any]:
            value = document.data.get(name)
            if value is None:
                value = document.data[name] = CommentedMap()
            if not isinstance(value, CommentedMap):
                raise _conflict(
                    f"'{name}' is a list of entries: change one with PATCH /v0/management/providers/{name}/<entry>",
                    "not_a_mapping",
                )
            merge_patch(value, patch)
            return {"block": name, "patched": True}

        return await editor.edit(change, force=request.flag("force"))

    async def remove_block(request: ManagementRequest) -> Any:
        name = request.param("block")
        blocks = _Blocks(api)
        blocks.owner(name)

        def change(document: ConfigDocument) -> dict[str, Any]:
            if name not in document.data:
                raise _not_found(f"'{name}' is not configured in {document.file}", "block_not_configured")
            del document.data[name]
            return {"block": name, "removed": True}

        return await editor.edit(change, force=request.flag("force"))

    async def patch_entry(request: ManagementRequest) -> Any:
        request.only("entry", "force")
        name, ref = request.param("block"), request.param("entry")
        patch = given(request, "entry")
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name)
            index = blocks.entry_index(block, name, ref)
            if not isinstance(block[index], CommentedMap):
                raise _conflict(f"{name}[{index}] is not a mapping", "not_a_mapping")
            merge_patch(block[index], patch)
            return {"block": name, "index": index}

        return await editor.edit(change, force=request.flag("force"))

    async def remove_entry(request: ManagementRequest) -> Any:
        name, ref = request.param("block"), request.param("entry")
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name)
            index = blocks.entry_index(block, name, ref)
            del block[index]
            if not block:
                del document.data[name]
            return {"block": name, "removed": index}

        return await editor.edit(change, force=request.flag("force"))

    async def add_key(request: ManagementRequest) -> Any:
        request.only("key", "force")
        name, ref = request.param("block"), request.param("entry")
        key = given(request, "key", (dict, str))  # type: ignore[arg-type]
        item = {"api-key": key} if isinstance(key, str) else key
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name)
            index = blocks.entry_index(block, name, ref)
            entry = block[index]
            if not isinstance(entry, CommentedMap):
                raise _conflict(f"{name}[{index}] is not a mapping", "not_a_mapping")
            keys = entry.get(KEY_LIST)
            if keys is None:
                keys = entry[KEY_LIST] = CommentedSeq()
            if not isinstance(keys, CommentedSeq):
                raise _conflict(f"{name}[{index}].{KEY_LIST} is not a list", "not_a_list")
            keys.append(yaml_value(item))
            return {"block": name, "index": index, "key": len(keys) - 1}

        return Reply(await editor.edit(change, force=request.flag("force")), 201)

    async def patch_key(request: ManagementRequest) -> Any:
        request.only("key", "force")
        name, ref, key_ref = request.param("block"), request.param("entry"), request.param("key")
        patch = given(request, "key")
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name)
            index = blocks.entry_index(block, name, ref)
            position = blocks.key_index(block[index], f"{name}[{index}]", key_ref)
            merge_patch(block[index][KEY_LIST][position], patch)
            return {"block": name, "index": index, "key": position}

        return await editor.edit(change, force=request.flag("force"))

    async def remove_key(request: ManagementRequest) -> Any:
        name, ref, key_ref = request.param("block"), request.param("entry"), request.param("key")
        blocks = _Blocks(api)

        def change(document: ConfigDocument) -> dict[str, Any]:
            block = blocks.list_block(document, name)
            index = blocks.entry_index(block, name, ref)
            position = blocks.key_index(block[index], f"{name}[{index}]", key_ref)
            del block[index][KEY_LIST][position]
            return {"block": name, "index": index, "removed": position}

        return await editor.edit(change, force=request.flag("force"))

    base = "/providers/{block}"
    return [
        ManagementRoute("GET", "/providers", list_blocks, "provider blocks, their entries and credentials"),
        ManagementRoute("POST", base, add_entry, "add an entry to a list block"),
        ManagementRoute("PUT", base, set_block, "set a whole block"),
        ManagementRoute("PATCH", base, patch_block, "change a mapping block (JSON merge patch)"),
        ManagementRoute("DELETE", base, remove_block, "remove a whole block"),
        ManagementRoute("PATCH", base + "/{entry}", patch_entry, "change an entry (JSON merge patch)"),
        ManagementRoute("DELETE", base + "/{entry}", remove_entry, "remove an entry"),
        ManagementRoute("POST", base + "/{entry}/keys", add_key, "add a key to an entry's api-key-entries"),
        ManagementRoute("PATCH", base + "/{entry}/keys/{key}", patch_key, "change a key entry (JSON merge patch)"),
        ManagementRoute("DELETE", base + "/{entry}/keys/{key}", remove_key, "remove a key entry"),
    ]

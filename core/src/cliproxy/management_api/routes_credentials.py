"""Routes: credentials -- list, enable/disable, test, reset, quota, token files.

A credential is named by its id or its (masked) label, URL-encoded. Disabling writes its
id into the config's ``disabled-credentials`` list (with its label as a comment), so it
lasts across restarts and reloads and every worker sees it; a disabled credential is
loaded but never selected. Disabling the last serving credential is refused unless
``force``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute, Reply
from cliproxy.management_api.config_document import ConfigDocument
from cliproxy.management_api.credential_check import PROBE_TIMEOUT, check_credential
from cliproxy.management_api.token_files import delete_token_file, token_file_of, upload_token_file
from cliproxy.providers import Provider
from cliproxy.status import credential_status, reset_cooldowns, status_snapshot

__all__ = ["routes"]

DISABLED = "disabled-credentials"
UPLOAD_LIMIT = 1024 * 1024


def _all(api: ManagementApi) -> list[Credential]:
    return [*api.gateway.credentials, *api.gateway.snapshot.disabled]


def _find(api: ManagementApi, ref: str) -> Credential:
    pool = _all(api)
    found = [c for c in pool if c.id == ref] or [c for c in pool if c.label == ref]
    if len(found) == 1:
        return found[0]
    if found:
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="ambiguous_credential",
            message=f"{len(found)} credentials are labelled '{ref}'; name one by id: " + ", ".join(c.id for c in found),
        )
    raise GatewayError(
        status=404,
        kind=ErrorKind.NOT_FOUND,
        code="no_such_credential",
        message=f"no credential '{ref}'; GET /v0/management/credentials lists their ids and labels",
    )


async def _entry(api: ManagementApi, cred: Credential) -> dict[str, Any]:
    gateway = api.gateway
    disabled = cred in gateway.snapshot.disabled
    entry = credential_status(
        gateway, cred, await gateway.state.cooldowns(), await gateway.state.usage(), gateway.clock(), disabled=disabled
    )
    return _with_extras(api, cred, entry)


def _with_extras(api: ManagementApi, cred: Credential, entry: dict[str, Any]) -> dict[str, Any]:
    file = token_file_of(api.gateway, cred)
    entry["enabled"] = entry["state"] != "disabled"
    entry["source"] = {"kind": "token-file", "file": file.name} if file else {"kind": "config", "at": cred.source}
    entry["quota_supported"] = type(api.gateway.providers[cred.provider]).quota is not Provider.quota
    return entry


def _set_disabled(document: ConfigDocument, cred: Credential, disabled: bool) -> bool:
    """Add or remove ``cred``'s id in ``disabled-credentials``; whether anything changed."""
    current = document.data.get(DISABLED)
    if isinstance(current, str):
        current = CommentedSeq([current])
        document.data[DISABLED] = current
    if current is not None and not isinstance(current, list):
        raise GatewayError(
            status=409,
            kind=ErrorKind.INVALID_REQUEST,
            code="not_a_list",
            message=f"'{DISABLED}' in {document.file} is not a list; fix it by hand first",
        )
    listed = [str(item) for item in current or ()]
    if disabled:
        if cred.id in listed:
            return False
        if current is None:
            current = document.data[DISABLED] = CommentedSeq()
        current.append(cred.id)
        if isinstance(current, CommentedSeq) and current.fa.flow_style() is not True:
            current.yaml_add_eol_comment(cred.label.replace("\n", " "), len(current) - 1)
        return True
    if current is None or cred.id not in listed:
        return False
    for index in reversed([i for i, item in enumerate(listed) if item == cred.id]):
        del current[index]
    if not current:
        del document.data[DISABLED]
    return True


def routes(api: ManagementApi) -> list[ManagementRoute]:
    gateway = api.gateway

    async def list_all(request: ManagementRequest) -> Any:
        snapshot = await status_snapshot(gateway)
        by_id = {c.id: c for c in _all(api)}
        entries = [_with_extras(api, by_id[e["id"]], e) for e in snapshot["credentials"] if e["id"] in by_id]
        return {"credentials": entries}

    async def one(request: ManagementRequest) -> Any:
        return {"credential": await _entry(api, _find(api, request.param("ref")))}

    def toggle(disabled: bool) -> Any:
        async def handler(request: ManagementRequest) -> Any:
            request.only("force")
            cred = _find(api, request.param("ref"))
            changed: list[bool] = []

            def change(document: ConfigDocument) -> dict[str, Any]:
                changed.append(_set_disabled(document, cred, disabled))
                return {"id": cred.id, "enabled": not disabled, "changed": changed[-1]}

            answer = await api.editor.edit(change, force=request.flag("force"))
            answer["credential"] = await _entry(api, _find(api, cred.id))
            return answer

        return handler

    async def test(request: ManagementRequest) -> Any:
        request.only("model")
        cred = _find(api, request.param("ref"))
        model = request.field("model", str)
        try:
            result = await asyncio.wait_for(check_credential(gateway, cred, model), PROBE_TIMEOUT)
        except TimeoutError:
            result = {"ok": False, "method": "request", "message": f"no answer within {PROBE_TIMEOUT:.0f} s"}
        return {"id": cred.id, "label": cred.label, **result}

    async def reset(request: ManagementRequest) -> Any:
        request.only("model")
        cred = _find(api, request.param("ref"))
        return await reset_cooldowns(gateway, cred.id, request.field("model", str))

    async def quota(request: ManagementRequest) -> Any:
        cred = _find(api, request.param("ref"))
        entry = await _entry(api, cred)
        return {"id": cred.id, "supported": entry["quota_supported"], "quota": entry.get("quota")}

    async def refresh_quota(request: ManagementRequest) -> Any:
        request.only()
        cred = _find(api, request.param("ref"))
        await gateway.read_quotas([cred])
        return await quota(request)

    async def upload(request: ManagementRequest) -> Any:
        request.only("content", "name", "replace")
        content = request.field("content", dict, required=True)
        name = request.field("name", str)
        replace = bool(request.field("replace", bool, default=False))
        return Reply(await upload_token_file(gateway, content, name, replace=replace), 201)

    async def delete(request: ManagementRequest) -> Any:
        return await delete_token_file(gateway, _find(api, request.param("ref")))

    one_path = "/credentials/{ref:path}"
    return [
        ManagementRoute("GET", "/credentials", list_all, "every credential: state, cooldowns, quota (masked)"),
        ManagementRoute("POST", "/credentials", upload, "upload a token file into auth-dir", UPLOAD_LIMIT),
        ManagementRoute("POST", one_path + "/enable", toggle(False), "enable a credential (persisted)"),
        ManagementRoute("POST", one_path + "/disable", toggle(True), "disable a credential (persisted)"),
        ManagementRoute("POST", one_path + "/test", test, "try a credential: a models call or a one-token request"),
        ManagementRoute("POST", one_path + "/reset", reset, "end a credential's cooldowns"),
        ManagementRoute("POST", one_path + "/quota/refresh", refresh_quota, "read a credential's quota again"),
        ManagementRoute("GET", one_path + "/quota", quota, "a credential's quota, as last read"),
        ManagementRoute("GET", one_path, one, "one credential"),
        ManagementRoute("DELETE", one_path, delete, "delete a credential's token file"),
    ]

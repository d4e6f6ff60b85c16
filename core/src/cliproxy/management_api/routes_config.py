"""Routes: the config file -- read, check, replace, single settings, reload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.management_api.api import ManagementApi, ManagementRequest, ManagementRoute
from cliproxy.management_api.config_document import ConfigDocument, plain, yaml_value
from cliproxy.reload import reload_gateway

__all__ = ["routes"]

CONFIG_BODY_LIMIT = 1024 * 1024


def routes(api: ManagementApi) -> list[ManagementRoute]:
    editor = api.editor

    async def read_json(request: ManagementRequest) -> Any:
        document = editor.document()
        return {"file": str(editor.path()), "config": plain(editor.refs.masked(document.data))}

    async def read_yaml(request: ManagementRequest) -> Any:
        document = editor.document()
        masked = ConfigDocument(editor.refs.masked(document.data), document.file, document.style)
        return {"file": str(editor.path()), "yaml": masked.dump()}

    async def replace_yaml(request: ManagementRequest) -> Any:
        request.only("yaml", "force")
        text = request.field("yaml", str, required=True)
        return await editor.replace(text, force=request.flag("force"))

    async def replace_json(request: ManagementRequest) -> Any:
        request.only("config", "force")
        new = request.field("config", dict, required=True)
        editor.refs.restore(new, editor.secrets(), api.gateway.config.file)

        def change(document: ConfigDocument) -> None:
            merge_mapping(document.data, new)

        return await editor.edit(change, force=request.flag("force"))

    async def check(request: ManagementRequest) -> Any:
        request.only("yaml")
        text = request.field("yaml", str, required=True)
        staged = editor.check(text)
        return {
            "ok": True,
            "credentials": len(staged.credentials),
            "disabled_credentials": len(staged.disabled),
            "models": sorted(m.id for m in staged.router.models()),
        }

    async def read_setting(request: ManagementRequest) -> Any:
        name = request.param("name")
        *parents, key = _setting_path(name)
        document = editor.document()
        holder = document.mapping(tuple(parents))
        if holder is None or key not in holder:
            raise GatewayError(
                status=404,
                kind=ErrorKind.NOT_FOUND,
                code="setting_not_set",
                message=f"'{name}' is not set in {document.file} (the default applies)",
            )
        masked = editor.refs.masked(CommentedMap({key: holder[key]}))
        return {"name": name, "value": plain(masked[key])}

    async def write_setting(request: ManagementRequest) -> Any:
        request.only("value", "force")
        name = request.param("name")
        body = request.body()
        if "value" not in body:
            raise GatewayError.invalid("'value' is required (null removes the setting)", param="value")
        value = body["value"]
        _check_setting_value(name, value)
        *parents, key = _setting_path(name)
        given = CommentedMap({key: yaml_value(value)})
        editor.refs.restore(given, editor.secrets(), api.gateway.config.file)

        def change(document: ConfigDocument) -> dict[str, Any]:
            holder = document.mapping(tuple(parents), create=value is not None)
            if value is None:
                if holder is not None:
                    holder.pop(key, None)
                    _drop_empty(document.data, tuple(parents))
                return {"name": name, "removed": True}
            assert holder is not None
            holder[key] = given[key]
            return {"name": name, "set": True}

        return await editor.edit(change, force=request.flag("force"))

    async def remove_setting(request: ManagementRequest) -> Any:
        name = request.param("name")
        *parents, key = _setting_path(name)

        def change(document: ConfigDocument) -> dict[str, Any]:
            holder = document.mapping(tuple(parents))
            if holder is None or key not in holder:
                raise GatewayError(
                    status=404,
                    kind=ErrorKind.NOT_FOUND,
                    code="setting_not_set",
                    message=f"'{name}' is not set in {document.file}",
                )
            del holder[key]
            _drop_empty(document.data, tuple(parents))
            return {"name": name, "removed": True}

        return await editor.edit(change, force=request.flag("force"))

    async def reload(request: ManagementRequest) -> Any:
        request.only("force")
        result = await reload_gateway(api.gateway, force=request.flag("force"))
        return {"reload": result.as_dict()}

    return [
        ManagementRoute("GET", "/config", read_json, "the config file as JSON, secrets shown as references"),
        ManagementRoute(
            "PUT", "/config", replace_json, "replace the config from JSON, keeping comments", CONFIG_BODY_LIMIT
        ),
        ManagementRoute("GET", "/config.yaml", read_yaml, "the config file as YAML text, secrets shown as references"),
        ManagementRoute(
            "PUT", "/config.yaml", replace_yaml, "replace the config file with YAML text", CONFIG_BODY_LIMIT
        ),
        ManagementRoute(
            "POST", "/config/check", check, "check YAML text as a config, writing nothing", CONFIG_BODY_LIMIT
        ),
        ManagementRoute("POST", "/config/reload", reload, "apply the config file and auth-dir again"),
        ManagementRoute("GET", "/config/settings/{name}", read_setting, "one setting (dotted name: routing.strategy)"),
        ManagementRoute("PUT", "/config/settings/{name}", write_setting, "set one setting"),
        ManagementRoute(
            "DELETE", "/config/settings/{name}", remove_setting, "remove one setting (its default applies)"
        ),
    ]


_PROTECTED = {
    "api-keys": "use /v0/management/keys",
    "disabled-credentials": "use /v0/management/credentials/{id}/enable and /disable",
}


def _setting_path(name: str) -> list[str]:
    parts = name.split(".")
    if not name or any(not part.strip() for part in parts):
        raise GatewayError.invalid(f"'{name}' is not a setting name; write it dotted, e.g. 'routing.strategy'")
    return parts


def _check_setting_value(name: str, value: Any) -> None:
    """A setting is a scalar or a list of scalars; lists of entries and blocks have
    routes of their own."""
    if name in _PROTECTED:
        raise GatewayError.invalid(f"'{name}' has routes of its own: {_PROTECTED[name]}", param="value")
    scalar = (str, int, float, bool)
    if value is None or isinstance(value, scalar):
        return
    if isinstance(value, list) and all(isinstance(item, scalar) for item in value):
        return
    raise GatewayError.invalid(
        f"'{name}' takes a single value (text, number, true/false) or a list of them; provider entries have "
        "routes of their own (/v0/management/providers), and a whole file goes to PUT /v0/management/config.yaml",
        param="value",
    )


def _drop_empty(root: CommentedMap, parents: tuple[str, ...]) -> None:
    """Remove mappings on ``parents`` left empty by a removal (innermost first)."""
    for depth in range(len(parents), 0, -1):
        node: Any = root
        for key in parents[: depth - 1]:
            node = node.get(key)
        child = node.get(parents[depth - 1]) if isinstance(node, Mapping) else None
        if isinstance(child, Mapping) and not child:
            del node[parents[depth - 1]]


def merge_mapping(target: CommentedMap, new: Mapping[str, Any]) -> None:
    """Make ``target`` equal ``new`` while keeping what it can of it: keys in both keep
    their place and comments (nested mappings and lists are merged the same way), keys
    only in ``target`` go, new keys are added at the end."""
    for key in [k for k in target if k not in new]:
        del target[key]
    for key, value in new.items():
        current = target.get(key)
        if isinstance(current, CommentedMap) and isinstance(value, Mapping):
            merge_mapping(current, value)
        elif isinstance(current, CommentedSeq) and isinstance(value, list):
            _merge_list(current, value)
        elif key not in target or plain(current) != value:
            target[key] = yaml_value(value)


def _merge_list(target: CommentedSeq, new: list[Any]) -> None:
    del target[len(new) :]
    for index, value in enumerate(new):
        if index >= len(target):
            target.append(yaml_value(value))
            continue
        current = target[index]
        if isinstance(current, CommentedMap) and isinstance(value, Mapping):
            merge_mapping(current, value)
        elif isinstance(current, CommentedSeq) and isinstance(value, list):
            _merge_list(current, value)
        elif plain(current) != value:
            target[index] = yaml_value(value)

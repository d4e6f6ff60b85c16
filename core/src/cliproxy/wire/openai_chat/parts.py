"""openai-chat content parts and tool calls <-> IR parts, for requests and responses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import (
    FilePart,
    Part,
    TextPart,
    ToolCallPart,
)
from cliproxy.wire import common as c
from cliproxy.wire.openai_chat.common import WIRE


def content_parts(content: Any, where: str, *, allow_files: bool = True) -> list[TextPart | FilePart]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    if not isinstance(content, list):
        raise GatewayError.invalid(
            f"'{where}' must be a string or an array of content parts, not {c.kind_of(content)}", param=where
        )
    parts: list[TextPart | FilePart] = []
    for i, item in enumerate(content):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            parts.append(TextPart(item))
            continue
        item = c.expect_map(item, at)
        kind = item.get("type")
        if kind in ("text", "input_text", "output_text"):
            parts.append(TextPart(c.get_str(item, "text", at + ".", required=True) or ""))
        elif kind == "refusal":
            parts.append(TextPart(c.get_str(item, "refusal", at + ".") or ""))
        elif kind == "image_url" and allow_files:
            image = item.get("image_url")
            url = image if isinstance(image, str) else (image or {}).get("url") if isinstance(image, dict) else None
            if not isinstance(url, str):
                raise GatewayError.invalid(f"'{at}.image_url.url' must be a string", param=f"{at}.image_url.url")
            part = c.file_from_url(url)
            detail = image.get("detail") if isinstance(image, dict) else None
            if detail:
                part = FilePart(part.media_type, part.data, part.url, part.filename, {WIRE: {"detail": detail}})
            parts.append(part)
        elif kind == "input_audio" and allow_files:
            audio = c.expect_map(item.get("input_audio"), at + ".input_audio")
            fmt = c.get_str(audio, "format", at + ".input_audio.") or "wav"
            parts.append(
                FilePart(media_type=f"audio/{fmt}", data=c.get_str(audio, "data", at + ".input_audio.", required=True))
            )
        elif kind == "file" and allow_files:
            file = c.expect_map(item.get("file"), at + ".file")
            data = c.get_str(file, "file_data", at + ".file.")
            name = c.get_str(file, "filename", at + ".file.")
            if data:
                part = c.file_from_url(data, default_type="application/octet-stream", filename=name)
                if part.url and not part.data:  # bare base64 without a data: header
                    part = FilePart("application/pdf", data=data, filename=name)
                parts.append(part)
            elif file.get("file_id"):
                raise GatewayError.invalid(
                    "file_id references are not supported by the gateway; send the file inline as file_data",
                    param=f"{at}.file.file_id",
                )
        else:
            raise GatewayError.invalid(f"'{at}.type' {kind!r} is not a supported content part type", param=f"{at}.type")
    return parts


def decode_tool_call(item: Any, at: str) -> ToolCallPart:
    item = c.expect_map(item, at)
    function = c.expect_map(item.get("function"), at + ".function")
    name = c.get_str(function, "name", at + ".function.", required=True) or ""
    arguments = function.get("arguments")
    if arguments is None:
        arguments = "{}"
    elif not isinstance(arguments, str):
        arguments = orjson.dumps(arguments).decode()
    meta = None
    extra = item.get("extra_content")
    if isinstance(extra, dict):
        signature = (extra.get("google") or {}).get("thought_signature")
        if signature:
            meta = {"gemini": {"thoughtSignature": signature}}
    return ToolCallPart(c.get_str(item, "id", at + ".") or c.new_id("call_"), name, arguments, meta)


def encode_content(parts: Iterable[Part]) -> str | list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    only_text = True
    for part in parts:
        if isinstance(part, TextPart):
            items.append({"type": "text", "text": part.text})
        elif isinstance(part, FilePart):
            only_text = False
            if part.is_image:
                image: dict[str, Any] = {"url": c.to_data_url(part)}
                detail = ((part.provider_metadata or {}).get(WIRE) or {}).get("detail")
                if detail:
                    image["detail"] = detail
                items.append({"type": "image_url", "image_url": image})
            elif part.media_type.startswith("audio/") and part.data:
                items.append({"type": "input_audio", "input_audio": {"data": part.data, "format": part.media_type[6:]}})
            else:
                file: dict[str, Any] = {"file_data": c.to_data_url(part)}
                if part.filename:
                    file["filename"] = part.filename
                items.append({"type": "file", "file": file})
    if only_text:
        return "".join(item["text"] for item in items)
    return items


def encode_tool_call(part: ToolCallPart) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": part.id,
        "type": "function",
        "function": {"name": part.name, "arguments": part.arguments or "{}"},
    }
    signature = ((part.provider_metadata or {}).get("gemini") or {}).get("thoughtSignature")
    if signature:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call

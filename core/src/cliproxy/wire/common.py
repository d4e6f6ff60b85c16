"""Helpers every wire translator needs: ids, data URLs, retry hints, lenient JSON."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from cliproxy.errors import GatewayError
from cliproxy.ir import FilePart, Message

__all__ = [
    "file_from_url",
    "get_list",
    "get_map",
    "get_str",
    "leading_system",
    "loads",
    "new_id",
    "retry_after_seconds",
    "retry_info_seconds",
    "system_note",
    "to_data_url",
]


def new_id(prefix: str) -> str:
    """A fresh id such as ``chatcmpl-3f2a...`` (24 hex digits)."""
    return prefix + os.urandom(12).hex()


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``orjson.JSONDecodeError`` (a ``ValueError``)."""
    return orjson.loads(data)


def leading_system(messages: tuple[Message, ...] | list[Message]) -> int:
    """How many system messages open the conversation: the system prompt. Any later
    system message is a mid-conversation instruction, encoded in place."""
    count = 0
    for message in messages:
        if message.role != "system":
            break
        count += 1
    return count


def system_note(text: str) -> str:
    """A mid-conversation system instruction as user-side text, for wires that have no
    system message in the middle of a conversation (Gemini, Kiro): marked so the model
    reads it as an instruction, not as something the user said."""
    return f"<system_instruction>\n{text}\n</system_instruction>"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retry_info_seconds(error: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail of a Google-style error object
    (``{"details": [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "34.4s"}]}``),
    as Gemini -- and its OpenAI-compatible endpoint -- send with a 429."""
    details = error.get("details") if isinstance(error, Mapping) else None
    if not isinstance(details, list):
        return None
    for detail in details:
        if not isinstance(detail, Mapping) or not str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
        if isinstance(delay, Mapping):
            seconds, nanos = delay.get("seconds", 0), delay.get("nanos", 0)
            if isinstance(seconds, int | float | str) and isinstance(nanos, int | float):
                try:
                    return max(0.0, float(seconds) + float(nanos) / 1e9)
                except ValueError:
                    return None
    return None


def file_from_url(url: str, *, default_type: str = "image/*", filename: str | None = None) -> FilePart:
    """A :class:`FilePart` from a ``data:`` URL (inline) or an ``http(s)`` URL."""
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise GatewayError.invalid("a data: URL must contain a comma before its data")
        media_type, _, encoding = header.partition(";")
        media_type = media_type or "application/octet-stream"
        if "base64" not in encoding:
            from urllib.parse import unquote_to_bytes

            payload = base64.b64encode(unquote_to_bytes(payload)).decode()
        return FilePart(media_type=media_type, data=payload, filename=filename)
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0]
    return FilePart(media_type=guessed or default_type, url=url, filename=filename)


def to_data_url(part: FilePart) -> str:
    """The part as a URL: its own URL, or a base64 ``data:`` URL."""
    if part.url and not part.data:
        return part.url
    return f"data:{part.media_type};base64,{part.data or ''}"


def valid_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# -- typed field access for request decoding ----------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def get_str(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise GatewayError.invalid(f"'{where}{key}' is required", param=f"{where}{key}")
        return None
    if not isinstance(value, str):
        raise GatewayError.invalid(f"'{where}{key}' must be a string, not {_kind(value)}", param=f"{where}{key}")
    return value


def get_list(obj: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> list[Any]:
    value = obj.get(key)
    if value is None:
        if required:
            raise GatewayError.invalid(f"'{where}{key}' is required", param=f"{where}{key}")
        return []
    if not isinstance(value, list):
        raise GatewayError.invalid(f"'{where}{key}' must be an array, not {_kind(value)}", param=f"{where}{key}")
    return value


def get_map(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise GatewayError.invalid(f"'{where}{key}' must be an object, not {_kind(value)}", param=f"{where}{key}")
    return value


def get_number(obj: Mapping[str, Any], key: str, where: str = "") -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GatewayError.invalid(f"'{where}{key}' must be a number, not {_kind(value)}", param=f"{where}{key}")
    return value


INT_LIMIT = 2**53
"""The largest integer a request field may hold: what every JSON parser on the way reads
exactly (JavaScript's safe integers), and far past any real token count or seed."""


def get_int(obj: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayError.invalid(f"'{where}{key}' must be an integer, not {_kind(value)}", param=f"{where}{key}")
    if not -INT_LIMIT <= value <= INT_LIMIT:
        raise GatewayError.invalid(
            f"'{where}{key}' is out of range: {value:.3g} (at most {INT_LIMIT:,} in size)", param=f"{where}{key}"
        )
    return value


def get_bool(obj: Mapping[str, Any], key: str, where: str = "") -> bool | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise GatewayError.invalid(f"'{where}{key}' must be true or false, not {_kind(value)}", param=f"{where}{key}")
    return value


def expect_map(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise GatewayError.invalid(f"'{where}' must be an object, not {_kind(value)}", param=where)
    return value


def kind_of(value: Any) -> str:
    """A short description of a JSON value's type, for error messages."""
    return _kind(value)

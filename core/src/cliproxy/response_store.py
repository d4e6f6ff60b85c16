"""The gateway's store of Responses answers, for ``previous_response_id``.

An answer the gateway produced for a ``POST /v1/responses`` client (from a Claude,
Gemini or Chat Completions upstream -- Responses upstreams keep their own) is saved in
the state store under its id, with the input items it answered, for ``responses-store.ttl``
seconds; with Redis every instance sees it. Saving happens after the answer went out, so
it adds no latency; until the write completes the record is held in memory, so this
instance can already continue it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.state import StateStore

__all__ = ["ResponseStore", "StoredResponse"]

log = logging.getLogger("cliproxy.responses")

KEY_PREFIX = "resp:"


@attrs.frozen
class StoredResponse:
    """One kept answer.

    Attributes:
        response: The response object as the client received it.
        input: The input items it answered, those of earlier turns included.
    """

    response: Mapping[str, Any]
    input: Sequence[Any]

    @property
    def id(self) -> str:
        return str(self.response.get("id") or "")

    @property
    def conversation(self) -> list[Any]:
        """What a request continuing this answer puts before its own input."""
        output = self.response.get("output")
        return [*self.input, *(output if isinstance(output, list) else ())]

    def dumps(self) -> bytes:
        return orjson.dumps({"response": self.response, "input": self.input})

    @classmethod
    def loads(cls, raw: bytes) -> StoredResponse | None:
        """The record in ``raw``, or None when it is not one."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("response"), dict)
            or not isinstance(data.get("input"), list)
        ):
            return None
        return cls(data["response"], data["input"])


class ResponseStore:
    """Kept answers in a :class:`~cliproxy.state.StateStore`, for ``ttl`` seconds."""

    def __init__(self, state: StateStore, ttl: float) -> None:
        self.state = state
        self.ttl = ttl
        self._held: dict[str, StoredResponse] = {}  # answered, not yet written

    def hold(self, record: StoredResponse) -> None:
        """Keep ``record`` in memory until :meth:`save` has written it (call this before
        the answer's last byte goes out, so a quick follow-up finds it)."""
        self._held[record.id] = record

    async def save(self, record: StoredResponse) -> None:
        """Write a held record; failures are logged, never raised (the client has its answer)."""
        if self._held.get(record.id) is not record:
            return  # deleted meanwhile
        try:
            await self.state.set_value(KEY_PREFIX + record.id, record.dumps(), self.ttl)
        except Exception as exc:
            log.warning(
                "could not store response %s for previous_response_id (%s)",
                record.id,
                type(exc).__name__,
            )
        finally:
            if self._held.get(record.id) is record:
                del self._held[record.id]

    async def load(self, response_id: str) -> StoredResponse | None:
        """The kept answer with this id, or None."""
        held = self._held.get(response_id)
        if held is not None:
            return held
        try:
            raw = await self.state.get_value(KEY_PREFIX + response_id)
        except Exception as exc:
            log.warning("could not read stored response %s (%s)", response_id, type(exc).__name__)
            raise GatewayError(
                status=503,
                kind=ErrorKind.UNAVAILABLE,
                message="stored responses cannot be read right now; try again",
            ) from None
        if raw is None:
            return None
        record = StoredResponse.loads(raw)
        if record is None:
            log.warning("stored response %s is unreadable; treating it as missing", response_id)
        return record

    async def delete(self, response_id: str) -> bool:
        """Forget a kept answer; False when there was none."""
        found = await self.load(response_id) is not None
        self._held.pop(response_id, None)
        if found:
            await self.state.delete_value(KEY_PREFIX + response_id)
        return found

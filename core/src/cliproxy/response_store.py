"""The gateway's store of Responses answers, for ``previous_response_id``.

An answer the gateway produced for a ``POST /v1/responses`` client (from a Claude,
Gemini or Chat Completions upstream -- Responses upstreams keep their own) is saved in
the state store under its id for ``responses-store.ttl`` seconds; with Redis every
instance sees it. Saving happens after the answer went out, so it adds no latency; until
the write completes the record is held in memory, so this instance can already continue
it.

A record holds the answer's owner (:attr:`~cliproxy.ClientIdentity.owner`: only the
same caller reads it again; to anyone else it does not exist), the id of the answer it
continued, the input items new in its request and the response object. A conversation
is a chain of such links, so each turn is kept once, not copied into every later turn;
continuing a chain keeps all of it alive as long as the newest turn. Every record is at
most ``max-record-mb`` (a larger one is not kept: a small note says so, for a clear
error later), all of them together at most ``max-total-mb`` (the oldest go first).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import orjson

from cliproxy.config import ResponsesStoreConfig
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.state import StateStore
from cliproxy.state.base import MAX_LINKS

__all__ = ["Conversation", "NotKept", "ResponseStore", "StoredResponse", "loads"]

log = logging.getLogger("cliproxy.responses")

SPACE = "responses"
"""The state store's space of linked values that holds the records."""

MAX_ID_LENGTH = 200
"""Ids longer than this were never issued by the gateway: not looked up at all."""


@attrs.frozen
class StoredResponse:
    """One kept answer.

    Attributes:
        response: The response object as the client received it.
        input: The input items new in its request (with no ``previous``: every item the
            answer was produced for).
        owner: Who may read it again (:attr:`~cliproxy.ClientIdentity.owner`).
        previous: The id of the kept answer it continued, or None.
    """

    response: Mapping[str, Any]
    input: Sequence[Any]
    owner: str = "anonymous"
    previous: str | None = None

    @property
    def id(self) -> str:
        return str(self.response.get("id") or "")

    @property
    def output(self) -> list[Any]:
        output = self.response.get("output")
        return output if isinstance(output, list) else []

    def dumps(self) -> bytes:
        return orjson.dumps(
            {"owner": self.owner, "previous": self.previous, "response": self.response, "input": self.input}
        )


@attrs.frozen
class NotKept:
    """An answer that was not kept: its record of ``size`` bytes was larger than
    ``limit`` (``responses-store.max-record-mb``)."""

    id: str
    owner: str
    size: int
    limit: int

    def dumps(self) -> bytes:
        return orjson.dumps({"owner": self.owner, "not_kept": {"size": self.size, "limit": self.limit}})


def loads(raw: bytes, response_id: str) -> StoredResponse | NotKept | None:
    """The record kept under ``response_id``, or None when ``raw`` is not one."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(owner := data.get("owner"), str):
        return None
    if isinstance(note := data.get("not_kept"), dict):
        size, limit = note.get("size"), note.get("limit")
        return NotKept(response_id, owner, size, limit) if isinstance(size, int) and isinstance(limit, int) else None
    response, items, previous = data.get("response"), data.get("input"), data.get("previous")
    if not isinstance(response, dict) or not isinstance(items, list) or not isinstance(previous, str | None):
        return None
    record = StoredResponse(response, items, owner, previous)
    return record if record.id == response_id else None


@attrs.frozen
class Conversation:
    """A kept answer with the answers it continued: ``records``, oldest first."""

    records: tuple[StoredResponse, ...]

    @property
    def latest(self) -> StoredResponse:
        return self.records[-1]

    @property
    def input(self) -> list[Any]:
        """Every input item the latest answer was produced for: each earlier turn's input
        and output, then its own input."""
        items: list[Any] = []
        for record in self.records[:-1]:
            items += record.input
            items += record.output
        items += self.latest.input
        return items

    @property
    def items(self) -> list[Any]:
        """What a request continuing the latest answer puts before its own input."""
        return [*self.input, *self.latest.output]


class ResponseStore:
    """Kept answers in a :class:`~cliproxy.state.StateStore`, for ``ttl`` seconds, each
    at most ``max_record_bytes``, all at most ``max_total_bytes``."""

    def __init__(
        self,
        state: StateStore,
        ttl: float,
        *,
        max_record_bytes: int = ResponsesStoreConfig().max_record_bytes,
        max_total_bytes: int = ResponsesStoreConfig().max_total_bytes,
    ) -> None:
        self.state = state
        self.ttl = ttl
        self.max_record_bytes = min(max_record_bytes, max_total_bytes)
        self.max_total_bytes = max_total_bytes
        self._held: dict[str, StoredResponse] = {}  # answered, not yet written

    @classmethod
    def from_config(cls, state: StateStore, config: ResponsesStoreConfig) -> ResponseStore:
        return cls(state, config.ttl, max_record_bytes=config.max_record_bytes, max_total_bytes=config.max_total_bytes)

    def hold(self, record: StoredResponse) -> None:
        """Keep ``record`` in memory until :meth:`save` has written it (call this before
        the answer's last byte goes out, so a quick follow-up finds it)."""
        self._held[record.id] = record

    async def save(self, record: StoredResponse) -> None:
        """Write a held record (or, when it is too large, a note that it was not kept);
        failures are logged, never raised (the client has its answer)."""
        if self._held.get(record.id) is not record:
            return  # deleted meanwhile
        try:
            blob = record.dumps()
            parent = record.previous
            if len(blob) > self.max_record_bytes:
                log.info(
                    "response %s is not kept for previous_response_id: its record is %d bytes, "
                    "more than responses-store.max-record-mb allows (%d)",
                    record.id,
                    len(blob),
                    self.max_record_bytes,
                )
                blob = NotKept(record.id, record.owner, len(blob), self.max_record_bytes).dumps()
                parent = None
            await self.state.put_linked(
                SPACE, record.id, blob, parent=parent, ttl=self.ttl, max_total=self.max_total_bytes
            )
        except Exception as exc:
            log.warning(
                "could not store response %s for previous_response_id (%s)",
                record.id,
                type(exc).__name__,
            )
        finally:
            if self._held.get(record.id) is record:
                del self._held[record.id]

    async def load(self, response_id: str, owner: str) -> StoredResponse | NotKept | None:
        """The answer ``owner`` had kept under this id (or the note that it was not
        kept); None for an id nobody kept and for one kept for someone else."""
        if not _plausible(response_id):
            return None
        held = self._held.get(response_id)
        if held is not None:
            return held if held.owner == owner else None
        raws = await self._chain(response_id, 1)
        record = loads(raws[0], response_id) if raws else None
        return record if record is not None and record.owner == owner else None

    async def conversation(self, response_id: str, owner: str) -> Conversation | NotKept | None:
        """The answer ``owner`` had kept under this id with every answer it continued (or
        the note that it was not kept); None for an id nobody kept, kept for someone
        else, or whose chain is broken (an earlier answer was deleted or dropped)."""
        if not _plausible(response_id):
            return None
        records: list[StoredResponse] = []
        link: str | None = response_id
        while link is not None and link in self._held and len(records) < MAX_LINKS:
            held = self._held[link]
            records.append(held)
            link = held.previous
        if link is not None and len(records) < MAX_LINKS:
            for raw in await self._chain(link, MAX_LINKS - len(records)):
                record = loads(raw, link)
                if isinstance(record, NotKept) and not records:
                    return record if record.owner == owner else None
                if not isinstance(record, StoredResponse):
                    return None
                records.append(record)
                link = record.previous
                if link is None:
                    break
        if link is not None or not records or any(record.owner != owner for record in records):
            return None
        records.reverse()
        return Conversation(tuple(records))

    async def delete(self, response_id: str, owner: str) -> bool:
        """Forget the answer ``owner`` had kept under this id; False when there was none
        for ``owner``. Answers that continued it can no longer be continued."""
        if not isinstance(await self.load(response_id, owner), StoredResponse):
            return False
        self._held.pop(response_id, None)
        await self.state.delete_linked(SPACE, response_id)
        return True

    async def usage(self) -> tuple[int, int]:
        """How many records are kept, and their bytes."""
        return await self.state.linked_usage(SPACE)

    async def _chain(self, response_id: str, limit: int) -> list[bytes]:
        try:
            return await self.state.get_chain(SPACE, response_id, limit)
        except Exception as exc:
            log.warning("could not read stored response %s (%s)", response_id, type(exc).__name__)
            raise GatewayError(
                status=503,
                kind=ErrorKind.UNAVAILABLE,
                message="stored responses cannot be read right now; try again",
            ) from None


def _plausible(response_id: str) -> bool:
    return 0 < len(response_id) <= MAX_ID_LENGTH

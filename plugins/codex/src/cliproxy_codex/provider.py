"""The Codex provider: ChatGPT accounts signed in with ``cliproxy login codex``, served by
the Codex backend's Responses API.

Every client door reaches it: Responses clients (Codex CLI) are passed through with their
own body, shaped for the backend; other clients (Claude Code on the Anthropic door, Gemini
CLI, Chat Completions clients) are translated to Responses by the gateway and back. The
backend always streams; a client that asked for a whole answer gets the stream folded
(by the core). The backend stores nothing (``store: false``), so ``previous_response_id`` is
served from the gateway's own Responses store (``stores_responses = False``).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
from cliproxy import (
    Call,
    ConfigNode,
    Cooldown,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    Quota,
    UpstreamResponse,
)

from cliproxy_codex.auth import CodexSettings
from cliproxy_codex.errors import USAGE_LIMIT, decode_error, stream_error
from cliproxy_codex.limits import RateLimits, from_headers, from_usage
from cliproxy_codex.models import catalogue, served_slugs
from cliproxy_codex.request import WIRE, build_body, build_headers, compact_body, session_id
from cliproxy_codex.settings import PROVIDER, read_codex_config
from cliproxy_codex.stream import PREAMBLE, Event, EventStream

__all__ = ["CodexProvider"]

_FAILURES = ("error", "response.failed")
MAX_METADATA = 4 * 1024 * 1024  # the models list and the usage answer are small
MAX_HEAD = 4 * 1024 * 1024  # bytes of a stream held while waiting for its first content


class CodexProvider(Provider):
    """ChatGPT accounts on the Codex backend (see the module doc)."""

    name = PROVIDER
    config_keys = ("codex",)
    wire = WIRE
    stores_responses = False

    def __init__(self) -> None:
        self._limits: dict[str, RateLimits] = {}  # credential id -> what was last learned of its limits
        self._polled: dict[str, float] = {}  # credential id -> when its usage endpoint was last read
        self._refresher: asyncio.Task[None] | None = None

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        read_codex_config(node, check=True)  # accounts come from token files (cliproxy login codex)
        return []

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return catalogue()

    # -- requests ------------------------------------------------------------------------

    async def send(self, call: Call) -> UpstreamResponse:
        settings: CodexSettings = call.credential.settings
        session = session_id(call)
        payload = _encode(build_body(call, session))
        token = await call.host.tokens.access_token(call.credential)
        headers = build_headers(call, token, session or str(uuid.uuid4()))
        try:
            answer = await self._post(call, settings.config.base_url + "/responses", payload, headers, stream=True)
            return await self._stream(call, answer)
        except GatewayError as error:
            await self._rest(call, error)
            raise

    async def compact(self, call: Call) -> UpstreamResponse:
        """``POST /v1/responses/compact``: the backend's compact endpoint, answered whole."""
        settings: CodexSettings = call.credential.settings
        session = session_id(call)
        payload = _encode(compact_body(call))
        token = await call.host.tokens.access_token(call.credential)
        headers = build_headers(call, token, session or str(uuid.uuid4()), stream=False)
        try:
            return await self._post(
                call, settings.config.base_url + "/responses/compact", payload, headers, stream=False
            )
        except GatewayError as error:
            await self._rest(call, error)
            raise

    async def _post(
        self, call: Call, url: str, payload: bytes, headers: dict[str, str], *, stream: bool
    ) -> UpstreamResponse:
        """:meth:`Call.post` (proxy, hooks, bounded reads, redaction, request logs,
        traces), with the account's rate-limit windows read from every answer's headers
        -- refusals' too -- and refusals decoded as the backend writes them."""
        seen, clock = self._seen(call), call.host.clock

        def refused(status: int, answer_headers: Mapping[str, str], body: bytes) -> GatewayError:
            seen(answer_headers)
            return decode_error(status, answer_headers, body, clock())

        answer = await call.post(
            url,
            wire=WIRE,
            data=payload,
            headers=headers,
            stream=stream,
            proxy=getattr(call.credential.settings, "proxy_url", None),
            decode_error=refused,
        )
        seen(answer.headers)
        return answer

    async def _stream(self, call: Call, answer: UpstreamResponse) -> UpstreamResponse:
        """Read up to the first content event -- a failure the backend reports before any
        content is raised, so the gateway can fail over -- and hand on the rest."""
        events = EventStream()
        assert answer.chunks is not None  # (posted with stream=True)
        chunks = answer.chunks.__aiter__()
        head: list[bytes] = []
        try:
            started = ended = False
            held = 0
            while not (started or ended):
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    batch, ended = events.close(), True
                else:
                    batch = events.feed(chunk)
                for event in batch:
                    if not started:
                        self._check(call, event)
                        started = event.name not in PREAMBLE
                        held += len(event.raw)
                        if held > MAX_HEAD and not started:
                            raise _no_start()
                    head.append(event.raw)
        except BaseException:
            await answer.aclose()
            raise
        return UpstreamResponse(
            wire=WIRE,
            status=answer.status,
            headers=answer.headers,
            chunks=_relay(head, events, chunks),
            release=answer.release,
        )

    def _check(self, call: Call, event: Event) -> None:
        if event.name in _FAILURES:
            data = event.data()
            error = stream_error(data if isinstance(data, dict) else {}, call.host.clock())
            error.message = call.redact(error.message)
            raise error

    async def _rest(self, call: Call, error: GatewayError) -> None:
        """A plan's usage limit rests the whole account until the limit resets."""
        if error.code != USAGE_LIMIT or error.retry_after is None or error.local:
            return
        until = call.host.clock() + error.retry_after
        await call.host.state.set_cooldown(
            call.credential.id, None, Cooldown(until=until, reason=error.message, status=429)
        )

    def _seen(self, call: Call) -> Callable[[Mapping[str, str]], None]:
        credential_id, clock = call.credential.id, call.host.clock

        def note(headers: Mapping[str, str]) -> None:
            limits = from_headers(headers, clock())
            if limits is not None:
                self._limits[credential_id] = limits

        return note

    # -- models ----------------------------------------------------------------------------

    async def discover_models(self, credential: Credential, host: Host) -> Sequence[str] | None:
        settings: CodexSettings = credential.settings
        config = settings.config
        payload = await self._get(
            credential, host, f"{config.base_url}/models", {"client_version": config.client_version}
        )
        return served_slugs(payload, config.client_version)

    async def refresh_models(self, host: Host) -> None:
        """Read every account's model list again (the plan may have changed)."""
        changed = False
        for credential in host.credentials(PROVIDER):
            if credential.models:
                continue  # the config names them
            try:
                names = await self.discover_models(credential, host)
            except Exception as exc:
                host.logger(PROVIDER).warning(
                    "could not list the models of %s: %s", credential.label, host.redact(str(exc))
                )
                continue
            if names is None:
                continue
            entries = tuple(ModelEntry(name) for name in names)
            if entries != credential.discovered:
                credential.discovered = entries
                changed = True
        if changed:
            host.models_changed()

    async def _refresh_models_forever(self, host: Host) -> None:
        while True:
            await asyncio.sleep(read_codex_config(host.config.root).models_refresh)
            await self.refresh_models(host)

    async def start(self, host: Host) -> None:
        self._refresher = asyncio.ensure_future(self._refresh_models_forever(host))

    async def stop(self) -> None:
        task, self._refresher = self._refresher, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def reload(self, host: Host) -> None:
        live = {c.id for c in host.credentials(PROVIDER)}
        for known in (self._limits, self._polled):
            for gone in [key for key in known if key not in live]:
                del known[gone]
        await super().reload(host)

    # -- quota -----------------------------------------------------------------------------

    async def quota(self, credential: Credential, host: Host) -> Quota | None:
        """The account's windows: from the last answer's headers while they are recent,
        else from the usage endpoint (read at most every ``usage-interval`` seconds)."""
        settings: CodexSettings = credential.settings
        config = settings.config
        now = host.clock()
        limits = self._limits.get(credential.id)
        fresh = limits is not None and now - limits.seen_at < config.usage_interval
        if not fresh and now - self._polled.get(credential.id, -config.usage_interval) >= config.usage_interval:
            self._polled[credential.id] = now
            polled = from_usage(await self._get(credential, host, config.usage_url), now)
            limits = self._limits.get(credential.id)  # an answer may have brought newer ones meanwhile
            if polled is not None and (limits is None or limits.seen_at <= now):
                self._limits[credential.id] = limits = polled
        if limits is None:
            return None
        quota = limits.as_quota()
        if quota.plan is None and credential in host.tokens:
            plan = host.tokens.tokens(credential).extra.get("plan_type")
            if isinstance(plan, str) and plan:
                quota = Quota(windows=quota.windows, plan=plan, note=quota.note)
        return quota

    async def _get(self, credential: Credential, host: Host, url: str, params: Mapping[str, str] | None = None) -> Any:
        """A JSON answer of the backend (the models list, the usage), with the account's
        headers; raises on a refusal."""
        settings: CodexSettings = credential.settings
        config = settings.config
        token = await host.tokens.access_token(credential)
        headers = {
            "authorization": f"Bearer {token}",
            "originator": config.originator,
            "user-agent": config.agent,
            "version": config.client_version,
            "accept": "application/json",
        }
        if settings.account_id:
            headers["chatgpt-account-id"] = settings.account_id
        session, proxy = host.http_for(credential, settings.proxy_url)
        async with session.get(url, params=params, headers=headers, proxy=proxy) as response:
            limits = from_headers(response.headers, host.clock())
            if limits is not None:
                self._limits[credential.id] = limits
            if response.status >= 400:
                raise RuntimeError(f"GET {url.rsplit('/', 1)[-1]} answered {response.status}")
            chunks: list[bytes] = []
            size = 0
            while chunk := await response.content.readany():
                size += len(chunk)
                if size > MAX_METADATA:
                    raise RuntimeError(f"GET {url.rsplit('/', 1)[-1]} answered with more than {MAX_METADATA} bytes")
                chunks.append(chunk)
        return orjson.loads(b"".join(chunks))


def _no_start() -> GatewayError:
    return GatewayError(
        status=502,
        kind=ErrorKind.UPSTREAM,
        message=f"the Codex backend sent more than {MAX_HEAD // 1024} KB without starting its answer",
        provider=PROVIDER,
    )


def _encode(body: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise GatewayError.invalid(f"the request cannot be sent on as JSON ({exc})").as_local() from None


async def _relay(head: list[bytes], events: EventStream, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The events read so far, then the rest of the stream, whole events at a time."""
    if head:
        yield b"".join(head)
    async for chunk in chunks:
        data = b"".join(event.raw for event in events.feed(chunk))
        if data:
            yield data
    tail = b"".join(event.raw for event in events.close())
    if tail:
        yield tail

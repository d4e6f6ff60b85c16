"""``gemini-cli``: Gemini through Code Assist (``cloudcode-pa.googleapis.com/v1internal``)
with a Google account's OAuth tokens, as Gemini CLI uses it.

Credentials come from token files (:mod:`.auth`), one per Code Assist project. A call
wraps the Gemini request -- the client's own body for a Gemini client, the IR encoded by
the ``gemini`` translator for everyone else -- with the model and project, and sends it
with the account's access token (refreshed and retried once after a 401). A Gemini client
gets the answer unwrapped into a plain Gemini stream, passed through; other clients get it
through the ``gemini-code-assist`` translator.

Quota (``quota-exceeded`` in the core config): a 429 ``RESOURCE_EXHAUSTED`` from a project

* with ``switch-preview-model``, is retried once on the model's preview
  (:meth:`CodeAssistOptions.preview_for`) before giving up on this project;
* with ``switch-project``, rests only that project: the request moves on to the account's
  next project (the next credential) straight away;
* without ``switch-project``, rests every project of the account for that model until the
  retry delay Google gave, so the request moves on to other accounts or providers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    UpstreamResponse,
)

from cliproxy_gemini.api_key import total_tokens
from cliproxy_gemini.catalogue import CODE_ASSIST_MODELS, can_reason
from cliproxy_gemini.code_assist.auth import PROVIDER, Account
from cliproxy_gemini.code_assist.options import read_options
from cliproxy_gemini.code_assist.translator import WIRE, Unwrapper, unwrap_body

__all__ = ["GeminiCLIProvider"]

log = logging.getLogger("cliproxy.gemini")

GEMINI = "gemini"
DEFAULT_QUOTA_REST = 60.0


async def _unwrapped(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    unwrapper = Unwrapper()
    async for chunk in chunks:
        data = unwrapper.feed(chunk)
        if data:
            yield data
    tail = unwrapper.close()
    if tail:
        yield tail


def as_gemini(response: UpstreamResponse) -> UpstreamResponse:
    """A Code Assist answer as the Gemini API's (for clients that speak Gemini)."""
    if response.chunks is not None:
        return UpstreamResponse(
            wire=GEMINI,
            status=response.status,
            headers=response.headers,
            chunks=_unwrapped(response.chunks),
            release=response.release,
        )
    return UpstreamResponse(
        wire=GEMINI,
        status=response.status,
        headers=response.headers,
        body=unwrap_body(response.body or b""),
    )


class GeminiCLIProvider(Provider):
    """Code Assist with OAuth token files."""

    name = PROVIDER
    config_keys = ("gemini-cli",)
    wire = WIRE

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        read_options(node, strict=True)  # report typos; token files hold the credentials
        return []

    def can_reason(self, credential: Credential, model: str) -> bool | None:
        return can_reason(model)

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return CODE_ASSIST_MODELS

    # -- calls ---------------------------------------------------------------------------

    async def send(self, call: Call) -> UpstreamResponse:
        account: Account = call.credential.settings
        quota = call.host.config.quota_exceeded
        if not quota.switch_project:
            wait = await self._resting(call, account, call.model)
            if wait:
                raise GatewayError(
                    status=429,
                    kind=ErrorKind.RATE_LIMITED,
                    message=f"the Google account behind {call.credential.label} is out of quota for {call.model}",
                    retry_after=wait,
                    provider=self.name,
                )
        try:
            return await self._generate(call, account, call.model)
        except GatewayError as error:
            if not _quota_error(error):
                raise
            if quota.switch_preview_model:
                preview = account.options.preview_for(call.model)
                if preview:
                    try:
                        answer = await self._generate(call, account, preview)
                    except GatewayError as again:
                        log.info(
                            "preview model %s did not help %s: %s",
                            preview,
                            call.credential.label,
                            again.message,
                        )
                    else:
                        log.info(
                            "%s is out of quota for %s; answered with %s",
                            call.credential.label,
                            call.model,
                            preview,
                        )
                        return answer
            if not quota.switch_project:
                await self._rest_account(call, account, call.model, error.retry_after)
            raise

    async def _post(
        self, call: Call, account: Account, url: str, body: dict[str, Any], model: str, stream: bool
    ) -> UpstreamResponse:
        """POST with the account's access token; after a 401, refresh it and try once more."""
        options = account.options
        tokens = call.host.tokens

        async def attempt(token: str) -> UpstreamResponse:
            headers = {
                "authorization": f"Bearer {token}",
                "user-agent": options.user_agent(model),
                **options.headers,
            }
            return await call.post(url, wire=WIRE, json=body, headers=headers, proxy=options.proxy_url, stream=stream)

        try:
            return await attempt(await tokens.access_token(call.credential))
        except GatewayError as error:
            if error.status != 401:
                raise
        return await attempt((await tokens.refresh(call.credential, force=True)).access_token)

    async def _generate(self, call: Call, account: Account, model: str) -> UpstreamResponse:
        method = "streamGenerateContent?alt=sse" if call.stream else "generateContent"
        body = {
            "model": model,
            "project": account.project,
            "user_prompt_id": uuid.uuid4().hex,
            "request": call.body_for(GEMINI),
        }
        url = f"{account.options.base_url}/v1internal:{method}"
        response = await self._post(call, account, url, body, model, call.stream)
        return as_gemini(response) if call.client.wire == GEMINI else response

    async def count_tokens(self, call: Call) -> int | None:
        account: Account = call.credential.settings
        if call.client.wire == GEMINI:
            body = call.client.body
            inner = body.get("generateContentRequest")
            contents = (inner if isinstance(inner, dict) else body).get("contents") or []
        else:
            contents = call.host.translator(GEMINI).encode_request(call.request, call.model)["contents"]
        request = {"request": {"model": f"models/{call.model}", "contents": contents}}
        url = f"{account.options.base_url}/v1internal:countTokens"
        answer = await self._post(call, account, url, request, call.model, False)
        return total_tokens(answer.body or b"")

    # -- quota ---------------------------------------------------------------------------

    @staticmethod
    def _quota_key(account: Account, model: str) -> str:
        return f"gemini-cli:quota:{account.account}:{model}"

    async def _resting(self, call: Call, account: Account, model: str) -> float:
        raw = await call.host.state.get_value(self._quota_key(account, model))
        if raw is None:
            return 0.0
        try:
            until = float(raw)
        except ValueError:
            return 0.0
        return max(0.0, until - call.host.clock())

    async def _rest_account(self, call: Call, account: Account, model: str, retry_after: float | None) -> None:
        wait = retry_after if retry_after is not None else DEFAULT_QUOTA_REST
        until = call.host.clock() + wait
        await call.host.state.set_value(self._quota_key(account, model), str(until).encode(), ttl=max(1.0, wait))


def _quota_error(error: GatewayError) -> bool:
    return error.status == 429 and error.upstream_type in (None, "RESOURCE_EXHAUSTED")

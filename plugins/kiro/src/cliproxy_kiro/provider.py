"""The Kiro provider: ``kiro:`` config entries, and calls to ``generateAssistantResponse``.

Every call asks Kiro for its event stream, whatever the client asked for; the gateway
folds the stream into a whole response for clients that want one.
"""

from __future__ import annotations

import hashlib
import json
import platform
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from cliproxy import (
    Call,
    ConfigNode,
    Credential,
    ErrorKind,
    GatewayError,
    Host,
    ModelEntry,
    Provider,
    TokenSet,
    UpstreamResponse,
    credential_id,
    estimate_request_tokens,
    mask_secret,
    read_common_fields,
)

from cliproxy_kiro.auth import KiroAuthType, auth_method, parse_time, tokens_from_file
from cliproxy_kiro.models import DEFAULT_MODELS
from cliproxy_kiro.request import build_request
from cliproxy_kiro.settings import DEFAULT_MAX_PAYLOAD_BYTES, KiroSettings, region_of
from cliproxy_kiro.stream import KiroStreamDecoder
from cliproxy_kiro.translator import WIRE

__all__ = ["KiroProvider"]

API_BASE = "https://q.{region}.amazonaws.com"
SDK_VERSION = "1.0.27"
KIRO_VERSION = "0.7.45"
NODE_VERSION = "22.21.1"


def _ide_headers(credential: Credential) -> dict[str, str]:
    """What the Kiro IDE sends with every call; the machine id is derived from the
    credential, so one account always looks like one machine."""
    machine = hashlib.sha256(credential.id.encode()).hexdigest()
    system = platform.system().lower() or "linux"
    return {
        "accept": "*/*",
        "x-amzn-codewhisperer-optout": "true",
        "x-amzn-kiro-agent-mode": "vibe",
        "amz-sdk-request": "attempt=1; max=3",
        "user-agent": (
            f"aws-sdk-js/{SDK_VERSION} ua/2.1 os/{system} lang/js md/nodejs#{NODE_VERSION} "
            f"api/codewhispererstreaming#{SDK_VERSION} m/E KiroIDE-{KIRO_VERSION}-{machine}"
        ),
        "x-amz-user-agent": f"aws-sdk-js/{SDK_VERSION} KiroIDE-{KIRO_VERSION}-{machine}",
    }


class KiroProvider(Provider):
    """``kiro:`` -- Kiro (AWS CodeWhisperer / Amazon Q) accounts.

    Each entry is one account: ``token-file`` (a Kiro IDE or cliproxy token file, written
    back on refresh), or ``access-token`` and/or ``refresh-token`` (with ``auth-method``
    ``social`` or ``idc``, and ``client-id``/``client-secret`` for ``idc``); plus
    ``profile-arn``, ``region``, ``prefix``, ``proxy-url``, ``models``,
    ``excluded-models``, ``priority``, ``weight``, ``headers``, ``base-url``,
    ``auth-url``, ``oidc-url``, ``max-payload-bytes``.
    """

    name = "kiro"
    config_keys = ("kiro",)
    wire = WIRE

    def __init__(self, auth_type: KiroAuthType | None = None) -> None:
        self.auth_type = auth_type or KiroAuthType()
        self._static_headers: dict[str, dict[str, str]] = {}

    # -- config --------------------------------------------------------------------------

    def load_config(self, key: str, node: ConfigNode, host: Host) -> Iterable[Credential]:
        credentials: list[Credential] = []
        for entry in node.nodes(key):
            loaded = self._entry(entry)
            if loaded is None:
                continue
            credential, tokens, path, file_data = loaded
            host.tokens.track(credential, tokens, self.auth_type, path=path, file_data=file_data)
            credentials.append(credential)
        return credentials

    def _entry(self, entry: ConfigNode) -> tuple[Credential, TokenSet, Path | None, dict[str, Any] | None] | None:
        """One ``kiro:`` entry: its credential, tokens, and the token file to write back."""
        fields = read_common_fields(entry, api_key=None, base_url="")
        token_file = entry.str("token-file") or None
        access = entry.str("access-token") or None
        refresh = entry.str("refresh-token") or None
        expires_at = entry.raw("expires-at")
        method = entry.str("auth-method", choices=("social", "idc", "builder-id"))
        overrides = {
            "profile_arn": entry.str("profile-arn") or None,
            "region": entry.str("region") or None,
            "client_id": entry.str("client-id") or None,
            "client_secret": entry.str("client-secret") or None,
            "auth_url": (entry.str("auth-url") or "").rstrip("/") or None,
            "oidc_url": (entry.str("oidc-url") or "").rstrip("/") or None,
        }
        max_payload = entry.int("max-payload-bytes", DEFAULT_MAX_PAYLOAD_BYTES, minimum=1024)
        disabled = entry.bool("disabled", False)
        entry.done()
        if disabled:
            return None
        path: Path | None = None
        file_data: dict[str, Any] | None = None
        if token_file:
            if access or refresh:
                raise entry.error("token-file", "give either 'token-file' or 'access-token'/'refresh-token', not both")
            path = Path(token_file).expanduser()
            file_data = self._read_token_file(entry, path)
            try:
                tokens = tokens_from_file(file_data, path)
            except ValueError as exc:
                raise entry.error("token-file", f"{path}: {exc}") from None
            identity = str(path)
        elif access or refresh:
            expires = parse_time(expires_at)
            if expires_at is not None and expires is None:
                raise entry.error(
                    "expires-at",
                    f"'{entry.qualified('expires-at')}' must be an ISO 8601 time such as 2026-01-31T12:00:00Z",
                )
            tokens = TokenSet(access_token=access or "", refresh_token=refresh, expires_at=expires if access else 0.0)
            identity = refresh or access or ""
        else:
            raise entry.error(
                None,
                f"'{entry.path}' needs 'token-file' or 'access-token'/'refresh-token'",
                hint="import the Kiro IDE's login with 'cliproxy login kiro --import', or point "
                "'token-file' at ~/.aws/sso/cache/kiro-auth-token.json",
            )
        tokens.extra["auth_method"] = auth_method(method or tokens.extra.get("auth_method"))
        tokens.extra.update({k: v for k, v in overrides.items() if v})
        if (
            tokens.extra["auth_method"] == "idc"
            and tokens.refresh_token
            and not (tokens.extra.get("client_id") and tokens.extra.get("client_secret"))
        ):
            raise entry.error(
                None,
                f"'{entry.path}' is an IdC (Builder ID) login and needs 'client-id' and 'client-secret' to refresh",
                hint="log in with 'cliproxy login kiro --builder-id', which stores them",
            )
        settings = KiroSettings(
            base_url=fields.base_url or None,
            region=tokens.extra.get("region"),
            profile_arn=tokens.extra.get("profile_arn"),
            headers=fields.headers,
            max_payload_bytes=max_payload,
        )
        credential = fields.credential(
            id=credential_id("kiro", identity),
            provider=self.name,
            label=f"kiro {path.name}" if path is not None else f"kiro {mask_secret(refresh or access)}",
            any_model=fields.prefix is not None and not fields.models,
            settings=settings,
            source=entry.location(),
        )
        return credential, tokens, path, file_data

    @staticmethod
    def _read_token_file(entry: ConfigNode, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise entry.error(
                "token-file",
                f"token file {path} does not exist",
                hint="sign in with the Kiro IDE, or run 'cliproxy login kiro'",
            ) from None
        except (OSError, ValueError) as exc:
            raise entry.error("token-file", f"cannot read token file {path}: {exc}") from None
        if not isinstance(data, dict):
            raise entry.error("token-file", f"token file {path} is not a JSON object")
        return data

    def default_models(self, credential: Credential) -> Sequence[ModelEntry]:
        return DEFAULT_MODELS

    # -- calls ---------------------------------------------------------------------------

    def endpoint(self, credential: Credential, tokens: TokenSet) -> str:
        settings: KiroSettings = credential.settings
        base = settings.base_url or tokens.extra.get("base_url")
        if not base:
            profile = tokens.extra.get("profile_arn") or settings.profile_arn
            region = region_of(profile) or settings.region or "us-east-1"
            base = API_BASE.format(region=region)
        return str(base).rstrip("/") + "/generateAssistantResponse"

    def headers(self, credential: Credential, access_token: str) -> dict[str, str]:
        """Request headers: the Kiro IDE's (worked out once per credential), the bearer
        token, a fresh invocation id, then the entry's own ``headers``."""
        static = self._static_headers.get(credential.id)
        if static is None:
            static = self._static_headers[credential.id] = _ide_headers(credential)
        headers = dict(static)
        headers["authorization"] = f"Bearer {access_token}"
        headers["amz-sdk-invocation-id"] = str(uuid.uuid4())
        settings: KiroSettings = credential.settings
        headers.update(settings.headers)
        return headers

    async def send(self, call: Call) -> UpstreamResponse:
        credential = call.credential
        settings: KiroSettings = credential.settings
        manager = call.host.tokens
        encoded = build_request(call.request, call.model)
        access = await manager.access_token(credential)
        tokens = manager.tokens(credential)
        body = encoded.body
        profile = tokens.extra.get("profile_arn") or settings.profile_arn
        if profile:
            body["profileArn"] = profile
        data = orjson.dumps(body)
        size = len(data) - encoded.image_bytes
        if size > settings.max_payload_bytes:
            raise GatewayError(
                status=413,
                kind=ErrorKind.REQUEST_TOO_LARGE,
                message=f"the conversation is {size} bytes (images aside), more than Kiro accepts "
                f"({settings.max_payload_bytes}); shorten the history, send fewer or smaller tool "
                "definitions, or start a new conversation",
                code="context_length_exceeded",
                provider=self.name,
            )
        url = self.endpoint(credential, tokens)
        try:
            response = await self._post(call, url, data, access)
        except GatewayError as error:
            if error.status not in (401, 403) or not tokens.refresh_token:
                raise
            fresh = await manager.refresh(credential, force=True)
            if fresh.extra.get("profile_arn") and fresh.extra["profile_arn"] != profile:
                body["profileArn"] = fresh.extra["profile_arn"]  # the refresh moved the account
                data = orjson.dumps(body)
            try:
                response = await self._post(call, url, data, fresh.access_token)
            except GatewayError as again:
                if again.status not in (401, 403):
                    raise
                raise GatewayError(
                    status=401,
                    kind=ErrorKind.AUTHENTICATION,
                    message=f"Kiro rejected {credential.label} even with a freshly refreshed token: {again.message}",
                    code="invalid_token",
                    provider=self.name,
                ) from None
        response.decoder = KiroStreamDecoder(
            tool_names=encoded.tool_names, input_tokens=estimate_request_tokens(call.request)
        )
        return response

    async def _post(self, call: Call, url: str, data: bytes, access_token: str) -> UpstreamResponse:
        headers = self.headers(call.credential, access_token)
        return await call.post(url, wire=WIRE, data=data, headers=headers, stream=True)

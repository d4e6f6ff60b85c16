"""What every credential is doing: health, cooldowns, last error, counts -- and resets.

:func:`status_snapshot` builds the document ``GET /v0/status`` serves and ``cliproxy
status`` prints; :func:`reset_cooldowns` clears rests an operator knows are stale (a quota
that reset early), for one credential or all. Credentials are shown by their masked label,
never by their secret.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from cliproxy.credentials import Credential
from cliproxy.errors import ErrorKind, GatewayError
from cliproxy.gateway import Gateway
from cliproxy.state.base import WHOLE, Cooldown
from cliproxy.state.daily import day_of

__all__ = ["credential_status", "find_credentials", "render_text", "reset_cooldowns", "status_snapshot"]


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cooldown(cooldown: Cooldown, now: float) -> dict[str, Any]:
    return {
        "until": _iso(cooldown.until),
        "seconds_left": round(cooldown.remaining(now), 1),
        "reason": cooldown.reason,
        "status": cooldown.status,
    }


def _quota(data: dict[str, Any]) -> dict[str, Any]:
    """A quota for the status document: times as ISO strings."""
    data["checked_at"] = _iso(data["checked_at"])
    for window in data["windows"]:
        if "resets_at" in window:
            window["resets_at"] = _iso(window["resets_at"])
    return data


async def status_snapshot(gateway: Gateway) -> dict[str, Any]:
    """The status document: the routing strategy (and session affinity), the state
    store, the config (file, when it was loaded, the last reload error), then one entry
    per credential.

    Each credential: ``id``, ``label`` (masked), ``provider``, ``group``, ``prefix``,
    ``priority``, ``weight``, ``state`` (``ok``, ``cooling`` -- some models rest --,
    ``unhealthy`` -- the whole credential rests --, or ``disabled`` -- named in
    ``disabled-credentials``, listed after the others), ``unhealthy`` (the credential-wide rest),
    ``cooldowns`` (per model), ``requests``, ``failures``, ``last_error``; with OAuth,
    ``token_expires``; where the provider reads it, ``quota`` (each window's use and
    reset, the plan, when it was read).

    Then ``clients``: per caller name (``key-1``..., ``anonymous``, a plugin's names;
    ``other`` past the cap), its requests counted once each however many upstream
    attempts they took, ``failures`` (the client got an error), tokens, and the estimated
    cost of this month so far (UTC; ``cost_usd_month`` None when nothing it used has a
    price, ``unpriced_requests_month`` counting the requests whose model has none).
    """
    now = gateway.clock()
    cooldowns = await gateway.state.cooldowns()
    usage = await gateway.state.usage()
    clients = await gateway.state.client_usage()
    today = day_of(now)
    costs = await gateway.ledger.client_costs(today[:8] + "01", today)
    credentials = [credential_status(gateway, cred, cooldowns, usage, now) for cred in gateway.credentials]
    credentials += [
        credential_status(gateway, cred, cooldowns, usage, now, disabled=True) for cred in gateway.snapshot.disabled
    ]
    routing = gateway.config.routing
    return {
        "time": _iso(now),
        "routing": {
            "strategy": routing.strategy,
            "session_affinity": routing.session_affinity,
            "session_ttl": routing.session_ttl if routing.session_affinity else None,
        },
        "state_store": dict(gateway.state.describe()),
        "config": gateway.reload_status.as_dict(watching=gateway.config.watch_config),
        "credentials": credentials,
        "clients": {
            name: {
                "requests": t.requests,
                "failures": t.failures,
                "input_tokens": t.input_tokens,
                "output_tokens": t.output_tokens,
                "cache_read_tokens": t.cache_read_tokens,
                "reasoning_tokens": t.reasoning_tokens,
                "cost_usd_month": costs.get(name, {}).get("cost_usd", 0.0),
                "unpriced_requests_month": costs.get(name, {}).get("unpriced_requests", 0),
            }
            for name, t in sorted(clients.items())
        },
    }


def credential_status(
    gateway: Gateway,
    cred: Credential,
    cooldowns: Mapping[str, Mapping[str, Cooldown]],
    usage: Mapping[str, Mapping[str, Any]],
    now: float,
    *,
    disabled: bool = False,
) -> dict[str, Any]:
    """One credential's entry of the status document (see :func:`status_snapshot`):
    ``cooldowns`` and ``usage`` as the state store reads them for every credential."""
    rests = cooldowns.get(cred.id, {})
    whole = rests.get(WHOLE)
    models = {model: _cooldown(cd, now) for model, cd in sorted(rests.items()) if model != WHOLE}
    totals = usage.get(cred.id, {})
    last = max(
        (t for t in totals.values() if t.last_error_at is not None),
        key=lambda t: t.last_error_at or 0.0,
        default=None,
    )
    state = "disabled" if disabled else "unhealthy" if whole is not None else "cooling" if models else "ok"
    entry: dict[str, Any] = {
        "id": cred.id,
        "label": cred.label,
        "provider": cred.provider,
        "group": cred.group,
        "prefix": cred.prefix,
        "priority": cred.priority,
        "weight": cred.weight,
        "state": state,
        "unhealthy": None if whole is None else _cooldown(whole, now),
        "cooldowns": models,
        "requests": sum(t.requests for t in totals.values()),
        "failures": sum(t.failures for t in totals.values()),
        "last_error": None
        if last is None or last.last_error_at is None
        else {"at": _iso(last.last_error_at), "message": last.last_error},
    }
    if cred in gateway.tokens:
        expires = gateway.tokens.tokens(cred).expires_at
        entry["token_expires"] = None if expires is None else _iso(expires)
    quota = gateway.quotas.get(cred.id)
    if quota is not None:
        entry["quota"] = _quota(quota.as_dict())
    return entry


def find_credentials(credentials: Iterable[Credential], name: str) -> list[Credential]:
    """Credentials named by id or label (exactly), or ``all``; 404 naming the known ones."""
    pool = list(credentials)
    if name == "all":
        return pool
    found = [c for c in pool if name in (c.id, c.label)]
    if found:
        return found
    known = ", ".join(f"'{c.label}' ({c.id})" for c in pool) or "none configured"
    raise GatewayError(
        status=404,
        kind=ErrorKind.NOT_FOUND,
        message=f"no credential '{name}'; name one by id or label (known: {known}), or 'all'",
    )


async def reset_cooldowns(gateway: Gateway, name: str, model: str | None = None) -> dict[str, Any]:
    """End the rests of the credentials ``name`` picks (see :func:`find_credentials`) --
    every model's, or only ``model``'s -- on every instance sharing the state store."""
    targets = find_credentials(gateway.credentials, name)
    cleared = 0
    for cred in targets:
        if model is None:
            cleared += await gateway.state.clear_cooldowns(cred.id)
        else:
            _, per_model = await gateway.state.get_cooldowns(cred.id, model)
            if per_model is not None:
                await gateway.state.clear_cooldown(cred.id, model)
                cleared += 1
    return {"cleared": cleared, "credentials": [c.id for c in targets], "model": model}


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 129600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def render_text(snapshot: Mapping[str, Any]) -> str:
    """``cliproxy status``'s table for a status document."""
    store = snapshot.get("state_store") or {}
    lines = []
    where = store.get("url") or "this process"
    health = "" if store.get("healthy", True) else "  (UNAVAILABLE: using local state)"
    lines.append(f"state store: {store.get('backend', '?')} ({where}){health}")
    loaded = snapshot.get("config")
    if loaded:  # (older gateways do not send it)
        lines.append(f"config: {loaded.get('file')}, loaded {loaded.get('loaded_at')}")
        failed = loaded.get("last_reload_error")
        if failed:
            lines.append(
                f"  LAST RELOAD FAILED at {failed['at']} (still serving the config above): {failed['message']}"
            )
    routing = snapshot.get("routing")
    if routing:  # (gateways older than session affinity do not send it)
        ttl = routing.get("session_ttl")
        sessions = f", session affinity for {ttl:g}s" if routing.get("session_affinity") and ttl else ""
        lines.append(f"routing: {routing.get('strategy', '?')}{sessions}")
    rows = [("CREDENTIAL", "PROVIDER", "PREFIX", "STATE", "REQUESTS", "FAILURES", "LAST ERROR")]
    details: dict[int, list[str]] = {}
    for i, cred in enumerate(snapshot.get("credentials") or ()):
        last = cred.get("last_error")
        rows.append(
            (
                str(cred.get("label")),
                str(cred.get("group") or cred.get("provider")),
                str(cred.get("prefix") or "-"),
                str(cred.get("state")),
                str(cred.get("requests", 0)),
                str(cred.get("failures", 0)),
                "-" if not last else str(last.get("message")),
            )
        )
        notes = []
        if cred.get("quota"):
            notes.append(_quota_line(cred["quota"]))
        whole = cred.get("unhealthy")
        if whole:
            notes.append(
                f"whole credential: resting {_ago(whole['seconds_left'])} (until {whole['until']}): {whole['reason']}"
            )
        for model, cd in (cred.get("cooldowns") or {}).items():
            notes.append(f"{model}: resting {_ago(cd['seconds_left'])} (until {cd['until']}): {cd['reason']}")
        quota = cred.get("quota")
        if quota:  # (older gateways, and providers that cannot tell, send none)
            notes.append(_quota_line(quota))
        details[i + 1] = notes
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1])
        lines.extend("    " + note for note in details.get(i, ()))
    clients = snapshot.get("clients")
    if clients:  # (older gateways do not send it)
        lines.append("")
        lines.extend(_table(_client_rows(clients)))
    return "\n".join(lines)


def _quota_line(quota: Mapping[str, Any]) -> str:
    """``quota (plus): 5h: 83% used, resets 2026-12-06 14:20Z; premium_interactions:
    120/300 requests left; ...`` -- one part per window, then the note."""
    parts = []
    for window in quota.get("windows") or ():
        left, limit, used = window.get("remaining"), window.get("limit"), window.get("used")
        unit = f" {window['unit']}" if window.get("unit") and window.get("unit") != "%" else ""
        if left is not None and limit is not None:
            amount = f"{left:g}/{limit:g}{unit} left"
        elif left is not None:
            amount = f"{left:g}{unit} left"
        elif used is not None and limit is not None:
            amount = f"{used:g} of {limit:g}{unit} used"
        elif window.get("used_percent") is not None:
            amount = f"{window['used_percent']:g}% used"
        elif used is not None:
            amount = f"{used:g}{unit} used"
        else:
            amount = "?"
        resets = window.get("resets_at")
        reset = f", resets {resets.replace('T', ' ')[:16]}Z" if isinstance(resets, str) else ""
        parts.append(f"{window.get('name', '?')}: {amount}{reset}")
    if quota.get("note"):
        parts.append(str(quota["note"]))
    plan = f" ({quota['plan']})" if quota.get("plan") else ""
    return f"quota{plan}: " + ("; ".join(parts) or "nothing metered")


def _client_rows(clients: Mapping[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        ("CLIENT", "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ", "REASONING", "COST (MONTH)")
    ]
    for name, c in clients.items():
        counts = ("requests", "failures", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")
        rows.append((str(name), *(str(c.get(field, 0)) for field in counts), format_cost(c)))
    return rows


def format_cost(
    entry: Mapping[str, Any], field: str = "cost_usd_month", unpriced: str = "unpriced_requests_month"
) -> str:
    """A cost for tables: ``$1.2345``; ``+?`` when some requests had no price; ``?`` when
    none had; ``-`` when the gateway did not say (older gateways)."""
    if field not in entry:
        return "-"
    cost = entry[field]
    missing = bool(entry.get(unpriced))
    if cost is None:
        return "?"
    return f"${cost:.4f}" + ("+?" if missing else "")


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]

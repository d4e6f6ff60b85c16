"""``cliproxy keys | credentials | config | login --remote | hash-key``: a running
gateway, driven through its management API (as ``cliproxy status`` reads ``/v0/status``).

Each command takes the options of :mod:`cliproxy.cli_gateway` (``--url``,
``--management-key``, ``--config``, ``--json``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cliproxy.cli_gateway import add_gateway_options, client_for, gateway_command, report
from cliproxy.key_policy import client_key_hash
from cliproxy.keyhash import hash_key
from cliproxy.management_client import ManagementClient, ManagementError, quoted

__all__ = ["add_management_commands", "remote_login"]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _table(rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("-" if cell is None else str(cell)) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _applied(answer: dict[str, Any]) -> str:
    reload = answer.get("reload") or {}
    parts = []
    kinds = (
        "credentials_added",
        "credentials_removed",
        "credentials_disabled",
        "credentials_enabled",
        "models_added",
        "models_removed",
        "settings_changed",
    )
    for what in kinds:
        if reload.get(what):
            parts.append(f"{what.replace('_', ' ')}: {', '.join(reload[what])}")
    if reload.get("needs_restart"):
        parts.append(f"needs a restart: {', '.join(reload['needs_restart'])}")
    return ("applied; " + "; ".join(parts)) if parts else "applied"


def _new_key() -> str:
    return "sk-" + secrets.token_urlsafe(24)


# -- keys ---------------------------------------------------------------------------------


def _keys(client: ManagementClient, args: argparse.Namespace) -> Any:
    action = args.action or "list"
    if action == "list":
        answer = client.get("/keys")
        if args.json:
            return _print_json(answer)
        if not answer["keys"]:
            print("no client keys: the gateway accepts requests from anyone who can reach it")
            return None
        rows = [("NAME", "ID", "KEY", "FROM ENV", "POLICY")]
        rows += [
            (k["name"], k["id"], k["masked"], "yes" if k["from_env"] else "", _policy_text(k.get("policy") or {}))
            for k in answer["keys"]
        ]
        return print(_table(rows))
    if action == "add":
        key = args.value or _new_key()
        answer = client.post("/keys", {"key": key, "force": args.force, **_policy_fields(args.set or ())})
        added = answer["edit"]["key"]
        shown = key if not args.value else added["masked"]
        return _print_json(answer) if args.json else print(f"added {added['name']} ({added['id']}): {shown}")
    if not args.ref:
        raise ManagementError(f"cliproxy keys {action} needs the key's name or id (cliproxy keys list)")
    if action == "limits":
        answer = client.get(f"/keys/{quoted(args.ref)}/limits")
        return _print_json(answer) if args.json else print(_limits_text(answer))
    if action == "remove":
        answer = client.delete(f"/keys/{quoted(args.ref)}", force="true" if args.force else None)
        gone = answer["edit"]["removed"]
        return _print_json(answer) if args.json else print(f"removed {gone['name']} ({gone['masked']})")
    if action == "edit":
        fields = _policy_fields(args.set or ())
        if not fields:
            raise ManagementError("cliproxy keys edit needs --set FIELD=VALUE (e.g. --set rpm=60, --set models=)")
        answer = client.patch(f"/keys/{quoted(args.ref)}", {"force": args.force, **fields})
        edited = answer["edit"]["key"]
        return _print_json(answer) if args.json else print(f"{edited['name']}: {_policy_text(edited['policy'])}")
    key = args.value or _new_key()
    answer = client.patch(f"/keys/{quoted(args.ref)}", {"key": key, "force": args.force})
    renamed = answer["edit"]["key"]
    shown = key if not args.value else renamed["masked"]
    return _print_json(answer) if args.json else print(f"{renamed['name']} is now {shown} (id {renamed['id']})")


def _limits_text(answer: dict[str, Any]) -> str:
    """A key's usage against its limits, as a table (or a line saying it has none)."""
    name = answer["key"]["name"]
    if not answer["limits"]:
        return f"{name} has no rates or budgets (rpm, tpm, max-parallel, daily-tokens, monthly-budget-usd)"
    rows = [("LIMIT", "USED", "OF", "REMAINING", "RESETS")]
    for limit, entry in answer["limits"].items():
        resets = entry.get("resets_at") or ("sliding 60 s" if "window_seconds" in entry else "")
        rows.append((limit, _number(entry["used"]), _number(entry["limit"]), _number(entry["remaining"]), resets))
    where = "shared by every instance" if answer.get("shared") else "this instance's"
    return f"{name} ({where} counts)\n{_table(rows)}"


def _number(value: float) -> str:
    return f"{value:,.4f}" if isinstance(value, float) else f"{value:,}"


def _policy_text(policy: dict[str, Any]) -> str:
    """A key's policy in one line: ``models=claude-*,team/ rpm=60``."""
    parts = []
    for field, value in policy.items():
        shown = ",".join(str(v) for v in value) if isinstance(value, list) else json.dumps(value).strip('"')
        parts.append(f"{field}={shown}")
    return " ".join(parts) or "-"


def _policy_fields(settings: Sequence[str]) -> dict[str, Any]:
    """``--set FIELD=VALUE`` options as policy fields (values read as YAML; empty: remove)."""
    fields: dict[str, Any] = {}
    for setting in settings:
        field, sep, text = setting.partition("=")
        if not sep or not field:
            raise ManagementError(f"--set takes FIELD=VALUE (e.g. rpm=60, models=[claude-*]), not '{setting}'")
        value = _parse_value(text) if text.strip() else None
        if isinstance(value, str) and value.lstrip().startswith("{"):  # metadata={owner: ana}
            from ruamel.yaml import YAML
            from ruamel.yaml.error import YAMLError

            try:
                parsed = YAML(typ="safe", pure=True).load(value)
            except YAMLError:
                parsed = None
            value = parsed if isinstance(parsed, dict) else value
        fields[field.strip()] = value
    return fields


# -- credentials --------------------------------------------------------------------------


def _quota_text(quota: dict[str, Any] | None) -> str:
    if not quota:
        return "-"
    parts = []
    for window in quota.get("windows") or ():
        left = window.get("remaining")
        percent = window.get("used_percent")
        shown = (
            f"{left:g} left" if isinstance(left, int | float) else f"{percent:g}% used" if percent is not None else ""
        )
        parts.append(f"{window['name']} {shown}".strip())
    return ", ".join(parts) or quota.get("note") or "-"


def _credentials(client: ManagementClient, args: argparse.Namespace) -> Any:
    action = args.action or "list"
    if action == "list":
        answer = client.get("/credentials")
        if args.json:
            return _print_json(answer)
        rows = [("CREDENTIAL", "ID", "PROVIDER", "STATE", "SOURCE", "REQUESTS", "QUOTA")]
        for cred in answer["credentials"]:
            source = cred["source"]
            rows.append(
                (
                    cred["label"],
                    cred["id"],
                    cred.get("group") or cred["provider"],
                    cred["state"],
                    source.get("file") or source.get("at"),
                    cred["requests"],
                    _quota_text(cred.get("quota")),
                )
            )
        return print(_table(rows))
    if action == "upload":
        if not args.ref:
            raise ManagementError("cliproxy credentials upload needs the token file to upload")
        path = Path(args.ref)
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ManagementError(f"cannot read {path} as JSON: {exc}") from None
        body = {"content": content, "name": args.name or path.name, "replace": args.replace}
        answer = client.post("/credentials", body)
        if args.json:
            return _print_json(answer)
        labels = ", ".join(c["label"] for c in answer["credentials"]) or "no credential"
        return print(f"uploaded {answer['file']}: {labels}")
    if not args.ref:
        raise ManagementError(f"cliproxy credentials {action} needs a credential's id or label")
    base = f"/credentials/{quoted(args.ref)}"
    if action in ("enable", "disable"):
        answer = client.post(f"{base}/{action}", {"force": args.force})
        if args.json:
            return _print_json(answer)
        cred = answer["credential"]
        changed = answer["edit"]["changed"]
        return print(f"{cred['label']} ({cred['id']}): {action}d" + ("" if changed else " already"))
    if action == "test":
        answer = client.post(f"{base}/test", {"model": args.model} if args.model else {})
        if args.json:
            _print_json(answer)
        else:
            how = f"model list ({answer.get('models')} models)" if answer["method"] == "models" else answer.get("model")
            verdict = "OK" if answer["ok"] else f"FAILED ({answer.get('status') or '-'}): {answer.get('message')}"
            print(f"{answer['label']}: {verdict} -- {how}, {answer.get('latency_ms')} ms")
        return 0 if answer["ok"] else 1
    if action == "reset":
        answer = client.post(f"{base}/reset", {"model": args.model} if args.model else {})
        return _print_json(answer) if args.json else print(f"cleared {answer['cleared']} cooldown(s)")
    if action == "quota":
        answer = client.post(f"{base}/quota/refresh") if args.refresh else client.get(f"{base}/quota")
        if args.json:
            return _print_json(answer)
        if not answer["supported"]:
            return print("its provider does not report quotas")
        return print(_quota_text(answer["quota"]) if answer["quota"] else "not read yet (--refresh reads it now)")
    if action == "delete":
        answer = client.delete(base)
        if args.json:
            return _print_json(answer)
        return print(f"deleted {answer['file']}: " + ", ".join(c["label"] for c in answer["removed"]))
    raise ManagementError(f"unknown action {action!r}")


# -- config -------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    """A command-line value read as YAML: ``3`` is a number, ``true`` a boolean, ``[a, b]``
    a list; anything else stays text."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        value = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool | list) and value is not None else text


def _print_config_error(error: ManagementError) -> None:
    detail = error.error
    print(f"error: {detail.get('message') or error}", file=sys.stderr)


def _config(client: ManagementClient, args: argparse.Namespace) -> Any:
    action = args.action or "show"
    if action == "show":
        if args.json:
            return _print_json(client.get("/config"))
        return print(client.get("/config.yaml")["yaml"], end="")
    if action == "reload":
        answer = client.post("/config/reload", {"force": args.force})
        return _print_json(answer) if args.json else print(_applied(answer))
    if action in ("check", "replace"):
        if not args.name:
            raise ManagementError(f"cliproxy config {action} needs a YAML file")
        text = Path(args.name).read_text(encoding="utf-8")
        try:
            if action == "check":
                answer = client.post("/config/check", {"yaml": text})
            else:
                answer = client.put("/config.yaml", {"yaml": text, "force": args.force})
        except ManagementError as error:
            if error.status != 422:
                raise
            _print_config_error(error)
            return 2
        if args.json:
            return _print_json(answer)
        if action == "check":
            return print(f"{args.name}: OK ({answer['credentials']} credentials, {len(answer['models'])} models)")
        return print(_applied(answer))
    if not args.name:
        raise ManagementError(f"cliproxy config {action} needs a setting name, e.g. routing.strategy")
    path = f"/config/settings/{quoted(args.name)}"
    try:
        if action == "get":
            answer = client.get(path)
            return _print_json(answer) if args.json else print(json.dumps(answer["value"]))
        if action == "set":
            if args.value is None:
                raise ManagementError("cliproxy config set needs a value")
            answer = client.put(path, {"value": _parse_value(args.value), "force": args.force})
        else:
            answer = client.delete(path, force="true" if args.force else None)
    except ManagementError as error:
        if error.status != 422:
            raise
        _print_config_error(error)
        return 2
    return _print_json(answer) if args.json else print(f"{args.name}: {_applied(answer)}")


# -- hash-key -----------------------------------------------------------------------------


def _hash_key(args: argparse.Namespace) -> int:
    key = args.key
    if key is None:
        if sys.stdin.isatty():
            key = getpass.getpass("management key: ")
            if getpass.getpass("again: ") != key:
                print("error: the two keys differ", file=sys.stderr)
                return 1
        else:
            key = sys.stdin.readline().rstrip("\n")
    if not key:
        print("error: no key given", file=sys.stderr)
        return 1
    print(client_key_hash(key) if args.client else hash_key(key))
    return 0


# -- login --remote -----------------------------------------------------------------------


def _show_challenge(challenge: dict[str, Any]) -> None:
    if challenge["kind"] == "device_code":
        print(f"Open {challenge['url']} and enter the code {challenge['user_code']}")
        if challenge.get("url_complete"):
            print(f"  (or open {challenge['url_complete']})")
    else:
        print(f"{challenge.get('hint') or 'Sign in'}:\n\n  {challenge['url']}\n")
    sys.stdout.flush()


def _options(extra: Sequence[str], pairs: Sequence[str]) -> dict[str, Any]:
    """Flow flags (``--idp github``, ``--builder-id``) and ``--option NAME=VALUE`` as the
    API's ``options``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ManagementError(f"--option takes NAME=VALUE, not {pair!r}")
        options[name] = value
    index = 0
    while index < len(extra):
        word = extra[index]
        if not word.startswith("--"):
            raise ManagementError(f"unexpected argument {word!r}: login options are written --name value")
        name, sep, value = word[2:].partition("=")
        if sep:
            options[name] = value
        elif index + 1 < len(extra) and not extra[index + 1].startswith("--"):
            options[name] = extra[index + 1]
            index += 1
        else:
            options[name] = True
        index += 1
    options.pop("no-browser", None)  # the gateway never opens a browser
    return options


def remote_login(argv: Sequence[str]) -> int:
    """``cliproxy login --remote PROVIDER [flow flags]``: sign in through a running gateway."""
    parser = argparse.ArgumentParser(
        prog="cliproxy login --remote",
        description="Sign in to PROVIDER through a running gateway: it runs the login, this prints the address or "
        "code and takes the pasted redirect; the new credential is live at once.",
    )
    parser.add_argument("--remote", metavar="PROVIDER", required=True, help="the provider to sign in to")
    add_gateway_options(parser)
    parser.add_argument(
        "--option", action="append", default=[], metavar="NAME=VALUE", help="a login option (also: --name value)"
    )
    args, extra = parser.parse_known_args(list(argv))
    try:
        return _drive_login(client_for(args), args, _options(extra, args.option))
    except ManagementError as error:
        return report(error)


def _drive_login(client: ManagementClient, args: argparse.Namespace, options: dict[str, Any]) -> int:
    session = client.post(f"/oauth/{quoted(args.remote)}", {"options": options})["session"]
    shown: dict[str, Any] | None = None
    pasting = True
    try:
        while session["state"] not in ("succeeded", "failed"):
            if session.get("challenge") and session["challenge"] != shown:
                shown = session["challenge"]
                _show_challenge(shown)
            path = f"/oauth/sessions/{quoted(session['id'])}"
            if session.get("awaiting_redirect") and pasting:
                try:
                    text = input("Paste the address your browser ended on (or the code it shows): ").strip()
                except EOFError:
                    pasting, text = False, ""
                if text:
                    try:
                        session = client.post(path + "/callback", {"redirect_url": text, "wait": 30})["session"]
                    except ManagementError as error:
                        if error.status != 400:
                            raise
                        print(f"not accepted: {error.error.get('message') or error}", file=sys.stderr)
                    continue
            session = client.get(path, wait=25)["session"]
    except KeyboardInterrupt:
        client.delete(f"/oauth/sessions/{quoted(session['id'])}")
        print("\ncancelled", file=sys.stderr)
        return 130
    if args.json:
        _print_json({"session": session})
    if session["state"] == "failed":
        print(f"error: the sign-in failed: {session['error']['message']}", file=sys.stderr)
        return 1
    if not args.json:
        creds = ", ".join(f"{c['label']} ({c['id']})" for c in session.get("credentials") or ()) or "no credential"
        print(f"signed in: {session['file']} -- serving {creds}")
        if session.get("warning"):
            print(f"warning: {session['warning']}", file=sys.stderr)
    return 0


# -- wiring -------------------------------------------------------------------------------


def add_management_commands(sub: Any) -> None:
    """Add ``keys``, ``credentials``, ``config`` and ``hash-key`` to ``cliproxy``'s parser."""
    keys = sub.add_parser(
        "keys",
        help="list, add, remove, rename or edit client keys (api-keys), or see one's usage of its limits, on a running gateway",
    )
    keys.add_argument(
        "action", nargs="?", choices=("list", "add", "remove", "rename", "edit", "limits"), help="default: list"
    )
    keys.add_argument(
        "ref", nargs="?", help="add: the key (default: a new random one); remove/rename/edit/limits: name or id"
    )
    keys.add_argument("value", nargs="?", help="rename: the new key (default: a new random one)")
    keys.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="add/edit: a policy field (name, models, rpm, tpm, max-parallel, daily-tokens, monthly-budget-usd, "
        "expires), value as YAML: --set 'models=[claude-*]' --set rpm=60; empty removes it",
    )
    keys.add_argument("--force", action="store_true", help="apply even if it empties api-keys")
    add_gateway_options(keys)
    keys.set_defaults(handler=gateway_command(_keys_args))

    creds = sub.add_parser(
        "credentials", help="list, enable, disable, test, upload, delete or reset credentials on a running gateway"
    )
    creds.add_argument(
        "action",
        nargs="?",
        choices=("list", "enable", "disable", "test", "upload", "delete", "reset", "quota"),
        help="default: list",
    )
    creds.add_argument("ref", nargs="?", help="a credential's id or label (upload: the token file)")
    creds.add_argument("--model", help="test: the model to try; reset: only this model's cooldown")
    creds.add_argument("--name", help="upload: the file name in auth-dir (default: the file's own)")
    creds.add_argument("--replace", action="store_true", help="upload: overwrite a token file of that name")
    creds.add_argument("--refresh", action="store_true", help="quota: read it from the upstream now")
    creds.add_argument("--force", action="store_true", help="disable: even the last serving credential")
    add_gateway_options(creds)
    creds.set_defaults(handler=gateway_command(_credentials))

    config = sub.add_parser("config", help="show, check or change the config of a running gateway")
    config.add_argument(
        "action",
        nargs="?",
        choices=("show", "check", "replace", "get", "set", "unset", "reload"),
        help="default: show",
    )
    config.add_argument("name", nargs="?", help="check/replace: a YAML file; get/set/unset: a setting (a.b.c)")
    config.add_argument("value", nargs="?", help="set: the value, read as YAML (3, true, fill-first, [a, b])")
    config.add_argument("--force", action="store_true", help="apply even if it leaves no credential or no api-keys")
    add_gateway_options(config)
    config.set_defaults(handler=gateway_command(_config))

    hashing = sub.add_parser("hash-key", help="print the hash of a management key, for remote-management.secret-key")
    hashing.add_argument("key", nargs="?", help="the key (default: asked for, or read from stdin)")
    hashing.add_argument(
        "--client", action="store_true", help="hash a client key for api-keys (sha256:...), not the management key"
    )
    hashing.set_defaults(handler=_hash_key)


def _keys_args(client: ManagementClient, args: argparse.Namespace) -> Any:
    if args.action == "add":  # `keys add KEY`: the key is the first word after the action
        args.value, args.ref = args.ref, None
    return _keys(client, args)

"""``cliproxy logs``: the end of a running gateway's own log (``logging.file``), and the
requests it kept (``/v0/management/logs``), printed by their ``x-request-id``. Options as
for every command that drives a gateway (:mod:`cliproxy.cli_gateway`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from cliproxy.cli_gateway import add_gateway_options, gateway_command
from cliproxy.management_client import ManagementClient, quoted

__all__ = ["add_logs_command", "render_record"]

_FOLLOW_EVERY = 1.0  # seconds between polls of a followed log


def add_logs_command(sub: Any) -> None:
    """Register ``cliproxy logs`` on the command parser's subparsers."""
    parser = sub.add_parser(
        "logs",
        help="print the gateway's log (logging.file), or a kept request by its x-request-id",
        description="Without REQUEST_ID: the last lines of the gateway's log file (-f to follow). With one: "
        "the request the gateway kept under that x-request-id -- what the client sent, each upstream "
        "attempt and the answer (request-log: true keeps every request; failed ones are kept anyway).",
    )
    add_gateway_options(parser)
    parser.add_argument("request_id", nargs="?", metavar="REQUEST_ID", help="a kept request's x-request-id")
    parser.add_argument("-n", "--lines", type=int, default=200, help="lines of the log to print (default 200)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing the log's new lines")
    parser.add_argument("--list", action="store_true", help="list the kept requests, newest first")
    parser.add_argument("--limit", type=int, default=50, help="with --list: how many (default 50)")
    parser.add_argument("--delete", action="store_true", help="delete the kept request REQUEST_ID ('all': every one)")
    parser.set_defaults(handler=gateway_command(run_logs))


def run_logs(client: ManagementClient, args: argparse.Namespace) -> int:
    if args.delete:
        if not args.request_id:
            print("error: --delete needs a REQUEST_ID, or 'all'", file=sys.stderr)
            return 2
        path = "/logs" if args.request_id == "all" else f"/logs/{quoted(args.request_id)}"
        print(f"deleted {client.delete(path)['deleted']} file(s)")
        return 0
    if args.list:
        listing = client.get("/logs", limit=args.limit)
        print(json.dumps(listing, indent=2) if args.json else _render_list(listing))
        return 0
    if args.request_id:
        record = client.get(f"/logs/{quoted(args.request_id)}")
        print(json.dumps(record, indent=2) if args.json else render_record(record))
        return 0
    return _print_app_log(client, args)


def _print_app_log(client: ManagementClient, args: argparse.Namespace) -> int:
    answer = client.get("/app-log", lines=args.lines)
    if args.json and not args.follow:
        print(json.dumps(answer, indent=2))
        return 0
    for line in answer["lines"]:
        print(line)
    offset = answer["offset"]
    while args.follow:
        sys.stdout.flush()
        time.sleep(_FOLLOW_EVERY)
        answer = client.get("/app-log", after=offset)
        for line in answer["lines"]:
            print(line)
        offset = answer["offset"]
    return 0


def _render_list(listing: Mapping[str, Any]) -> str:
    lines = [
        f"{listing.get('count', 0)} kept request(s) in {listing.get('dir')}, {listing.get('total_bytes', 0)} bytes "
        f"(limit {listing.get('max_total_mb')} MB); request-log is {'on' if listing.get('request_log') else 'off'} "
        f"(failed requests kept: at most {listing.get('error_logs_max_files')})"
    ]
    writer = listing.get("writer") or {}
    if writer.get("dropped") or writer.get("write_errors"):
        lines.append(f"  not written: {writer.get('dropped', 0)} dropped, {writer.get('write_errors', 0)} write errors")
    for entry in listing.get("logs") or ():
        lines.append(f"{entry['time']}  {entry['kind']:<7}  {entry['bytes']:>9}  {entry['id']}")
    return "\n".join(lines)


def render_record(record: Mapping[str, Any]) -> str:
    """A kept request for people: what happened, then each part with its headers and body."""
    served = record.get("served_by") or {}
    lines = [
        f"request {record.get('id')}  {record.get('time')}  {record.get('door')}  client {record.get('client')}",
        f"  model {record.get('model')} -> status {record.get('status')} in {record.get('duration_ms')} ms"
        + (
            f", served by {served.get('provider')} [{served.get('credential')}] {served.get('model')}" if served else ""
        ),
    ]
    if record.get("error"):
        lines.append(f"  error: {record['error']}")
    usage = record.get("usage")
    if usage:
        lines.append("  usage: " + ", ".join(f"{k} {v}" for k, v in usage.items() if v is not None))
    for failure in record.get("failed_attempts") or ():
        lines.append(
            f"  failed attempt: {failure['provider']} [{failure['credential']}] {failure['model']}: "
            f"{failure['status']} {failure['error']}"
        )
    request = record.get("request") or {}
    query = f"?{request['query']}" if request.get("query") else ""
    lines += ["", f"== client request: {request.get('method')} {request.get('path')}{query}"]
    lines += _part(request)
    for n, attempt in enumerate(record.get("attempts") or (), 1):
        lines += ["", f"== upstream attempt {n}: POST {attempt.get('url')} at {attempt.get('started_ms')} ms"]
        lines += _part(attempt.get("request") or {})
        lines.append(
            f"-- answered {attempt.get('status')}" + (f", error: {attempt['error']}" if attempt.get("error") else "")
        )
        lines += _part(attempt.get("response") or {})
    response = record.get("response") or {}
    lines += ["", f"== response to the client: {response.get('status')}"]
    if "error" in response and "headers" not in response:
        lines.append(f"   {response.get('error')}")
    else:
        lines += _part(response)
    return "\n".join(lines)


def _part(part: Mapping[str, Any]) -> list[str]:
    lines = [f"{name}: {value}" for name, value in (part.get("headers") or {}).items()]
    cut = "; only the first part was kept" if part.get("cut") else ""
    if "chunks" in part:
        lines.append(f"[{len(part['chunks'])} chunks, {part.get('bytes')} bytes{cut}]")
        lines += [f"+{at} ms | {text}" for at, text in part["chunks"]]
    elif part.get("body"):
        lines += ["", str(part["body"])]
        if cut:
            lines.append(f"[{part.get('bytes')} bytes{cut}]")
    return lines

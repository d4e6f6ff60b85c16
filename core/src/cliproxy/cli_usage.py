"""``cliproxy usage``: what each client key used, per credential, model and day, from a
running gateway (``/v0/management/usage``); ``--export`` and ``--import`` move it.
Options as for every command that drives a gateway (:mod:`cliproxy.cli_gateway`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cliproxy.cli_gateway import add_gateway_options, gateway_command
from cliproxy.management_client import ManagementClient
from cliproxy.status import format_cost

__all__ = ["add_usage_command", "render_usage"]

_GROUP_COLUMNS = {"day": "DAY", "client": "CLIENT", "credential": "CREDENTIAL", "model": "MODEL"}
_ORDER = ("day", "client", "credential", "model")
_COUNTS = (
    ("REQUESTS", "requests"),
    ("FAILURES", "failures"),
    ("INPUT", "input_tokens"),
    ("OUTPUT", "output_tokens"),
    ("CACHE READ", "cache_read_tokens"),
    ("CACHE WRITE", "cache_write_tokens"),
    ("REASONING", "reasoning_tokens"),
)


def add_usage_command(sub: Any) -> None:
    """Register ``cliproxy usage`` on the command parser's subparsers."""
    parser = sub.add_parser(
        "usage", help="show what each client key used, per credential, model and day, with its estimated cost"
    )
    add_gateway_options(parser)
    parser.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first day (UTC; default: 30 days ago)")
    parser.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last day (UTC; default: today)")
    parser.add_argument(
        "--by",
        default="client,credential,model,day",
        help="group rows by some of client, credential, model, day (default: all; '' for the total only)",
    )
    parser.add_argument("--export", metavar="FILE", help="write the usage of the days asked (default: all) to FILE")
    parser.add_argument("--import", dest="import_file", metavar="FILE", help="add the usage FILE holds (an export)")
    parser.add_argument("--again", action="store_true", help="with --import: import a file imported before")
    parser.set_defaults(handler=gateway_command(run_usage))


def run_usage(client: ManagementClient, args: argparse.Namespace) -> int:
    if args.import_file:
        try:
            document = json.loads(Path(args.import_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"error: cannot read {args.import_file} as JSON: {error}", file=sys.stderr)
            return 1
        result = client.post("/usage/import", document, again="true" if args.again else None)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            skipped = result["skipped_rows"]
            print(
                f"imported {result['imported_rows']} row(s) of {len(result['days'])} day(s)"
                + (f"; skipped {skipped} older than {result['oldest_kept_day']}" if skipped else "")
            )
        return 0
    if args.export:
        document = client.get("/usage/export", **{"from": args.first, "to": args.last})
        try:
            Path(args.export).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {args.export}: {error}", file=sys.stderr)
            return 1
        print(f"wrote {len(document['rows'])} row(s) to {args.export}")
        return 0
    report = client.get("/usage", **{"from": args.first, "to": args.last, "by": args.by})
    print(json.dumps(report, indent=2) if args.json else render_usage(report))
    return 0


def render_usage(report: Mapping[str, Any]) -> str:
    """The usage report as a table: the group columns asked for, counts, cost; then the total."""
    groups = [name for name in _ORDER if name in (report.get("by") or ())]
    header = (*(_GROUP_COLUMNS[name] for name in groups), *(title for title, _ in _COUNTS), "COST")
    rows: list[Sequence[str]] = [header]
    for entry in report.get("rows") or ():
        cells = [_group_cell(entry, name) for name in groups]
        rows.append((*cells, *(str(entry.get(field, 0)) for _, field in _COUNTS), _cost(entry)))
    total = report.get("total") or {}
    label = ["TOTAL", *[""] * (len(groups) - 1)] if groups else []
    rows.append((*label, *(str(total.get(field, 0)) for _, field in _COUNTS), _cost(total)))
    widths = [max(len(row[c]) for row in rows) for c in range(len(header))]
    lines = [f"usage {report.get('from')} .. {report.get('to')} (UTC), state store: {report.get('state_store', '?')}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if total.get("unpriced_requests"):
        lines.append(
            f"{total['unpriced_requests']} request(s) used models without a price ('?'): add them to 'pricing:' "
            "in the config"
        )
    return "\n".join(lines)


def _group_cell(entry: Mapping[str, Any], name: str) -> str:
    if name == "credential":
        return str(entry.get("credential_label") or entry.get("credential"))
    return str(entry.get(name))


def _cost(entry: Mapping[str, Any]) -> str:
    return format_cost(entry, "cost_usd", "unpriced_requests")

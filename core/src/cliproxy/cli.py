"""The ``cliproxy`` command: serve, check, models, plugins, login, and plugin commands."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cliproxy.app import create_app
from cliproxy.app_log import configure_logging
from cliproxy.asgi import server_header_limit
from cliproxy.cli_gateway import add_gateway_options, gateway_command
from cliproxy.cli_logs import add_logs_command
from cliproxy.cli_management import add_management_commands, remote_login
from cliproxy.cli_usage import add_usage_command
from cliproxy.commands import LoginContext
from cliproxy.config import Config, ConfigError, load_config
from cliproxy.errors import GatewayError
from cliproxy.gateway import Gateway
from cliproxy.gctune import tune_for_serving
from cliproxy.init_choice import InitChoice
from cliproxy.init_wizard import add_init_command
from cliproxy.logs import setup_logging
from cliproxy.management_client import ManagementClient
from cliproxy.plugins import PluginError, Plugins
from cliproxy.servers import (
    SERVERS,
    ServeOptions,
    bind,
    default_server,
    installed,
    raise_fd_limit,
    run_loop,
    serve_until_signalled,
)
from cliproxy.status import render_text
from cliproxy.workers import run_workers

__all__ = ["main"]

log = logging.getLogger("cliproxy.cli")

BUILTIN_COMMANDS = (
    "serve",
    "check",
    "models",
    "plugins",
    "login",
    "status",
    "keys",
    "credentials",
    "config",
    "hash-key",
    "usage",
    "logs",
    "init",
)


def _config_path(value: str | None) -> str:
    if value:
        return value
    env = os.environ.get("CLIPROXY_CONFIG")
    if env:
        return env
    return "config.yaml"


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", help="path to config.yaml (default: $CLIPROXY_CONFIG or ./config.yaml)")
    parser.add_argument(
        "--strict-plugins", action="store_true", help="fail instead of skipping a plugin that does not load"
    )


def _build(args: argparse.Namespace) -> Any:
    """A gateway built from the command line's config, without serving it."""

    config = load_config(_config_path(args.config))
    return Gateway.build(config, Plugins.load(strict=args.strict_plugins))


# -- serve ---------------------------------------------------------------------------------


def _server_name(config: Config, args: argparse.Namespace) -> str:
    """``--server``, else the config's ``server:``, else the fastest one installed."""
    name = args.server or config.server
    if name is None:
        return default_server()
    if not installed(name):
        why = f"the {name} server is not installed"
        hint = "install it with the speed extra (pip install 'cliproxy[speed]'), or choose hypercorn"
        if args.server:
            raise ConfigError(file="command line", message=f"--server {name}: {why}", hint=hint)
        raise config.root.error("server", f"'server' is {name}, but {why}", hint=hint)
    return name


def _serve_options(config: Config, args: argparse.Namespace) -> ServeOptions:
    cert, key = args.tls_cert, args.tls_key
    if (cert is None) != (key is None):
        raise ConfigError(
            file="command line", message="--tls-cert and --tls-key go together", hint="give both, or neither"
        )
    if cert is None and config.tls is not None:
        cert, key = config.tls.cert, config.tls.key
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not Path(path).is_file():
            raise ConfigError(
                file="command line", message=f"{flag} {path}: no such file", hint="give the PEM file's path"
            )
    return ServeOptions(
        graceful_timeout=float(args.graceful_timeout),
        header_limit=server_header_limit(config),
        tls_cert=cert,
        tls_key=key,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    path = _config_path(args.config)
    config = load_config(path)
    server = _server_name(config, args)
    options = _serve_options(config, args)
    level = args.log_level if getattr(args, "log_level_given", True) else None  # else logging.level may set it
    raise_fd_limit()
    host = args.host or config.host
    port = args.port if args.port is not None else config.port
    try:
        sock = bind(host, port)
    except OSError as error:
        print(f"error: cannot listen on {host}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    if args.workers > 1:
        _build(args)  # report config and plugin errors once, before starting workers
        os.environ["CLIPROXY_CONFIG"] = str(Path(path).resolve())
        os.environ["CLIPROXY_STRICT_PLUGINS"] = "1" if args.strict_plugins else "0"
        os.environ["CLIPROXY_LOG_LEVEL"] = str(level or config.logging.level or args.log_level)  # as the parent
        return run_workers(server, options, sock, args.workers)

    configure_logging(config.logging, level=level)
    app = create_app(config, strict_plugins=args.strict_plugins, reload_on_sighup=True)
    tune_for_serving()
    run_loop(serve_until_signalled(app, server, options, sock))
    return 0


# -- check / models / plugins -----------------------------------------------------------


def _cmd_check(args: argparse.Namespace) -> int:
    gateway = _build(args)
    models = gateway.router.models()
    print(f"{gateway.config.file}: OK")
    print(f"  providers:   {', '.join(sorted(gateway.providers)) or '(none)'}")
    print(f"  credentials: {len(gateway.credentials)}")
    print(f"  models:      {len(models)} listed" + _any_note(gateway))
    for message in gateway.router.ambiguities:
        print(f"  warning: {message}")
    return 0


def _any_note(gateway: Any) -> str:
    prefixes = sorted({c.prefix for c in gateway.credentials if c.any_model and c.prefix})
    if not prefixes:
        return ""
    return " (plus any model under " + ", ".join(f"{p}/" for p in prefixes) + ")"


def _cmd_models(args: argparse.Namespace) -> int:
    gateway = _build(args)
    for model in gateway.listed_models():
        print(f"{model.id}\t{model.owned_by}")
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:

    plugins = Plugins.load(strict=False)
    print(f"{'name':<20} {'distribution':<22} {'version':<10} {'status':<8} hooks")
    for info in plugins.infos.values():
        dist = info.distribution or ("cliproxy (built in)" if info.builtin else "-")
        line = f"{info.name:<20} {dist:<22} {info.version or '-':<10} {info.status:<8} {', '.join(info.hooks) or '-'}"
        print(line)
        if info.error:
            print(f"{'':<20} error: {info.error}")
    return 0


# -- status ------------------------------------------------------------------------------


def _cmd_status(client: ManagementClient, args: argparse.Namespace) -> int:
    if args.reset is not None:
        result = client.reset_cooldowns(args.reset, args.model)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"cleared {result['cleared']} cooldown(s) of {len(result['credentials'])} credential(s)")
        return 0
    snapshot = client.status()
    print(json.dumps(snapshot, indent=2) if args.json else render_text(snapshot))
    return 0


# -- login --------------------------------------------------------------------------------


def _login_parsers(sub: Any, flows: dict[str, Any]) -> None:
    login = sub.add_parser("login", help="sign in to an OAuth provider and save its token in auth-dir")
    login.add_argument(  # read by main() before this parser runs: the provider may be installed only remotely
        "--remote",
        metavar="PROVIDER",
        help="sign in through a running gateway (its management API) instead of here: "
        "cliproxy login --remote PROVIDER [--url URL] [flow options]",
    )
    providers = login.add_subparsers(dest="provider", metavar="PROVIDER")
    providers.required = True
    for name, flow in sorted(flows.items()):
        parser = providers.add_parser(name, help=flow.help)
        _add_config(parser)
        parser.add_argument(
            "--no-browser", action="store_true", help="print the login URL instead of opening a browser"
        )
        if flow.add_arguments is not None:
            flow.add_arguments(parser)
        parser.set_defaults(login_flow=flow)


def _cmd_login(args: argparse.Namespace) -> int:

    path = _config_path(args.config)
    config = load_config(path) if Path(path).exists() else load_config({})
    context = LoginContext(
        config=config,
        auth_dir=str(Path(config.auth_dir).expanduser()),
        no_browser=args.no_browser,
        echo=print,
        prompt=input,
    )
    written = asyncio.run(args.login_flow.run(args, context))
    print(f"saved credentials to {written}")
    return 0


# -- main ---------------------------------------------------------------------------------


def _parser(
    commands: dict[str, Any], flows: dict[str, Any], choices: Sequence[InitChoice] = ()
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cliproxy", description="A pluggable LLM gateway.")
    parser.add_argument(
        "--log-level", default=os.environ.get("CLIPROXY_LOG_LEVEL", "info"), help="debug, info, warning, error"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    serve = sub.add_parser("serve", help="run the gateway")
    _add_config(serve)
    serve.add_argument("--host", help="interface to bind (default: the config's host)")
    serve.add_argument("--port", type=int, help="port to bind (default: the config's port, 8317)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--graceful-timeout", type=float, default=60.0, help="seconds to let streams finish on SIGTERM")
    serve.add_argument(
        "--server",
        choices=SERVERS,
        help="the HTTP server (default: the config's server:, else the fastest installed: uvicorn, granian, hypercorn)",
    )
    serve.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain (with --tls-key)")
    serve.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (with --tls-cert)")
    serve.set_defaults(handler=_cmd_serve)

    check = sub.add_parser("check", help="validate the config and plugins without serving")
    _add_config(check)
    check.set_defaults(handler=_cmd_check)

    models = sub.add_parser("models", help="list the model ids clients may request")
    _add_config(models)
    models.set_defaults(handler=_cmd_models)

    plugins = sub.add_parser("plugins", help="list installed plugins and the hooks they implement")
    plugins.set_defaults(handler=_cmd_plugins)

    status = sub.add_parser(
        "status",
        help="show every credential's health, cooldowns and counts (from a running gateway's /v0/status)",
    )
    add_gateway_options(status)
    status.add_argument(
        "--reset", metavar="CREDENTIAL", help="end the cooldowns of a credential (id or label), or of 'all'"
    )
    status.add_argument("--model", help="with --reset: only this model's cooldown")
    status.set_defaults(handler=gateway_command(_cmd_status))

    add_usage_command(sub)
    add_logs_command(sub)

    _login_parsers(sub, flows)
    sub.choices["login"].set_defaults(handler=_cmd_login)
    add_management_commands(sub)
    add_init_command(sub, choices)

    for name, command in commands.items():
        extra = sub.add_parser(name, help=command.help)
        if command.add_arguments is not None:
            command.add_arguments(extra)
        extra.set_defaults(handler=_plugin_command(command))
    return parser


def _plugin_command(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        result = command.run(args)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        return int(result or 0)

    return run


async def _awaited(value: Any) -> Any:
    return await value


def _extensions() -> tuple[dict[str, Any], dict[str, Any], list[InitChoice]]:
    """What the installed plugins add to the command line: commands, login flows and
    ``cliproxy init`` choices (a name taken twice keeps the first)."""
    plugins = Plugins.load(strict=False)
    commands: dict[str, Any] = {}
    for plugin, command in plugins.commands():
        if command.name in BUILTIN_COMMANDS or command.name in commands:
            log.error("plugin %r: command %r is already taken; skipped", plugin, command.name)
            continue
        commands[command.name] = command
    flows: dict[str, Any] = {}
    for plugin, flow in plugins.login_flows():
        if flow.provider in flows:
            log.error("plugin %r: login flow %r is already taken; skipped", plugin, flow.provider)
            continue
        flows[flow.provider] = flow
    choices: dict[str, InitChoice] = {}
    for plugin, choice in plugins.init_choices():
        if choice.id in choices:
            log.error("plugin %r: init choice %r is already taken; skipped", plugin, choice.id)
            continue
        choices[choice.id] = choice
    return commands, flows, list(choices.values())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    level = "info"
    if "--log-level" in argv:
        index = argv.index("--log-level")
        if index + 1 < len(argv):
            level = argv[index + 1]
    setup_logging(os.environ.get("CLIPROXY_LOG_LEVEL", level))
    if argv[:1] == ["login"] and any(a == "--remote" or a.startswith("--remote=") for a in argv):
        return remote_login(argv[1:])
    commands, flows, choices = _extensions()
    args = _parser(commands, flows, choices).parse_args(argv)
    logging.getLogger().setLevel(getattr(logging, str(args.log_level).upper(), logging.INFO))
    args.log_level_given = "CLIPROXY_LOG_LEVEL" in os.environ or any(a.startswith("--log-level") for a in argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if isinstance(error, PluginError):
            print(f"error: {error}", file=sys.stderr)
            return 2
        if isinstance(error, GatewayError):  # a login flow or plugin command that failed cleanly
            print(f"error: {error.message}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())

"""The contestants: cliproxy (on each server, and with two workers), LiteLLM's proxy, the
bare pass-through on each server, and nginx (the physical limit of a proxy here).

Each writes its config into the run directory, starts one worker pointed at the mock,
and says how it is checked for readiness.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from procs import Cpus, Proc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

LITELLM_VERSION = "1.108.6"
"""Pinned: the newest release whose ``[proxy]`` extra resolves from PyPI at the time of
writing (later ones depend on ``litellm-proxy`` packages not published there)."""
LITELLM_VENV = HERE / ".venv-litellm"
LITELLM_EXTRAS = ("opentelemetry-sdk==1.45.2", "prisma==0.15.0")
"""Installed beside it: without the OpenTelemetry SDK (and Prisma's error types), LiteLLM's
proxy retries a failing import on every request (about 14 ms each for the SDK), which
would understate it."""

LITELLM_ENV = {
    # No network calls at start-up or per request, no telemetry, quiet logs.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "true",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOG": "ERROR",
    "NO_DOCS": "True",
    "NO_REDOC": "True",
    "DISABLE_ADMIN_UI": "True",
    # /v1/messages to an OpenAI-style model: use chat completions, like the other two,
    # instead of LiteLLM's default bridge through the Responses API.
    "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
}
_UNSET = (
    "DATABASE_URL",
    "REDIS_HOST",
    "REDIS_URL",
    "REDIS_PORT",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
)


class Gateway:
    """One gateway process under test."""

    name = ""
    health_path = "/healthz"
    start_timeout = 30.0

    def __init__(self, run_dir: Path, cpus: Cpus, port: int, mock_port: int) -> None:
        self.run_dir = run_dir
        self.cpus = cpus
        self.port = port
        self.mock_port = mock_port
        self.proc: Proc | None = None

    def argv(self, port: int) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def supports(self, needs: tuple[str, ...]) -> str | None:
        """None if it can run a scenario needing ``needs``; otherwise why not."""
        return None

    def process(self, port: int | None = None, log_name: str | None = None) -> Proc:
        port = self.port if port is None else port
        log = self.run_dir / "logs" / f"{log_name or self.name}.log"
        return Proc(
            self.name,
            [*self.cpus.prefix("gateway"), *self.argv(port)],
            log=log,
            env=self.env(),
            cwd=self.run_dir,
        )

    def start(self) -> float:
        self.proc = self.process().start()
        return self.proc.wait_ready(self.port, self.health_path, self.start_timeout, interval=0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cliproxy(Gateway):
    """``cliproxy serve`` on ``server`` (None: its default, the fastest installed) with
    ``workers`` worker processes."""

    name = "cliproxy"

    def __init__(
        self,
        *args: object,
        capabilities: set[str],
        server: str | None = None,
        workers: int = 1,
        exe: Path | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.capabilities = capabilities
        self.server = server
        self.workers = workers
        self.exe = exe or Path(sys.executable).with_name("cliproxy")  # another checkout's, for --baseline
        if server:
            self.name = f"cliproxy-{server}"
        if workers > 1:
            self.name += f"-w{workers}"
        if name:
            self.name = name
        self.config = self.run_dir / f"{self.name}.yaml"
        self.config.write_text(self._config())

    def _config(self) -> str:
        text = textwrap.dedent(
            f"""\
            host: 127.0.0.1
            port: {self.port}
            api-keys: ["sk-bench"]
            request-retry: 0
            openai-compatibility:
              - name: mock
                base-url: http://127.0.0.1:{self.mock_port}/v1
                api-key-entries:
                  - api-key: sk-mock
                models:
                  - name: mock-gpt
                  - name: mock-slow
                  - name: mock-drip
            """
        )
        if "claude-provider" in self.capabilities:
            text += textwrap.dedent(
                f"""\
                claude-api-key:
                  - api-key: sk-ant-mock
                    base-url: http://127.0.0.1:{self.mock_port}
                    models:
                      - name: claude-mock
                """
            )
        return text

    def argv(self, port: int) -> list[str]:
        return [
            str(self.exe),
            "--log-level",
            "warning",
            "serve",
            "--config",
            str(self.config),
            "--port",
            str(port),
            *(["--server", self.server] if self.server else []),
            *(["--workers", str(self.workers)] if self.workers > 1 else []),
        ]

    def process(self, port: int | None = None, log_name: str | None = None) -> Proc:
        proc = super().process(port, log_name)
        if self.workers > 1:  # the workers get both cores (the mock and wrk share the second)
            proc.argv = [*self.cpus.prefix("all"), *proc.argv[len(self.cpus.prefix("gateway")) :]]
        return proc

    def supports(self, needs: tuple[str, ...]) -> str | None:
        missing = [need for need in needs if need not in self.capabilities]
        return f"not installed yet: {', '.join(missing)}" if missing else None


class Bare(Gateway):
    """The bare pass-through on ``server`` (``bare`` is Hypercorn's, as before)."""

    name = "bare"

    def __init__(self, *args: object, server: str = "hypercorn") -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.server = server
        if server != "hypercorn":
            self.name = f"bare-{server}"

    def argv(self, port: int) -> list[str]:
        return [
            sys.executable,
            str(HERE / "bare.py"),
            "--port",
            str(port),
            "--upstream",
            f"http://127.0.0.1:{self.mock_port}",
            "--server",
            self.server,
        ]


class Nginx(Gateway):
    """nginx as a plain reverse proxy to the mock (one worker process, keep-alive upstream,
    no buffering, no access log): what forwarding costs with no Python at all."""

    name = "nginx"

    def argv(self, port: int) -> list[str]:
        folder = self.run_dir / f"nginx-{port}"
        folder.mkdir(parents=True, exist_ok=True)
        conf = folder / "nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(
            textwrap.dedent(
                f"""\
                {user}worker_processes 1;
                daemon off;
                pid {folder}/nginx.pid;
                error_log {folder}/error.log warn;
                worker_rlimit_nofile 65536;
                events {{ worker_connections 32768; }}
                http {{
                  access_log off;
                  client_body_temp_path {folder}/body;
                  proxy_temp_path {folder}/proxy;
                  fastcgi_temp_path {folder}/fastcgi;
                  uwsgi_temp_path {folder}/uwsgi;
                  scgi_temp_path {folder}/scgi;
                  upstream mock {{ server 127.0.0.1:{self.mock_port}; keepalive 256; }}
                  server {{
                    listen 127.0.0.1:{port} reuseport backlog=4096;
                    keepalive_requests 1000000;
                    location / {{
                      proxy_pass http://mock;
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_buffering off;
                      proxy_read_timeout 600s;
                    }}
                  }}
                }}
                """
            )
        )
        return [nginx_path() or "nginx", "-c", str(conf), "-p", str(folder)]


def nginx_path() -> str | None:
    """nginx's path, installing Debian's package when missing and running as root."""
    found = shutil.which("nginx") or (shutil.which("nginx", path="/usr/sbin:/sbin"))
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    install = ["apt-get", "install", "-y", "-q", "nginx"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        subprocess.run(install, capture_output=True)
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


class LiteLLM(Gateway):
    name = "litellm"
    health_path = "/health/liveliness"
    start_timeout = 120.0

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.config = self.run_dir / "litellm.yaml"
        self.config.write_text(self._config())

    def _config(self) -> str:
        base = f"http://127.0.0.1:{self.mock_port}"
        return textwrap.dedent(
            f"""\
            model_list:
              - model_name: mock-gpt
                litellm_params:
                  model: openai/mock-gpt
                  api_base: {base}/v1
                  api_key: sk-mock
              - model_name: mock-slow
                litellm_params:
                  model: openai/mock-slow
                  api_base: {base}/v1
                  api_key: sk-mock
              - model_name: claude-mock
                litellm_params:
                  model: anthropic/claude-mock
                  api_base: {base}
                  api_key: sk-ant-mock
            litellm_settings:
              telemetry: False
              drop_params: True
              num_retries: 0
              request_timeout: 600
              callbacks: []
            router_settings:
              routing_strategy: simple-shuffle
              num_retries: 0
              disable_cooldowns: true
            general_settings:
              master_key: sk-bench
            """
        )

    def argv(self, port: int) -> list[str]:
        exe = LITELLM_VENV / "bin" / "litellm"
        return [
            str(exe), "--config", str(self.config), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", "1", "--telemetry", "False",
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _UNSET and not k.startswith(("VIRTUAL_ENV", "UV_"))}
        env.update(LITELLM_ENV)
        env["PATH"] = f"{LITELLM_VENV / 'bin'}:{env.get('PATH', '')}"
        return env


def ensure_litellm(log: Path) -> str:
    """Install the pinned LiteLLM proxy into its own virtual environment (once)."""
    marker = LITELLM_VENV / ".bench-version"
    wanted = " ".join((LITELLM_VERSION, *LITELLM_EXTRAS))
    if marker.exists() and marker.read_text().strip() == wanted and (LITELLM_VENV / "bin" / "litellm").exists():
        return LITELLM_VERSION
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        subprocess.run(
            ["uv", "venv", "--allow-existing", "--python", "3.11", str(LITELLM_VENV)],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        subprocess.run(
            [
                "uv",
                "pip",
                "install",
                "--compile-bytecode",
                "--python",
                str(LITELLM_VENV / "bin" / "python"),
                f"litellm[proxy]=={LITELLM_VERSION}",
                *LITELLM_EXTRAS,
            ],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    marker.write_text(wanted)
    return LITELLM_VERSION


def cliproxy_capabilities() -> set[str]:
    """Which optional pieces the installed cliproxy has (plugins, translators, doors)."""
    from cliproxy.plugins import Plugins

    plugins = Plugins.load(strict=False)
    caps: set[str] = set()
    for _, provider in plugins.providers():
        if "claude-api-key" in getattr(provider, "config_keys", ()):
            caps.add("claude-provider")
    for _, translator in plugins.translators():
        if getattr(translator, "name", None) == "anthropic":
            caps.add("anthropic-translator")
            if any(door.path == "/v1/messages" for door in getattr(translator, "doors", ())):
                caps.add("messages-door")
    return caps

"""What CI can check of the container files without building an image (these machines
cannot pull base images): the Dockerfile's shape, its install step run for real into a
clean venv -- the same script, with the Dockerfile's default build arguments -- serving
deploy/config.yaml (on the test Redis) through the image's entry point and answering the
image's own HEALTHCHECK; and deploy/compose.yaml, with ``docker compose config`` where
Docker Compose is installed, else by reading its structure."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def build_args() -> dict[str, str]:
    args = {}
    for word, rest in instructions():
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = shlex.split(value)[0] if value else ""
    return args


def exec_form(word: str) -> list[str]:
    (value,) = [rest for w, rest in instructions() if w == word]
    if word == "HEALTHCHECK":
        value = value.split(" CMD ", 1)[1]
    parsed = json.loads(value)
    assert isinstance(parsed, list)
    return parsed


def test_the_dockerfile_is_multi_stage_non_root_and_serves_with_a_healthcheck():
    steps = instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build"), stages
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the final stage must run as a user of its own"
    assert any(word == "COPY" and rest.startswith("--from=build ") for word, rest in final)
    assert not any(word == "RUN" and "install-wheels" in rest for word, rest in final), "no build tools at run time"
    assert {"PLUGINS", "EXTRAS"} <= build_args().keys()
    assert exec_form("ENTRYPOINT") == ["cliproxy", "serve"]
    assert ("EXPOSE", "8317") in final
    assert "/healthz" in " ".join(exec_form("HEALTHCHECK"))
    text = DOCKERFILE.read_text()
    for port in ("54545", "1455", "8085"):  # the OAuth callback ports are documented
        assert port in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_dockerfile_install_step_serves_the_compose_config(tmp_path: Path, redis_url: str, redis_prefix: str):
    (install,) = [rest for word, rest in instructions() if word == "RUN" and "install-wheels" in rest]
    args = build_args()
    command = shlex.split(install.replace("$PLUGINS", args["PLUGINS"]).replace("$EXTRAS", args["EXTRAS"]))
    assert command[:3] == ["python3", ".ci/install-wheels", "/opt/cliproxy"]
    venv = tmp_path / "opt-cliproxy"
    command[0], command[2] = sys.executable, str(venv)
    command[command.index("--python") + 1] = sys.executable  # the image's /usr/local/bin/python3
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    binaries = venv / "bin"

    listed = subprocess.run([binaries / "cliproxy", "plugins"], capture_output=True, text=True, check=True).stdout
    for plugin in args["PLUGINS"].split():
        assert re.search(rf"^{plugin}\s+cliproxy-{plugin}\s+\S+\s+loaded", listed, re.M), listed

    # deploy/config.yaml as the compose file mounts it, on the test Redis and a temporary /data.
    config = (DEPLOY / "config.yaml").read_text()
    config = config.replace('url: "redis://redis:6379/0"', f'url: "{redis_url}"\n  key-prefix: "{redis_prefix}"')
    config = config.replace("/data/", f"{tmp_path}/data/")
    (tmp_path / "config.yaml").write_text(config)
    port = free_port()
    serve_env = {
        **env,
        "PATH": f"{binaries}:{env['PATH']}",
        "CLIPROXY_CONFIG": str(tmp_path / "config.yaml"),  # as the image's ENV sets it
        "CLIPROXY_CLIENT_KEY": "sk-compose-client",
        "ANTHROPIC_API_KEY": "sk-ant-compose-upstream",
        "CLIPROXY_HEALTHCHECK_URL": f"http://127.0.0.1:{port}/healthz",
    }
    entry = [*exec_form("ENTRYPOINT"), *json.loads(dict(instructions())["CMD"]), "--port", str(port)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(entry, env=serve_env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        healthcheck = exec_form("HEALTHCHECK")
        healthcheck[0] = str(binaries / "python3")
        deadline = time.monotonic() + 60
        while subprocess.run(healthcheck, env=serve_env, capture_output=True, check=False).returncode != 0:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the image's HEALTHCHECK never passed"
            time.sleep(0.3)
        models = httpx.get(
            f"http://127.0.0.1:{port}/v1/models", headers={"authorization": "Bearer sk-compose-client"}
        ).json()
        assert any(m["id"].startswith("claude-") for m in models["data"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert all(json.loads(line) for line in output.splitlines() if line.strip()), "logging.format: json"
    assert "sk-ant-compose-upstream" not in output


def compose() -> dict[str, Any]:
    data = YAML(typ="safe").load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_the_compose_file_runs_two_gateways_on_one_redis():
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0
    )
    if has_compose:  # the real parser, where Docker Compose is installed
        env = {**os.environ, "CLIPROXY_CLIENT_KEY": "k", "ANTHROPIC_API_KEY": "a"}
        checked = subprocess.run(
            [str(docker), "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr

    services = compose()["services"]
    assert {"redis", "gateway-a", "gateway-b", "lb"} <= services.keys()
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    gateways = [services["gateway-a"], services["gateway-b"]]
    config = YAML(typ="safe").load((DEPLOY / "config.yaml").read_text())
    assert config["state"]["backend"] == "redis" and config["state"]["url"].startswith("redis://redis:")
    needed = set(re.findall(r"\$\{(\w+)", (DEPLOY / "config.yaml").read_text()))
    for gateway in gateways:
        assert gateway["build"]["dockerfile"] == "Dockerfile"
        assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).resolve() == DOCKERFILE
        assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "./config.yaml:/etc/cliproxy/config.yaml:ro" in gateway["volumes"]
        assert "auth:/data/auth" in gateway["volumes"]  # one auth-dir for both
        assert needed <= gateway["environment"].keys(), "every ${VAR} of the config is passed"
        assert config["auth-dir"] == "/data/auth" and config["port"] == 8317
    assert gateways[0]["volumes"] != gateways[1]["volumes"], "each instance has a /data of its own"
    for volume in compose()["volumes"]:
        assert any(volume + ":" in v for s in services.values() for v in s.get("volumes", []))
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "server gateway-a:8317;" in nginx and "server gateway-b:8317;" in nginx
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["lb"]["volumes"]
    assert services["lb"]["ports"] == ["8317:8317"]

"""``cliproxy serve --server hypercorn|uvicorn|granian``: the choice, the header limits
each server allows, and TLS on every server (a self-signed certificate made here, the
openai SDK trusting only it)."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cliproxy_echo
import httpx
import openai
import pytest
from cliproxy import cli
from cliproxy.config import ConfigError, load_config
from cliproxy.servers import SERVERS, default_server
from cliproxy.testing import gateway_app, serve_app

KEY = "k1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the choice ------------------------------------------------------------------------------


def test_the_default_is_the_fastest_server_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_server() == "uvicorn"  # the speed extra is in the dev environment
    monkeypatch.setattr("cliproxy.servers.installed", lambda name: name != "uvicorn")
    assert default_server() == "granian"
    monkeypatch.setattr("cliproxy.servers.installed", lambda name: name == "hypercorn")
    assert default_server() == "hypercorn"


def test_a_server_that_is_not_installed_is_a_located_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("echo:\n  - models: [echo-1]\nserver: granian\n")
    monkeypatch.setattr(cli, "installed", lambda name: name == "hypercorn")
    assert cli.main(["serve", "--config", str(config), "--port", str(free_port())]) == 2
    error = capsys.readouterr().err
    assert f"{config}:3:" in error and "granian" in error and "cliproxy[speed]" in error


def test_server_and_tls_keys_are_checked_where_they_are_written(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server: unicorn\n")
    with pytest.raises(ConfigError, match="did you mean 'uvicorn'") as error:
        load_config(config)
    assert error.value.line == 1
    config.write_text("tls:\n  cert: missing.pem\n  key: missing-key.pem\n")
    with pytest.raises(ConfigError, match="not a file") as error:
        load_config(config)
    assert error.value.line == 2 and error.value.key == "tls.cert"
    config.write_text("tls:\n  cert: cert.pem\n")
    (tmp_path / "cert.pem").write_text("x")
    with pytest.raises(ConfigError, match=r"tls\.key"):
        load_config(config)


def test_tls_flags_go_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("echo:\n  - models: [echo-1]\n")
    assert cli.main(["serve", "--config", str(config), "--tls-cert", str(config)]) == 2
    assert "--tls-cert and --tls-key go together" in capsys.readouterr().err


# -- header limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
def test_headers_over_the_gateway_limit_get_its_431_on_every_server(server: str) -> None:
    app = gateway_app({"api-keys": [KEY], "echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo])
    headers = {"authorization": f"Bearer {KEY}"} | {f"x-filler-{i}": "v" * 4000 for i in range(10)}  # 40 KB
    body = {"model": "echo-1", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with serve_app(app, server=server) as url:
        reply = httpx.post(url + "/v1/messages", json=body, headers=headers, timeout=10)
    assert reply.status_code == 431
    error = reply.json()
    assert error["type"] == "error" and "max-header-size-kb" in error["error"]["message"]


@pytest.mark.parametrize("server", SERVERS)
def test_a_head_far_over_every_limit_is_refused_and_the_server_goes_on(server: str) -> None:
    """Past what the server itself reads (2 MB of headers here), it answers a bare 431
    and closes, rather than buffering without end; the next client is served."""
    app = gateway_app({"api-keys": [KEY], "echo": [{"models": ["echo-1"]}]}, plugins=[cliproxy_echo])
    headers = {"authorization": f"Bearer {KEY}"} | {f"x-filler-{i}": "v" * 1000 for i in range(2000)}
    with serve_app(app, server=server) as url:
        reply = httpx.post(url + "/v1/messages", json={}, headers=headers, timeout=10)
        assert reply.status_code == 431
        assert httpx.get(url + "/healthz", timeout=5).status_code == 200


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cliproxy test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def serve(command: list[str], url: str, verify: ssl.SSLContext) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1, verify=verify).status_code == 200:
                return process
        except httpx.TransportError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    pytest.fail("cliproxy serve did not come up over TLS:\n" + process.communicate(timeout=10)[0])


@pytest.fixture
def tls_server(
    request: pytest.FixtureRequest, tmp_path: Path, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, ssl.SSLContext]]:
    server, how = request.param
    cert, key = certificate
    config = tmp_path / "config.yaml"
    text = f"api-keys: [{KEY}]\necho:\n  - models: [echo-1]\n"
    command = [sys.executable, "-m", "cliproxy", "serve", "--config", str(config), "--server", server]
    if how == "config":
        text += f"tls:\n  cert: {cert}\n  key: {key.name}\n"  # a relative path is taken from the config's folder
        (tmp_path / key.name).write_bytes(key.read_bytes())
    else:
        command += ["--tls-cert", str(cert), "--tls-key", str(key)]
    config.write_text(text)
    port = free_port()
    command += ["--port", str(port)]
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    process = serve(command, url, trust)
    try:
        yield url, trust
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0


@pytest.mark.parametrize(
    "tls_server", [(s, how) for s in SERVERS for how in ("flags", "config")], indirect=True, ids=str
)
def test_every_server_serves_tls_to_the_openai_sdk(tls_server: tuple[str, ssl.SSLContext]) -> None:
    url, trust = tls_server
    with httpx.Client(verify=trust) as http:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, http_client=http)
        reply = client.chat.completions.create(model="echo-1", messages=[{"role": "user", "content": "over tls"}])
        assert reply.choices[0].message.content == "over tls"
        stream = client.chat.completions.create(
            model="echo-1", messages=[{"role": "user", "content": "a b c"}], stream=True
        )
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "a b c"
    with pytest.raises(httpx.ConnectError):  # a client that does not trust the certificate is refused
        httpx.get(url + "/healthz", timeout=5)
    with pytest.raises(httpx.RemoteProtocolError):  # and plain HTTP on the TLS port is not served
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)

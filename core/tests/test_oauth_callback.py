"""cliproxy.oauth: the loopback callback server and authorize_in_browser (callback and
paste racing, ports, state, timeouts) -- without a browser or a terminal."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cliproxy import GatewayError, LoginContext
from cliproxy.config import load_config
from cliproxy.errors import ErrorKind
from cliproxy.oauth import (
    Authorization,
    CallbackServer,
    PortsTaken,
    RemoteLoginContext,
    authorize_in_browser,
    check_state,
    parse_redirect,
)


def taken_port() -> socket.socket:
    """A listening socket on a loopback port (closed by the caller)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(redirect_uri: str) -> str:
    return "https://auth.example/authorize?" + httpx.QueryParams({"redirect_uri": redirect_uri}).__str__()


def redirect_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["redirect_uri"][0]


def remote(tmp_path: Path) -> RemoteLoginContext:
    return RemoteLoginContext(config=load_config({}), auth_dir=str(tmp_path))


# -- the callback server ------------------------------------------------------------------------


async def test_a_taken_port_falls_back_to_the_next():
    with taken_port() as busy:
        busy_port = busy.getsockname()[1]
        fallback = free_port()
        async with CallbackServer(path="/callback", state="s") as server:
            port = await server.start([busy_port, fallback])
            assert port == fallback and server.redirect_uri() == f"http://localhost:{fallback}/callback"
        async with CallbackServer(path="/callback", state="s") as server:
            assert await server.start([busy_port, 0]) not in (busy_port, 0)  # 0: any free port
        with pytest.raises(PortsTaken) as caught:
            await CallbackServer(path="/callback", state="s").start([busy_port])
    assert str(busy_port) in caught.value.message and "--no-browser" in caught.value.message


async def test_a_wrong_state_is_refused_and_the_server_keeps_waiting():
    async with CallbackServer(path="/cb", state="right", name="cliproxy-test") as server:
        port = await server.start([0])
        waiting = asyncio.create_task(server.wait(timeout=10))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as browser:
            forged = await browser.get("/cb", params={"code": "stolen", "state": "wrong"})
            no_code = await browser.get("/cb", params={"state": "right"})
            elsewhere = await browser.get("/favicon.ico")
            assert not waiting.done()
            good = await browser.get("/cb", params={"code": "the-code", "state": "right"})
            late = await browser.get("/cb", params={"code": "again", "state": "right"})
        answer = await waiting
    assert (forged.status_code, no_code.status_code, elsewhere.status_code) == (400, 400, 404)
    assert "another sign-in attempt" in forged.text and forged.headers["content-type"].startswith("text/html")
    assert good.status_code == 200 and "return to cliproxy-test" in good.text
    assert "already finished" in late.text
    assert answer == Authorization("the-code", "right") and server.refused == 2


async def test_a_refusal_ends_the_wait_with_the_reason():
    async with CallbackServer(path="/cb", state="s") as server:
        port = await server.start([0])
        waiting = asyncio.create_task(server.wait(timeout=10))
        async with httpx.AsyncClient() as browser:
            page = await browser.get(
                f"http://127.0.0.1:{port}/cb", params={"error": "access_denied", "error_description": "no thanks"}
            )
        with pytest.raises(GatewayError) as caught:
            await waiting
    assert page.status_code == 400 and "access_denied" in page.text
    assert caught.value.kind is ErrorKind.AUTHENTICATION and "access_denied (no thanks)" in caught.value.message


async def test_the_server_shuts_down_cleanly_after_a_timeout():
    server = CallbackServer(path="/cb", state="s")
    port = await server.start([0])
    with pytest.raises(TimeoutError):
        await server.wait(timeout=0.05)
    await server.close()
    await server.close()
    with socket.socket() as again:  # the port is free once more
        again.bind(("127.0.0.1", port))


def test_pasted_forms():
    assert parse_redirect("http://localhost:54545/callback?code=abc&state=s1") == Authorization("abc", "s1")
    assert parse_redirect("?code=abc&state=s1") == Authorization("abc", "s1")
    assert parse_redirect("code=abc&state=s1") == Authorization("abc", "s1")
    assert parse_redirect("abc#s1") == Authorization("abc", "s1")
    assert parse_redirect("  abc  ") == Authorization("abc", None)
    assert parse_redirect("https://x.example/cb?code=abc%23s1") == Authorization("abc", "s1")
    with pytest.raises(GatewayError, match="refused: access_denied"):
        parse_redirect("http://localhost:54545/callback?error=access_denied")
    with pytest.raises(GatewayError, match="nothing was pasted"):
        parse_redirect("")
    with pytest.raises(GatewayError, match="no 'code'"):
        parse_redirect("http://localhost:54545/callback?state=s1")
    check_state(parse_redirect("abc"), "s1")  # a bare code has no state to compare
    with pytest.raises(GatewayError, match="state mismatch"):
        check_state(parse_redirect("http://localhost/cb?code=abc"), "s1")  # a redirect that lost its state
    with pytest.raises(GatewayError, match="state does not match"):
        check_state(parse_redirect("abc#other"), "s1")


# -- authorize_in_browser -------------------------------------------------------------------------


async def test_a_paste_is_accepted_while_the_callback_server_waits(tmp_path):
    ctx = remote(tmp_path)
    flow = asyncio.create_task(authorize_in_browser(ctx, build, ports=[0], path="/callback", state="s1"))
    challenge = await ctx.next_challenge(timeout=5)
    redirect = redirect_of(challenge.url)
    port = int(urlsplit(redirect).port or 0)
    with socket.socket() as probe:  # the callback server is listening meanwhile
        assert probe.connect_ex(("127.0.0.1", port)) == 0
    while ctx.awaiting_redirect is None:
        await asyncio.sleep(0)
    ctx.supply_redirect(f"{redirect}?code=pasted-code&state=s1")
    answer = await flow
    assert (answer.code, answer.redirect_uri) == ("pasted-code", redirect)
    with socket.socket() as again:  # and closed afterwards
        again.bind(("127.0.0.1", port))


async def test_the_callback_wins_when_nothing_can_be_pasted(tmp_path):
    opened: list[str] = []

    def no_stdin(question: str) -> str:
        raise EOFError

    async def visit(url: str) -> None:
        async with httpx.AsyncClient() as browser:
            await browser.get(redirect_of(url), params={"code": "from-browser", "state": "s1"})

    def browser(url: str) -> None:
        opened.append(url)
        asyncio.run_coroutine_threadsafe(visit(url), loop)

    loop = asyncio.get_running_loop()
    ctx = LoginContext(
        config=load_config({}), auth_dir=str(tmp_path), echo=lambda line: None, prompt=no_stdin, open_browser=browser
    )
    answer = await authorize_in_browser(ctx, build, ports=[0], path="/callback", state="s1", timeout=10)
    assert answer.code == "from-browser" and opened and redirect_of(opened[0]) == answer.redirect_uri


async def test_a_prompt_still_waiting_for_enter_does_not_hold_the_login(tmp_path):
    release = threading.Event()
    loop = asyncio.get_running_loop()

    def blocking_prompt(question: str) -> str:  # a terminal where nobody types
        release.wait(10)
        return ""

    async def visit(url: str) -> None:
        async with httpx.AsyncClient() as browser:
            await browser.get(redirect_of(url), params={"code": "c", "state": "s1"})

    ctx = LoginContext(
        config=load_config({}),
        auth_dir=str(tmp_path),
        echo=lambda line: None,
        prompt=blocking_prompt,
        open_browser=lambda url: asyncio.run_coroutine_threadsafe(visit(url), loop),
    )
    answer = await asyncio.wait_for(
        authorize_in_browser(ctx, build, ports=[0], path="/callback", state="s1", timeout=10), 5
    )
    assert answer.code == "c"
    release.set()


async def test_a_pasted_answer_of_another_attempt_fails_clearly(tmp_path):
    ctx = remote(tmp_path)
    ctx.supply_redirect("http://localhost:1/callback?code=x&state=forged")
    with pytest.raises(GatewayError, match="state mismatch"):
        await authorize_in_browser(ctx, build, ports=[0], path="/callback", state="s1", timeout=5)


async def test_without_a_browser_a_taken_port_keeps_the_redirect_and_takes_the_paste(tmp_path):
    with taken_port() as busy:
        port = busy.getsockname()[1]
        ctx = remote(tmp_path)
        flow = asyncio.create_task(
            authorize_in_browser(ctx, build, ports=[port, 0], path="/callback", state="s1", timeout=5)
        )
        challenge = await ctx.next_challenge(timeout=5)
        assert redirect_of(challenge.url) == f"http://localhost:{port}/callback"
        ctx.supply_redirect("the-code#s1")
        answer = await flow
        assert answer.code == "the-code" and any("in use" in line for line in ctx.messages)
        browser_ctx = LoginContext(config=load_config({}), auth_dir=str(tmp_path), echo=lambda line: None)
        with pytest.raises(PortsTaken):
            await authorize_in_browser(browser_ctx, build, ports=[port], path="/callback", state="s1")


async def test_no_answer_in_time_is_a_clear_timeout(tmp_path):
    with pytest.raises(GatewayError) as caught:
        await authorize_in_browser(remote(tmp_path), build, ports=[0], path="/callback", state="s1", timeout=0.1)
    assert caught.value.kind is ErrorKind.TIMEOUT and "no sign-in arrived" in caught.value.message


# -- a sign-in page that hands over the token itself (Roo Code: ?token=...&state=...) ----------


def test_pasted_forms_with_another_code_parameter():
    assert parse_redirect("http://127.0.0.1:5/callback?token=t.k.n&state=s1", "token") == Authorization("t.k.n", "s1")
    assert parse_redirect("token=t.k.n&state=s1", "token") == Authorization("t.k.n", "s1")
    assert parse_redirect("t.k.n", "token") == Authorization("t.k.n", None)
    with pytest.raises(GatewayError, match="no 'token' parameter"):
        parse_redirect("http://127.0.0.1:5/callback?code=abc&state=s1", "token")


async def test_the_callback_and_the_paste_take_the_named_parameter(tmp_path):
    async with CallbackServer(path="/callback", state="s1", code_param="token") as server:
        port = await server.start([0])
        waiting = asyncio.create_task(server.wait(timeout=10))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as browser:
            with_code = await browser.get("/callback", params={"code": "abc", "state": "s1"})
            with_token = await browser.get("/callback", params={"token": "t.k.n", "state": "s1"})
        answer = await waiting
    assert with_code.status_code == 400 and with_token.status_code == 200
    assert answer == Authorization("t.k.n", "s1")

    ctx = remote(tmp_path)
    flow = asyncio.create_task(
        authorize_in_browser(
            ctx, build, ports=[0], path="/callback", state="s2", redirect_host="127.0.0.1", code_param="token"
        )
    )
    redirect = redirect_of((await ctx.next_challenge(timeout=5)).url)
    while ctx.awaiting_redirect is None:
        await asyncio.sleep(0)
    ctx.supply_redirect(f"{redirect}?token=pasted.jwt.value&state=s2")
    answer = await flow
    assert redirect.startswith("http://127.0.0.1:") and answer.code == "pasted.jwt.value"

"""cliproxy.oauth.poll_device_token: RFC 8628 answers and the vendors' variants, on a
fake clock (no real waiting)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp
import pytest
from cliproxy import GatewayError
from cliproxy.oauth import PollState, by_body_status, by_status, poll_device_token, rfc8628
from cliproxy.testing import FakeClock

TOKEN = {"access_token": "at", "refresh_token": "rt"}


def server(*answers: tuple[int, Any] | BaseException):
    """A poll endpoint answering ``answers`` in turn; records how many polls it saw."""
    queue = list(answers)
    seen: list[int] = []

    async def poll() -> tuple[int, Any]:
        seen.append(1)
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    poll.seen = seen  # type: ignore[attr-defined]
    return poll


async def run(poll, clock: FakeClock, **options: Any):
    return await poll_device_token(poll, sleep=clock.sleep, clock=clock, service="the test server", **options)


def pending(status: int = 400, error: str = "authorization_pending") -> tuple[int, Any]:
    return status, {"error": error, "error_description": "waiting"}


async def test_pending_then_the_token(clock: FakeClock):
    poll = server(pending(), pending(200), (200, TOKEN))  # AWS says pending with 400, GitHub with 200
    assert await run(poll, clock, interval=5) == TOKEN
    assert clock.slept == [5, 5, 5]


async def test_slow_down_adds_five_seconds_each_time(clock: FakeClock):
    poll = server(pending(error="slow_down"), pending(), pending(error="slow_down"), (200, TOKEN))
    await run(poll, clock, interval=5)
    assert clock.slept == [5, 10, 10, 15]  # slept before each poll; each slow_down adds 5 s for good


async def test_denied_names_what_the_server_said(clock: FakeClock):
    poll = server(pending(), (400, {"error": "access_denied", "error_description": "User denied"}))
    with pytest.raises(GatewayError) as caught:
        await run(poll, clock, interval=1)
    assert caught.value.code == "access_denied" and "User denied" in caught.value.message
    assert "start the login again" in caught.value.message


async def test_expired_token_from_the_server(clock: FakeClock):
    with pytest.raises(GatewayError) as caught:
        await run(server(pending(error="expired_token")), clock, interval=1)
    assert caught.value.code == "expired_token" and "expired" in caught.value.message


async def test_the_code_expires_on_our_own_clock(clock: FakeClock):
    poll = server(*[pending()] * 10)
    with pytest.raises(GatewayError) as caught:
        await run(poll, clock, interval=5, expires_in=12)
    assert caught.value.code == "expired_token" and len(poll.seen) == 2  # polled at 5 s and 10 s, not at 15 s


async def test_an_unknown_error_fails_with_its_description(clock: FakeClock):
    with pytest.raises(GatewayError, match=r"refused the device sign-in \(400: bad client\)"):
        await run(server((400, {"error": "invalid_client", "error_description": "bad client"})), clock)


@pytest.mark.parametrize(
    ("answers", "classify", "outcome"),
    [
        # Kilo: the status code carries the state
        ([(202, None), (202, None), (200, TOKEN)], by_status(pending={202}, denied={403}, expired={410}), "done"),
        ([(202, None), (403, None)], by_status(pending={202}, denied={403}, expired={410}), "access_denied"),
        ([(410, {"message": "gone"})], by_status(pending={202}, denied={403}, expired={410}), "expired_token"),
        # Codex: 403 and 404 mean "not yet"
        ([(403, None), (404, None), (200, TOKEN)], by_status(pending={403, 404}), "done"),
        # servers that say pending with 428
        ([(428, None), (200, TOKEN)], by_status(pending={202, 400, 428}), "done"),
    ],
)
async def test_status_code_variants(clock: FakeClock, answers: Iterable[Any], classify, outcome: str):
    poll = server(*answers)
    if outcome == "done":
        assert await run(poll, clock, interval=3, classify=classify) == TOKEN
        return
    with pytest.raises(GatewayError) as caught:
        await run(poll, clock, interval=3, classify=classify)
    assert caught.value.code == outcome


async def test_body_status_variant_with_backoff(clock: FakeClock):
    """MiniMax: 200 with a status field; the interval grows x1.5 up to 10 s."""
    done = {"status": "success", "access_token": "at"}
    poll = server(*[(200, {"status": "pending"})] * 5, (200, done))
    result = await run(poll, clock, interval=2, classify=by_body_status(), backoff=lambda s: min(s * 1.5, 10.0))
    assert result == done and clock.slept == [2, 3, 4.5, 6.75, 10, 10]
    with pytest.raises(GatewayError, match="quota"):
        await run(server((200, {"status": "error", "message": "quota"})), clock, classify=by_body_status())


async def test_network_errors_are_retried_a_few_times(clock: FakeClock):
    blip = aiohttp.ClientConnectionError("reset")
    assert await run(server(blip, TimeoutError(), (200, TOKEN)), clock, interval=1) == TOKEN
    with pytest.raises(GatewayError, match="could not reach the test server"):
        await run(server(*[blip] * 4), clock, interval=1)


def test_rfc8628_reads_the_error_whatever_the_status():
    assert rfc8628(200, {"error": "authorization_pending"}).state is PollState.PENDING
    assert rfc8628(400, {"error": "AuthorizationPendingException"}).state is PollState.PENDING
    assert rfc8628(200, {"access_token": "x"}).state is PollState.DONE
    assert rfc8628(500, None).state is PollState.FAILED

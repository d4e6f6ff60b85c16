"""The state store contract, as tests every backend must pass.

Subclass :class:`StateStoreContract` in a test module and give it a ``store`` fixture
that builds your store on the ``clock`` fixture (a :class:`~cliproxy.testing.FakeClock`)
and closes it afterwards::

    from cliproxy.testing.state_contract import StateStoreContract

    class TestMyStore(StateStoreContract):
        @pytest.fixture
        async def store(self, clock):
            store = MyStore(clock=clock)
            yield store
            await store.close()

The memory and Redis backends run this same suite (``core/tests/test_state_contract.py``).
It needs ``pytest`` and ``pytest-asyncio`` (``asyncio_mode = auto``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cliproxy.ir import Usage
from cliproxy.state.base import LINGER, MAX_CLIENT_NAMES, MAX_LINKS, OTHER_CLIENTS, WHOLE, Cooldown, StateStore
from cliproxy.state.daily import OVERFLOW, DailyCounts, DailyKey, day_of
from cliproxy.state.limiter import LimitUsage, RateLimits, next_day, next_month
from cliproxy.testing.clock import FakeClock

__all__ = ["StateStoreContract"]

CRED = "openai-compatibility/team[1]*:0123abcd"  # ids may hold /, :, glob characters
OTHER = "groq:feedbeef0123"
MODEL = "anthropic/claude-sonnet-4:free"
SPACE = "kept:[1]*"


class StateStoreContract:
    """Behaviour every :class:`~cliproxy.state.StateStore` must show."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def store(self, clock: FakeClock) -> Any:
        raise NotImplementedError("subclasses provide a 'store' fixture built on 'clock'")

    # -- shape -----------------------------------------------------------------------------

    async def test_is_a_state_store(self, store: Any) -> None:
        assert isinstance(store, StateStore)
        info = store.describe()
        assert {"backend", "shared", "healthy"} <= set(info)
        assert info["healthy"] is True

    # -- cooldowns -------------------------------------------------------------------------

    async def test_empty_store_has_no_cooldowns(self, store: Any) -> None:
        view, cursor = await store.routing_view([(CRED, MODEL), (OTHER, "m")], None)
        assert view == [(None, None), (None, None)]
        assert cursor == 0
        assert await store.cooldowns() == {}

    async def test_model_cooldown_rests_only_that_model(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(until=clock() + 60, reason="rate limited (429)", status=429, level=2)
        await store.set_cooldown(CRED, MODEL, rest)
        view, _ = await store.routing_view([(CRED, MODEL), (CRED, "other-model"), (OTHER, MODEL)], None)
        assert view == [(None, rest), (None, None), (None, None)]
        assert await store.get_cooldowns(CRED, MODEL) == (None, rest)

    async def test_whole_credential_cooldown_covers_every_model(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(until=clock() + 1800, reason="invalid key (401)", status=401)
        await store.set_cooldown(CRED, None, rest)
        view, _ = await store.routing_view([(CRED, MODEL), (CRED, "x"), (OTHER, MODEL)], None)
        assert view == [(rest, None), (rest, None), (None, None)]
        assert await store.cooldowns() == {CRED: {WHOLE: rest}}

    async def test_cooldowns_lists_only_running_rests(self, store: Any, clock: FakeClock) -> None:
        short = Cooldown(until=clock() + 10, reason="short", status=503)
        long = Cooldown(until=clock() + 100, reason="long", status=429)
        await store.set_cooldown(CRED, MODEL, short)
        await store.set_cooldown(OTHER, "m", long)
        assert await store.cooldowns() == {CRED: {MODEL: short}, OTHER: {"m": long}}
        clock.advance(11)
        assert await store.cooldowns() == {OTHER: {"m": long}}

    async def test_ended_rest_lingers_then_is_forgotten(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(until=clock() + 5, reason="rate limited (429)", status=429, level=3)
        await store.set_cooldown(CRED, MODEL, rest)
        clock.advance(6)  # over, but remembered (its backoff level still counts)
        assert await store.get_cooldowns(CRED, MODEL) == (None, rest)
        clock.advance(LINGER)
        assert await store.get_cooldowns(CRED, MODEL) == (None, None)

    async def test_every_cooldown_field_round_trips(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(
            until=clock() + 43200.5,
            reason="model 'x' does not exist (404) \u2013 \"quoted\"",
            status=404,
            level=0,
            missing=True,
        )
        await store.set_cooldown(CRED, MODEL, rest)
        assert await store.get_cooldowns(CRED, MODEL) == (None, rest)
        assert (await store.cooldowns())[CRED][MODEL] == rest

    async def test_newer_cooldown_replaces_older(self, store: Any, clock: FakeClock) -> None:
        await store.set_cooldown(CRED, MODEL, Cooldown(until=clock() + 1, reason="a", status=429))
        newer = Cooldown(until=clock() + 2, reason="b", status=429, level=1)
        await store.set_cooldown(CRED, MODEL, newer)
        assert await store.get_cooldowns(CRED, MODEL) == (None, newer)

    async def test_clear_one_cooldown(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(until=clock() + 60, reason="r", status=503)
        await store.set_cooldown(CRED, MODEL, rest)
        await store.set_cooldown(CRED, None, rest)
        await store.clear_cooldown(CRED, MODEL)
        assert await store.get_cooldowns(CRED, MODEL) == (rest, None)
        await store.clear_cooldown(CRED, None)
        assert await store.get_cooldowns(CRED, MODEL) == (None, None)
        await store.clear_cooldown(CRED, None)  # clearing nothing is fine

    async def test_clear_cooldowns_of_one_credential_or_all(self, store: Any, clock: FakeClock) -> None:
        rest = Cooldown(until=clock() + 60, reason="r", status=429)
        await store.set_cooldown(CRED, MODEL, rest)
        await store.set_cooldown(CRED, "m2", rest)
        await store.set_cooldown(CRED, None, rest)
        await store.set_cooldown(OTHER, MODEL, rest)
        assert await store.clear_cooldowns(CRED) == 3
        assert await store.cooldowns() == {OTHER: {MODEL: rest}}
        assert await store.clear_cooldowns(CRED) == 0
        assert await store.clear_cooldowns() == 1
        assert await store.cooldowns() == {}

    # -- cursors ---------------------------------------------------------------------------

    async def test_cursor_counts_from_zero_per_key(self, store: Any) -> None:
        values = [(await store.routing_view([(CRED, MODEL)], "pool-a"))[1] for _ in range(3)]
        assert values == [0, 1, 2]
        assert await store.next_cursor("pool-a") == 3  # one counter, whichever way it is read
        assert await store.next_cursor("pool-b") == 0
        _, cursor = await store.routing_view([(CRED, MODEL)], None)
        assert cursor == 0
        assert await store.next_cursor("pool-a") == 4  # reading without a cursor bumps nothing

    async def test_concurrent_cursor_bumps_never_repeat(self, store: Any) -> None:
        values = await asyncio.gather(*(store.next_cursor("busy") for _ in range(50)))
        assert sorted(values) == list(range(50))

    # -- usage -----------------------------------------------------------------------------

    async def test_usage_counts_requests_failures_and_tokens(self, store: Any, clock: FakeClock) -> None:
        await store.add_usage(CRED, MODEL, Usage(input_tokens=10, output_tokens=5, cache_read_tokens=2), failed=False)
        await store.add_usage(CRED, MODEL, Usage(input_tokens=1, output_tokens=1, reasoning_tokens=1), failed=False)
        await store.add_usage(CRED, MODEL, None, failed=True, error="overloaded (529)")
        await store.add_usage(OTHER, "m", None, failed=False)
        usage = await store.usage()
        totals = usage[CRED][MODEL]
        assert (totals.requests, totals.failures) == (3, 1)
        assert (totals.input_tokens, totals.output_tokens) == (11, 6)
        assert (totals.cache_read_tokens, totals.reasoning_tokens) == (2, 1)
        assert totals.last_error == "overloaded (529)"
        assert totals.last_error_at == clock()
        assert usage[OTHER]["m"].requests == 1 and usage[OTHER]["m"].last_error is None

    async def test_a_usage_snapshot_does_not_change_afterwards(self, store: Any, clock: FakeClock) -> None:
        await store.add_usage(CRED, MODEL, Usage(input_tokens=3), failed=False)
        before = await store.usage()
        await store.add_usage(CRED, MODEL, Usage(input_tokens=4), failed=True, error="boom")
        assert before[CRED][MODEL].requests == 1 and before[CRED][MODEL].input_tokens == 3
        assert before[CRED][MODEL].last_error is None
        assert (await store.usage())[CRED][MODEL].input_tokens == 7

    # -- client usage ----------------------------------------------------------------------

    async def test_client_usage_counts_requests_failures_and_tokens(self, store: Any) -> None:
        assert await store.client_usage() == {}
        await store.add_client_usage(
            "key-1", Usage(input_tokens=10, output_tokens=5, cache_read_tokens=2), failed=False
        )
        await store.add_client_usage("key-1", Usage(input_tokens=1, reasoning_tokens=3), failed=False)
        await store.add_client_usage("key-1", None, failed=True)
        await store.add_client_usage("team\tb:*", None, failed=True)  # names may hold tabs, colons, globs
        clients = await store.client_usage()
        assert set(clients) == {"key-1", "team\tb:*"}
        one = clients["key-1"]
        assert (one.requests, one.failures, one.input_tokens, one.output_tokens) == (3, 1, 11, 5)
        assert (one.cache_read_tokens, one.reasoning_tokens, one.last_error) == (2, 3, None)
        other = clients["team\tb:*"]
        assert (other.requests, other.failures, other.input_tokens) == (1, 1, 0)
        assert await store.usage() == {}  # apart from the credentials' counters

    async def test_client_names_past_the_cap_count_as_other(self, store: Any) -> None:
        for n in range(MAX_CLIENT_NAMES + 5):
            await store.add_client_usage(f"user-{n}", Usage(output_tokens=1), failed=False)
        await store.add_client_usage("user-0", None, failed=False)  # a name seen before the cap stays
        clients = await store.client_usage()
        assert len(clients) == MAX_CLIENT_NAMES + 1
        assert clients[OTHER_CLIENTS].requests == 5 and clients[OTHER_CLIENTS].output_tokens == 5
        assert clients["user-0"].requests == 2
        assert f"user-{MAX_CLIENT_NAMES}" not in clients

    # -- daily usage -----------------------------------------------------------------------

    async def test_daily_rows_add_up_per_day_and_key(self, store: Any, clock: FakeClock) -> None:
        today = day_of(clock())
        one = DailyKey("key-1", CRED, MODEL)
        two = DailyKey("team\tb:*", "-", "unknown\nmodel")  # stored with tabs and newlines made spaces
        two = DailyKey.of(two.client, two.credential, two.model)
        big = DailyCounts(1, 0, 10, 5, 2, 3, 1, 4_000_000_000_000, 0)  # costs beyond 2**32 nano-dollars
        await store.add_daily_usage(today, {one: big}, keep_days=30, max_rows=100)
        await store.add_daily_usage(
            today, {one: DailyCounts(requests=1, failures=1, unpriced=1), two: big}, keep_days=30, max_rows=100
        )
        await store.add_daily_usage("2026-12-31", {one: DailyCounts(requests=7)}, keep_days=30, max_rows=100)
        rows = await store.daily_usage(today, today)
        assert rows == {today: {one: DailyCounts(2, 1, 10, 5, 2, 3, 1, 4_000_000_000_000, 1), two: big}}
        assert two.client == "team b:*" and two.model == "unknown model"
        assert await store.daily_usage("2026-12-31", "2026-12-31") == {"2026-12-31": {one: DailyCounts(requests=7)}}
        assert set(await store.daily_usage("2026-12-01", today)) == {"2026-12-31", today}
        assert await store.daily_usage("2020-01-01", "2020-01-31") == {}

    async def test_daily_rows_past_the_cap_count_in_one_overflow_row(self, store: Any, clock: FakeClock) -> None:
        today = day_of(clock())
        for n in range(5):
            await store.add_daily_usage(
                today, {DailyKey(f"user-{n}", CRED, MODEL): DailyCounts(requests=1)}, keep_days=30, max_rows=3
            )
        await store.add_daily_usage(
            today, {DailyKey("user-0", CRED, MODEL): DailyCounts(requests=1)}, keep_days=30, max_rows=3
        )
        rows = (await store.daily_usage(today, today))[today]
        assert len(rows) == 4
        assert rows[OVERFLOW] == DailyCounts(requests=2)
        assert rows[DailyKey("user-0", CRED, MODEL)] == DailyCounts(requests=2)

    async def test_a_day_older_than_kept_is_not_added(self, store: Any, clock: FakeClock) -> None:
        today = day_of(clock())
        week_ago = day_of(clock() - 7 * 86400)
        key = DailyKey("key-1", CRED, MODEL)
        await store.add_daily_usage(week_ago, {key: DailyCounts(requests=1)}, keep_days=3, max_rows=10)
        await store.add_daily_usage(week_ago, {key: DailyCounts(requests=1)}, keep_days=30, max_rows=10)
        assert await store.daily_usage(week_ago, today) == {week_ago: {key: DailyCounts(requests=1)}}

    # -- values ----------------------------------------------------------------------------

    async def test_values_round_trip_and_expire(self, store: Any, clock: FakeClock) -> None:
        assert await store.get_value("tokens:x") is None
        await store.set_value("tokens:x", b"\x00binary\xff", ttl=None)
        await store.set_value("short", b"v", ttl=10)
        assert await store.get_value("tokens:x") == b"\x00binary\xff"
        assert await store.get_value("short") == b"v"
        clock.advance(11)
        assert await store.get_value("short") is None
        assert await store.get_value("tokens:x") == b"\x00binary\xff"
        await store.delete_value("tokens:x")
        assert await store.get_value("tokens:x") is None

    # -- linked values ---------------------------------------------------------------------

    async def test_a_chain_reads_back_newest_first(self, store: Any) -> None:
        assert await store.get_chain(SPACE, "a") == []
        await store.put_linked(SPACE, "a", b"one", parent=None, ttl=60, max_total=1000)
        await store.put_linked(SPACE, "b", b"\x00two\xff", parent="a", ttl=60, max_total=1000)
        await store.put_linked(SPACE, "c", b"three", parent="b", ttl=60, max_total=1000)
        assert await store.get_chain(SPACE, "c") == [b"three", b"\x00two\xff", b"one"]
        assert await store.get_chain(SPACE, "b") == [b"\x00two\xff", b"one"]
        assert await store.get_chain("other-space", "c") == []
        assert await store.linked_usage(SPACE) == (3, 3 + 5 + 5)

    async def test_a_chain_ends_at_a_link_no_longer_kept(self, store: Any) -> None:
        await store.put_linked(SPACE, "a", b"one", parent=None, ttl=60, max_total=1000)
        await store.put_linked(SPACE, "b", b"two", parent="a", ttl=60, max_total=1000)
        await store.put_linked(SPACE, "c", b"three", parent="b", ttl=60, max_total=1000)
        assert await store.delete_linked(SPACE, "b") is True
        assert await store.delete_linked(SPACE, "b") is False
        assert await store.get_chain(SPACE, "c") == [b"three"]
        assert await store.get_chain(SPACE, "b") == []
        assert await store.linked_usage(SPACE) == (2, 3 + 5)

    async def test_linked_values_expire_and_a_new_link_extends_its_chain(self, store: Any, clock: FakeClock) -> None:
        await store.put_linked(SPACE, "a", b"one", parent=None, ttl=60, max_total=1000)
        await store.put_linked(SPACE, "lone", b"x", parent=None, ttl=60, max_total=1000)
        clock.advance(50)
        await store.put_linked(SPACE, "b", b"two", parent="a", ttl=60, max_total=1000)
        clock.advance(20)  # 70 s after 'a' was kept, 20 s after it was continued
        assert await store.get_chain(SPACE, "b") == [b"two", b"one"]
        assert await store.get_chain(SPACE, "lone") == []
        assert await store.linked_usage(SPACE) == (2, 6)
        clock.advance(41)
        assert await store.get_chain(SPACE, "b") == []
        assert await store.linked_usage(SPACE) == (0, 0)

    async def test_the_total_holds_by_dropping_the_oldest_first(self, store: Any, clock: FakeClock) -> None:
        for name in "abcd":
            await store.put_linked(SPACE, name, b"x" * 10, parent=None, ttl=60, max_total=35)
            clock.advance(1)
        assert [await store.get_chain(SPACE, k) for k in "abcd"] == [[], [b"x" * 10], [b"x" * 10], [b"x" * 10]]
        # continuing 'b' makes it (and its chain) the newest: 'c' goes first now
        assert await store.put_linked(SPACE, "b2", b"y" * 10, parent="b", ttl=60, max_total=35) == 1
        assert await store.get_chain(SPACE, "c") == []
        assert await store.get_chain(SPACE, "b2") == [b"y" * 10, b"x" * 10]
        assert await store.put_linked(SPACE, "big", b"z" * 30, parent=None, ttl=60, max_total=35) == 3
        assert await store.linked_usage(SPACE) == (1, 30)
        with pytest.raises(ValueError):
            await store.put_linked(SPACE, "huge", b"z" * 36, parent=None, ttl=60, max_total=35)
        assert await store.linked_usage(SPACE) == (1, 30)

    async def test_replacing_a_linked_value_counts_its_new_size(self, store: Any) -> None:
        await store.put_linked(SPACE, "a", b"x" * 10, parent=None, ttl=60, max_total=100)
        await store.put_linked(SPACE, "a", b"y" * 4, parent=None, ttl=60, max_total=100)
        assert await store.get_chain(SPACE, "a") == [b"y" * 4]
        assert await store.linked_usage(SPACE) == (1, 4)

    async def test_a_chain_is_read_for_at_most_max_links(self, store: Any) -> None:
        parent = None
        for n in range(MAX_LINKS + 2):
            await store.put_linked(SPACE, f"k{n}", b"v", parent=parent, ttl=60, max_total=10_000)
            parent = f"k{n}"
        assert len(await store.get_chain(SPACE, parent)) == MAX_LINKS
        assert await store.get_chain(SPACE, parent, limit=2) == [b"v", b"v"]

    # -- client limits -----------------------------------------------------------------------

    async def test_rpm_admits_the_limit_per_sliding_minute(self, store: Any, clock: FakeClock) -> None:
        limits = RateLimits(rpm=3)
        for i in range(3):
            assert (await store.acquire("team-a", f"t{i}", limits, tokens=1, cost=0, lease=60)).admitted
            clock.advance(10)
        refused = await store.acquire("team-a", "t3", limits, tokens=1, cost=0, lease=60)
        assert refused.refused == "rpm" and refused.retry_after == pytest.approx(30)
        assert (await store.acquire("team-b", "t4", limits, tokens=1, cost=0, lease=60)).admitted  # its own window
        clock.advance(30)  # the first request leaves the window
        assert (await store.acquire("team-a", "t5", limits, tokens=1, cost=0, lease=60)).admitted
        assert not (await store.acquire("team-a", "t6", limits, tokens=1, cost=0, lease=60)).admitted

    async def test_tpm_charges_estimates_then_actual_tokens(self, store: Any, clock: FakeClock) -> None:
        limits = RateLimits(tpm=1000)
        first = await store.acquire("c", "a", limits, tokens=600, cost=0, lease=60)
        assert first.admitted
        clock.advance(20)
        refused = await store.acquire("c", "b", limits, tokens=500, cost=0, lease=60)
        assert refused.refused == "tpm" and refused.retry_after == pytest.approx(40)
        too_big = await store.acquire("c", "x", limits, tokens=1001, cost=0, lease=60)
        assert too_big.refused == "tpm" and too_big.retry_after is None  # never fits
        # the first used 300 tokens in the end, counted now: room for 700
        await store.release("c", "a", limits, first, charged=(600, 0), used=(300, 0))
        assert (await store.acquire("c", "b", limits, tokens=700, cost=0, lease=60)).admitted
        assert not (await store.acquire("c", "d", limits, tokens=1, cost=0, lease=60)).admitted
        clock.advance(60)
        assert (await store.acquire("c", "d", limits, tokens=1000, cost=0, lease=60)).admitted

    async def test_admission_says_what_the_windows_have_left(self, store: Any, clock: FakeClock) -> None:
        start = clock()
        limits = RateLimits(rpm=3, tpm=1000, parallel=5)
        first = await store.acquire("c", "a", limits, tokens=600, cost=0, lease=60)
        assert (first.requests_left, first.tokens_left) == (2, 400)
        assert first.requests_reset_at == pytest.approx(start + 60, abs=0.01)
        assert first.tokens_reset_at == pytest.approx(start + 60, abs=0.01)
        clock.advance(20.5)
        second = await store.acquire("c", "b", limits, tokens=150, cost=0, lease=60)
        assert (second.requests_left, second.tokens_left) == (1, 250)
        # the oldest entry, not this one, says when each window next has more room
        assert second.requests_reset_at == pytest.approx(start + 60, abs=0.01)
        assert second.tokens_reset_at == pytest.approx(start + 60, abs=0.01)
        # a settled charge re-enters the tpm window at its settling time
        await store.release("c", "a", limits, first, charged=(600, 0), used=(100, 0))
        clock.advance(10)
        third = await store.acquire("c", "d", limits, tokens=50, cost=0, lease=60)
        assert (third.requests_left, third.tokens_left) == (0, 700)
        assert third.requests_reset_at == pytest.approx(start + 60, abs=0.01)
        assert third.tokens_reset_at == pytest.approx(start + 20.5 + 60, abs=0.01)
        # limits without windows say nothing
        budget = await store.acquire("other", "e", RateLimits(parallel=1, daily_tokens=10), tokens=1, cost=0, lease=60)
        assert budget.admitted
        assert (budget.requests_left, budget.requests_reset_at, budget.tokens_left, budget.tokens_reset_at) == (
            None,
            None,
            None,
            None,
        )
        assert (await store.acquire("c", "f", limits, tokens=1, cost=0, lease=60)).requests_left is None  # refused

    async def test_limit_usage_reads_what_each_limit_holds(self, store: Any, clock: FakeClock) -> None:
        assert await store.limit_usage("nobody") == LimitUsage(0, 0, 0, 0, 0, day_of(clock()), day_of(clock())[:7])
        limits = RateLimits(rpm=10, tpm=1000, parallel=5, daily_tokens=10_000, monthly_nanos=10_000)
        first = await store.acquire("c", "a", limits, tokens=300, cost=40, lease=120)
        clock.advance(30)
        await store.acquire("c", "b", limits, tokens=200, cost=10, lease=120)
        await store.release("c", "a", limits, first, charged=(300, 40), used=(100, 70))
        usage = await store.limit_usage("c")
        assert (usage.requests, usage.tokens, usage.in_flight) == (2, 300, 1)
        assert (usage.day_tokens, usage.month_nanos) == (300, 80)
        assert await store.limit_usage("c") == usage  # reading takes nothing
        clock.advance(30.5)  # the first request leaves the rpm window; its settled charge stays in tpm
        usage = await store.limit_usage("c")
        assert (usage.requests, usage.tokens, usage.in_flight) == (1, 300, 1)
        clock.advance(90)  # the tpm window empties, and the second lease ends
        usage = await store.limit_usage("c")
        assert (usage.requests, usage.tokens, usage.in_flight, usage.day_tokens) == (0, 0, 0, 300)

    async def test_max_parallel_counts_requests_in_flight(self, store: Any, clock: FakeClock) -> None:
        limits = RateLimits(parallel=2)
        one = await store.acquire("c", "1", limits, tokens=0, cost=0, lease=600)
        assert one.admitted and (await store.acquire("c", "2", limits, tokens=0, cost=0, lease=600)).admitted
        refused = await store.acquire("c", "3", limits, tokens=0, cost=0, lease=600)
        assert refused.refused == "max-parallel" and refused.retry_after is not None
        await store.release("c", "1", limits, one, charged=(0, 0), used=(0, 0))
        assert (await store.acquire("c", "3", limits, tokens=0, cost=0, lease=600)).admitted
        assert not (await store.acquire("c", "4", limits, tokens=0, cost=0, lease=600)).admitted
        clock.advance(601)  # the leases of an instance that died end by themselves
        assert (await store.acquire("c", "4", limits, tokens=0, cost=0, lease=600)).admitted

    async def test_budgets_reserve_then_settle_and_say_when_they_reset(self, store: Any, clock: FakeClock) -> None:
        limits = RateLimits(daily_tokens=1000, monthly_nanos=5_000)
        first = await store.acquire("c", "1", limits, tokens=400, cost=1_000, lease=60)
        assert first.admitted
        # the estimate is held: 400 + 700 > 1000
        day = await store.acquire("c", "2", limits, tokens=700, cost=0, lease=60)
        assert day.refused == "daily-tokens" and day.retry_after == pytest.approx(next_day(clock()) - clock())
        # it used 200 tokens and cost 4500 nanos: now 800 tokens fit, and no cost
        await store.release("c", "1", limits, first, charged=(400, 1_000), used=(200, 4_500))
        assert (await store.acquire("c", "2", limits, tokens=800, cost=0, lease=60)).admitted
        month = await store.acquire("c", "3", limits, tokens=0, cost=501, lease=60)
        assert month.refused == "monthly-budget-usd"
        assert month.retry_after == pytest.approx(next_month(clock()) - clock())
        # a request that failed gives back what it reserved
        held = await store.acquire("c", "4", limits, tokens=0, cost=500, lease=60)
        assert held.admitted
        await store.release("c", "4", limits, held, charged=(0, 500), used=(0, 0))
        assert (await store.acquire("c", "5", limits, tokens=0, cost=500, lease=60)).admitted
        clock.advance(next_day(clock()) - clock())  # a new day: tokens again (the month goes on)
        assert (await store.acquire("c", "6", limits, tokens=1000, cost=0, lease=60)).admitted

    async def test_concurrent_acquires_never_pass_the_limit(self, store: Any) -> None:
        limits = RateLimits(rpm=7, parallel=5)
        answers = await asyncio.gather(
            *(store.acquire("c", f"t{i}", limits, tokens=1, cost=0, lease=60) for i in range(40))
        )
        assert sum(a.admitted for a in answers) == 5
        assert {a.refused for a in answers if not a.admitted} == {"max-parallel"}

    # -- locks -----------------------------------------------------------------------------

    async def test_lock_lets_one_holder_in_at_a_time(self, store: Any) -> None:
        inside = 0
        most = 0
        order: list[int] = []

        async def worker(n: int) -> None:
            nonlocal inside, most
            async with store.lock("refresh:cred", ttl=10):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.01)
                order.append(n)
                inside -= 1

        await asyncio.gather(*(worker(n) for n in range(4)))
        assert most == 1
        assert sorted(order) == [0, 1, 2, 3]

    async def test_locks_on_different_keys_do_not_block_each_other(self, store: Any) -> None:
        async with store.lock("a", ttl=10):
            await asyncio.wait_for(_hold(store, "b"), timeout=5)


async def _hold(store: Any, key: str) -> None:
    async with store.lock(key, ttl=10):
        pass

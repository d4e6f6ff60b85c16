"""The panel's activity recorder stays within its bounds."""

from __future__ import annotations

from cliproxy.activity import Activity
from cliproxy.exchange import Exchange


async def _send(message: object) -> None:
    return None


def exchange(n: int, *, status: int = 200, door: str = "openai-chat", provider: str = "echo") -> Exchange:
    found = Exchange(_send, door, f"req-{n}")
    found.status = status
    found.provider = provider
    return found


def test_the_recent_list_and_the_minutes_are_bounded():
    activity = Activity(minutes=3, recent=4)
    for n in range(10):
        activity.record(exchange(n), now=60.0 * n, cost_nanos=None, kept=False)
    assert [r["id"] for r in activity.recent()] == ["req-9", "req-8", "req-7", "req-6"]
    series = activity.minutes(100, 60.0 * 9)
    assert [m["requests"] for m in series] == [1, 1, 1]
    quiet = activity.minutes(5, 60.0 * 20)  # at most the minutes kept; those without requests as zeros
    assert [m["requests"] for m in quiet] == [0] * 3
    assert [m["time"][11:16] for m in quiet] == ["00:18", "00:19", "00:20"]


def test_a_minute_counts_errors_cost_and_caps_the_names_it_keeps():
    activity = Activity()
    for n in range(100):
        activity.record(
            exchange(n, status=500 if n % 2 else 200, door=f"door-{n}"), now=5.0, cost_nanos=1000, kept=True
        )
    (minute,) = activity.minutes(1, 5.0)
    assert (minute["requests"], minute["errors"], minute["cost_usd"]) == (100, 50, 100_000 / 1e9)
    assert len(minute["doors"]) == 65 and minute["doors"]["other"] == 36
    assert minute["providers"] == {"echo": 100}

"""finish_shielded: work that must finish, run in the caller's task until it has to wait."""

from __future__ import annotations

import asyncio

import pytest
from cliproxy.eager import finish_shielded


async def test_work_that_never_waits_runs_in_the_callers_task():
    caller = asyncio.current_task()

    async def work() -> object:
        return asyncio.current_task()

    assert await finish_shielded(work()) is caller


async def test_work_that_waits_finishes_in_a_task_of_its_own():
    gate = asyncio.get_running_loop().create_future()
    seen: list[object] = []

    async def work() -> int:
        seen.append(asyncio.current_task())
        value = await gate
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return value + 1

    asyncio.get_running_loop().call_soon(gate.set_result, 41)
    assert await finish_shielded(work()) == 42
    assert seen[0] is asyncio.current_task() and seen[1] is not seen[0]


async def test_cancelling_the_caller_does_not_cancel_the_work():
    gate = asyncio.Event()
    finished = asyncio.Event()

    async def work() -> None:
        await gate.wait()
        finished.set()

    caller = asyncio.ensure_future(finish_shielded(work()))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set()
    await asyncio.wait_for(finished.wait(), 5)


@pytest.mark.parametrize("wait_first", [False, True])
async def test_errors_reach_the_caller(wait_first):
    async def work() -> None:
        if wait_first:
            await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await finish_shielded(work())


async def test_an_error_the_work_waits_on_is_raised_inside_it():
    failing = asyncio.get_running_loop().create_future()

    async def work() -> str:
        try:
            await failing
        except KeyError:
            return "handled"
        return "not raised"

    asyncio.get_running_loop().call_soon(failing.set_exception, KeyError("x"))
    assert await finish_shielded(work()) == "handled"

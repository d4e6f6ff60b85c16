"""Request ids: unique within a process and across forked workers."""

from __future__ import annotations

import os

from cliproxy.exchange import new_request_id


def test_ids_in_one_process_are_unique_and_sixteen_hex_digits() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert len({i[:8] for i in ids}) == 1  # one prefix per process


def test_a_forked_worker_draws_a_prefix_of_its_own() -> None:
    parent = new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave at once
        try:
            os.write(write, new_request_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child[:8] != parent[:8]
    assert new_request_id()[:8] == parent[:8]  # the parent keeps its own

"""Group commit: appends made at the same time are written together, the chain stays exact."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from masterai.audit import AuditEntry, AuditLog, Checkpoint, MemoryCheckpoints
from masterai.store import Database


class CountingCheckpoints(MemoryCheckpoints):
    """A memory checkpoint store that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, checkpoint: Checkpoint) -> None:
        self.writes += 1
        super().write(checkpoint)


def entry(i: int) -> AuditEntry:
    return AuditEntry(tool="clock", operation="get_time", params={"i": i}, status="ok")


def wait_for(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_appends_waiting_for_the_writer_go_in_one_transaction_and_one_checkpoint(
    database: Database,
) -> None:
    checkpoints = CountingCheckpoints()
    log = AuditLog(database, checkpoints=[checkpoints])
    log.append(entry(0))
    assert checkpoints.writes == 1
    ids: list[int] = []
    # Hold the writer lock, as a writer busy with an earlier group would, while 8 appends queue.
    with log._lock:
        threads = [
            threading.Thread(target=lambda i=i: ids.append(log.append(entry(i)).id))
            for i in range(1, 9)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(log._pending) == 8)
    for thread in threads:
        thread.join(10)
    assert sorted(ids) == list(range(2, 10))
    assert checkpoints.writes == 2
    report = log.verify()
    assert (report.ok, report.checked) == (True, 9)
    assert checkpoints.read() is not None and checkpoints.read().last_id == 9  # type: ignore[union-attr]


def test_many_threads_appending_at_once_leave_a_gapless_verified_chain(
    database: Database,
) -> None:
    log = AuditLog(database)
    ids: list[int] = []

    def work(start: int) -> None:
        for i in range(start, start + 25):
            ids.append(log.append(entry(i)).id)

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(ids) == list(range(1, 201))
    assert log.verify().ok
    params = [r.params["i"] for r in log.recent(200)]
    assert sorted(params) == sorted(n * 100 + i for n in range(8) for i in range(25))


def test_a_record_the_database_refuses_fails_only_its_own_append(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite stores any integer; PostgreSQL refuses one past 32 bits")
    log = AuditLog(database)
    outcomes: dict[int, object] = {}

    def append(i: int, user_id: int) -> None:
        try:
            outcomes[i] = log.append(
                AuditEntry(tool="clock", operation="get_time", user_id=user_id, status="ok")
            ).id
        except Exception as e:
            outcomes[i] = e

    with log._lock:  # the three wait for the writer together: one group
        threads = [
            threading.Thread(target=append, args=(i, value))
            for i, value in enumerate([1, 2**40, 2])
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(log._pending) == 3)
    for thread in threads:
        thread.join(10)
    assert isinstance(outcomes[1], Exception)
    assert sorted(o for o in outcomes.values() if isinstance(o, int)) == [1, 2]
    assert log.verify().ok


async def test_appends_of_one_event_loop_are_grouped_beyond_the_thread_pool(
    database: Database,
) -> None:
    """64 calls at once on a loop: far fewer writes than calls, the chain gapless."""
    checkpoints = CountingCheckpoints()
    log = AuditLog(database, checkpoints=[checkpoints])
    log.append(entry(0))
    records = await asyncio.gather(*(log.append_async(entry(i)) for i in range(1, 65)))
    # and a second wave, while nothing is being written
    more = await asyncio.gather(*(log.append_async(entry(i)) for i in range(65, 69)))

    assert sorted(r.id for r in [*records, *more]) == list(range(2, 70))
    assert [r.params["i"] for r in sorted(records, key=lambda r: r.id)] == list(range(1, 65))
    assert checkpoints.writes <= 1 + 3  # the first append, then at most one per wave and a rest
    report = log.verify()
    assert (report.ok, report.checked) == (True, 69)


async def test_a_loop_append_the_database_refuses_fails_alone_and_the_others_are_written(
    database: Database,
) -> None:
    if database.dialect != "postgresql":
        pytest.skip("SQLite stores any integer; PostgreSQL refuses one past 32 bits")
    log = AuditLog(database)

    async def append(user_id: int) -> object:
        try:
            return (
                await log.append_async(AuditEntry(tool="clock", user_id=user_id, status="ok"))
            ).id
        except Exception as e:
            return e

    outcomes = await asyncio.gather(append(1), append(2**40), append(2))

    assert isinstance(outcomes[1], Exception)
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2]
    assert log.verify().ok

"""``aggregator.writebehind.WriteBehind``: batches written in order by a thread of their
own, the caller going on meanwhile, the first error handed back to the caller."""

from __future__ import annotations

import threading

import pytest

from aggregator.writebehind import WriteBehind


class Recorder:
    """A write function that records batches and can be held or made to fail."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.written: list[int] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.release.set()
        self.fail_on = fail_on

    def __call__(self, batch: int) -> None:
        self.release.wait(10)
        self.threads.add(threading.current_thread().name)
        if batch == self.fail_on:
            raise ValueError(f"batch {batch} refused")
        self.written.append(batch)


def test_every_batch_is_written_in_order_by_another_thread() -> None:
    write = Recorder()
    with WriteBehind(write, name="store-test") as writer:
        for batch in range(20):
            writer.put(batch)
    assert write.written == list(range(20))
    assert write.threads == {"store-test"}


def test_put_returns_while_a_write_is_still_running() -> None:
    write = Recorder()
    write.release.clear()  # the first write waits until released
    with WriteBehind(write, depth=2) as writer:
        writer.put(1)
        writer.put(2)  # returned although batch 1 is not written yet
        assert write.written == []
        write.release.set()
    assert write.written == [1, 2]  # leaving the block waited for both


def test_put_waits_when_depth_batches_wait_already() -> None:
    write = Recorder()
    write.release.clear()
    returned = threading.Event()
    with WriteBehind(write, depth=1) as writer:
        writer.put(1)  # taken by the thread, held in write
        writer.put(2)  # waits in the queue

        def put_third() -> None:
            writer.put(3)
            returned.set()

        third = threading.Thread(target=put_third)
        third.start()
        assert not returned.wait(0.3)  # the queue is full: the caller is held back
        write.release.set()
        assert returned.wait(10)
        third.join()
    assert write.written == [1, 2, 3]


def test_the_first_error_reaches_the_caller_and_later_batches_are_not_written() -> None:
    write = Recorder(fail_on=2)
    with pytest.raises(ValueError, match="batch 2 refused"), WriteBehind(write) as writer:
        for batch in range(1, 6):
            writer.put(batch)
    assert write.written == [1]


def test_an_error_of_the_caller_wins_and_the_thread_ends() -> None:
    write = Recorder(fail_on=1)
    writer = WriteBehind(write, name="store-stopped")
    with pytest.raises(KeyError), writer:
        writer.put(1)
        raise KeyError("the caller's own error")
    assert not any(t.name == "store-stopped" for t in threading.enumerate())

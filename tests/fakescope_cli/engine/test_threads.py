"""The default llama.cpp thread count: the cores other programs leave free, shared among workers."""

from __future__ import annotations

import pytest

from fakescope_cli.engine.threads import busy_cores, default_threads


@pytest.mark.parametrize(
    ("cores", "busy", "workers", "threads"),
    [(2, 0, 1, 2), (2, 1, 1, 1), (2, 5, 1, 1), (8, 2, 1, 6), (8, 0, 2, 4), (8, 3, 2, 2), (1, 0, 4, 1)],
)
def test_free_cores_shared_among_workers(cores: int, busy: int, workers: int, threads: int) -> None:
    assert default_threads(workers, cores, busy) == threads


def test_busy_cores_reads_the_runnable_tasks_less_this_one() -> None:
    assert busy_cores("0.52 0.58 0.59 3/412 12345\n") == 2
    assert busy_cores("0.00 0.01 0.05 1/90 777\n") == 0
    assert busy_cores("garbage") == 0
    assert busy_cores() >= 0  # this machine's own /proc/loadavg (0 where there is none)

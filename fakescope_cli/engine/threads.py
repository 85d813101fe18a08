"""How many llama.cpp threads a model gets: the cores this process may use, less those other
programs are busy with."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_cores(proc_loadavg: str | None = None) -> int:
    """Cores other programs are using right now: the runnable tasks in /proc/loadavg's fourth
    field, less this process's own; 0 where there is no /proc (macOS)."""
    if proc_loadavg is None:
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                proc_loadavg = handle.read()
        except OSError:
            return 0
    try:
        running = int(proc_loadavg.split()[3].split("/")[0])
    except (IndexError, ValueError):
        return 0
    return max(0, running - 1)


def default_threads(workers: int = 1, cores: int | None = None, busy: int | None = None) -> int:
    """llama.cpp threads per model when the user gave none: the free cores shared among the
    workers. Its threads spin-wait for each other at every step, so one thread whose core another
    job holds stalls them all (``python -m fakescope_cli.bench_threads`` measures it); fewer
    threads degrade gracefully instead."""
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, (cores - min(busy, cores - 1)) // max(1, workers))

"""``core_free``: whether dirty-day evaluation may use a second thread (issue 17).

It judges by the CPU time *other* processes used over a short window (``/proc/stat``
less this process's own CPU time), not by the 1-minute load average, which still holds this
process's own work right after an import. Real files, real processes, no mocks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.service.evaluate import core_free

_STAT = Path("/proc/stat")


def _stat_line(busy: int, idle: int) -> str:
    # user nice system idle iowait irq softirq steal (clock ticks)
    return f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n"


def test_this_process_s_own_work_does_not_count(tmp_path: Path) -> None:
    # The kernel's busy counter grows by this process's own work (a spinning thread) plus
    # others' work that leaves 1.3 cores idle: a core is free. Counting our own work too
    # (the load average's way) would leave less than one.
    stat = tmp_path / "stat"
    stat.write_text(_stat_line(1_000, 5_000))
    cores, ticks, window = os.cpu_count() or 1, os.sysconf("SC_CLK_TCK"), 0.4

    def own_and_others_work() -> None:
        start = time.thread_time()
        stop = time.monotonic() + 0.25
        while time.monotonic() < stop:
            sum(range(10_000))
        own = time.thread_time() - start
        others = max(cores - 1.3, 0.0) * window
        stat.write_text(_stat_line(1_000 + round((own + others) * ticks), 5_000))

    worker = threading.Thread(target=own_and_others_work)
    worker.start()
    try:
        assert core_free(window=window, stat=str(stat)) is True
    finally:
        worker.join()


def test_other_processes_filling_the_cores_leave_none_free(tmp_path: Path) -> None:
    # Another process's busy ticks grow by all cores' worth during the window.
    stat = tmp_path / "stat"
    stat.write_text(_stat_line(1_000, 5_000))
    cores = os.cpu_count() or 1
    ticks = os.sysconf("SC_CLK_TCK")

    def others_work() -> None:
        time.sleep(0.02)
        stat.write_text(_stat_line(1_000 + int(cores * ticks * 1.0), 5_000))

    worker = threading.Thread(target=others_work)
    worker.start()
    try:
        assert core_free(window=0.2, stat=str(stat)) is False
    finally:
        worker.join()


@pytest.mark.skipif(not _STAT.exists(), reason="needs Linux /proc/stat")
def test_real_processes_spinning_on_every_core_leave_none_free() -> None:
    cores = os.cpu_count() or 1
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.3)  # (the spinners running)
        assert core_free(window=0.3) is False
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_an_unreadable_stat_file_falls_back_to_the_load_average(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("not the kernel's counters\n")

    def by_load() -> bool:
        return os.getloadavg()[0] <= (os.cpu_count() or 1) - 1

    for path in (stat, tmp_path / "missing"):
        before = by_load()
        judged = core_free(window=0.01, stat=str(path))
        assert judged in {before, by_load()}  # (the load average may move meanwhile)

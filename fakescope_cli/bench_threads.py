"""`make bench`: llama.cpp's threads on a busy machine. Its worker threads spin-wait for each other
at every step, so a thread whose core another program holds stalls the rest. Times the scoring of
the same images with 1 thread and with every core, on an idle machine and with a busy loop
holding one core, and prints the thread count FakeScope picks by default in each case.

Uses the bundled FakeScope-mini where the checkout has it, else the mini-shaped random model that
``bench_crops`` builds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from fakescope_cli import paths
from fakescope_cli.bench_crops import _model, _photos
from fakescope_cli.discovery import InputFile
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.engine.native import LoadOptions
from fakescope_cli.engine.threads import default_threads, usable_cores
from fakescope_cli.models import ModelFiles, locate_model
from fakescope_cli.scan import ScanOptions, analyse_file


def _spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        pass


def _seconds(files: ModelFiles, threads: int, images: list[Path]) -> float:
    with LlamaEngine(files, LoadOptions(threads=threads)) as engine:
        options = ScanOptions()
        started = time.perf_counter()
        for path in images:
            analyse_file(engine, InputFile(path), options)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=6)
    args = parser.parse_args(argv)
    bundled = paths.bundled_model_dir()
    files = locate_model(bundled) if any(bundled.glob("*.gguf")) else _model(args.work)
    images = _photos(args.work / "photos-640x480", args.images, (640, 480))
    cores = usable_cores()
    sys.stdout.write(f"threads on a busy machine ({files.text.name}, {len(images)} images of 640x480)\n")
    for state in ("idle", "one core busy"):
        stop = multiprocessing.Event()
        spinner = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        if state != "idle":
            spinner.start()
            time.sleep(0.5)
        try:
            chosen = default_threads()
            for threads in sorted({1, cores}):
                seconds = _seconds(files, threads, images)
                mark = "  <- default here" if threads == chosen else ""
                sys.stdout.write(
                    f"  {state:<14} {threads} thread(s): {seconds:6.2f} s "
                    f"({seconds / len(images):.2f} s an image){mark}\n"
                )
        finally:
            stop.set()
            if spinner.is_alive():
                spinner.join()


if __name__ == "__main__":
    main()

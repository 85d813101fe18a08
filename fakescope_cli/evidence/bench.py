"""`make bench` (evidence part): time of each evidence analyser on a 12-megapixel camera-style JPEG,
pinned to one CPU core. Figures are printed; no test asserts a time."""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope_cli.evidence.engine import EvidenceOptions, gather_evidence
from fakescope_cli.imageio import decode_image

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "astronaut.png"


def camera_like_jpeg(size: tuple[int, int] = (4000, 3000), seed: int = 0) -> bytes:
    """A bundled photo enlarged to ``size`` with sensor-like noise, saved with camera-style EXIF."""
    base = Image.open(SAMPLE).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    noise = np.random.default_rng(seed).normal(0, 4, (size[1], size[0], 3)).astype(np.float32)
    image = Image.fromarray(np.clip(np.asarray(base, dtype=np.float32) + noise, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "BenchCam", "Model 1"
    exif.get_ifd(0x8769)[0x9003] = "2025:01:01 12:00:00"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    data = camera_like_jpeg()
    path = Path("bench-12mp.jpg")
    gather_evidence(path, data)  # warm-up: imports (scipy, imagehash, c2pa) and caches
    per_step: dict[str, list[float]] = {}
    totals, decodes = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        decoded = decode_image(path, data)
        decodes.append(time.perf_counter() - started)
        report = gather_evidence(path, data, decoded, EvidenceOptions())
        totals.append(time.perf_counter() - started)
        for step, seconds in report.timings.items():
            per_step.setdefault(step, []).append(seconds)
    sys.stdout.write(
        f"evidence on a 4000x3000 JPEG ({len(data) / 2**20:.1f} MiB), one core, median of {args.runs}\n"
    )
    rows = [("decode (shared with the model)", statistics.median(decodes))]
    rows += [(step, statistics.median(values)) for step, values in per_step.items()]
    rows.append(("total, decode included", statistics.median(totals)))
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        sys.stdout.write(f"  {name:<{width}}  {seconds * 1000:8.1f} ms\n")


if __name__ == "__main__":
    main()

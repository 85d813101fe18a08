"""`make bench`: scan speed, memory and Python-side overhead on a SmolVLM-256M-shaped model.

The model is random-init (built by ``conversion.synthetic`` in a subprocess, exported by our
converter, text quantized to Q8_0 by llama.cpp): it measures cost, not detection. Figures are
printed; there are no pass/fail timings in the test suite.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope_cli.discovery import discover
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.engine.native import LoadOptions
from fakescope_cli.models import ModelFiles
from fakescope_cli.scan import ScanOptions, scan_files

BUILD_SCRIPT = """
import sys
from pathlib import Path
from conversion.synthetic import SMOLVLM_256M_SHAPE, build_tiny_idefics3
from conversion.export import export_checkpoint
from conversion.quantize import quantize_text_gguf
out = Path(sys.argv[1])
ckpt = build_tiny_idefics3(out / "checkpoint" / "smolvlm256m-random", SMOLVLM_256M_SHAPE)
result = export_checkpoint(ckpt, out, name="smolvlm256m-random-f16", outtype="f16")
quantize_text_gguf(result.text, out / "smolvlm256m-random-q8_0.gguf", "q8_0")
"""


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _model(work: Path) -> ModelFiles:
    text = work / "smolvlm256m-random-q8_0.gguf"
    mmproj = work / "smolvlm256m-random-f16.mmproj.gguf"
    if not (text.is_file() and mmproj.is_file()):
        sys.stderr.write("building the SmolVLM-256M-shaped random model (once)...\n")
        subprocess.run([sys.executable, "-c", BUILD_SCRIPT, str(work)], check=True)
    return ModelFiles(text, mmproj, "bench")


def _images(folder: Path, count: int, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC).save(
            folder / f"img{i:03d}.jpg", quality=90
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--size", default="640x480", help="image size WxH")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    files = _model(args.work)
    folder = args.work / f"images-{args.size}"
    _images(folder, args.images, (width, height))

    started = time.perf_counter()
    engine = LlamaEngine(files, LoadOptions(n_ctx=4096))
    load_seconds = time.perf_counter() - started
    rss_after = []
    with engine:
        inputs = list(discover([folder]))
        engine.native.reset_timers()
        started = time.perf_counter()
        for result in scan_files(engine, inputs, ScanOptions(evidence=None)):  # model cost only
            if result.error:
                raise SystemExit(f"bench image failed: {result.error}")
            rss_after.append(_rss_mib())
        wall = time.perf_counter() - started
        native = engine.native.native_seconds
        tokens = engine.native.prompt_positions
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("model", f"{files.text.name} + {files.mmproj.name} (random weights)"),
        ("images", f"{len(inputs)} x {args.size} JPEG ({tokens} prompt positions each)"),
        ("model load", f"{load_seconds:.2f} s"),
        ("scan wall time", f"{wall:.2f} s"),
        ("images per second", f"{len(inputs) / wall:.3f}"),
        ("seconds per image", f"{wall / len(inputs):.2f}"),
        ("inside llama.cpp encode + prefill", f"{native:.2f} s"),
        (
            "outside llama.cpp (Python, image decoding)",
            f"{(wall - native) / wall:.1%} of scan time (target <= 10%)",
        ),
        (
            "RSS after first / last image",
            f"{rss_after[0]:.0f} / {rss_after[-1]:.0f} MiB (flat = no growth per image)",
        ),
        ("peak RSS", f"{peak:.0f} MiB"),
    ]
    width_col = max(len(k) for k, _ in rows)
    for key, value in rows:
        sys.stdout.write(f"{key:<{width_col}}  {value}\n")


if __name__ == "__main__":
    main()

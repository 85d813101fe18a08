"""`make bench` (conversion part): time, peak memory and quantization error of an export.

On the SmolVLM-256M-shaped random checkpoint (``conversion.synthetic``), each export runs in
its own process, which reports its wall time and peak RSS: the converter streams tensors, so the
peak should stay well below the checkpoint's size. Then p(fake) and the answer-position logits of
the q8_0 and q4_k_m text models are compared with the f16 export (same f16 projector), which
isolates the quantizer's error; the f16 export's own distance to transformers is what the
tests measure on tiny models (transformers needs minutes per image at this shape on 2 cores).
The weights are random: the figures measure the tools, not detection.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

CHECKPOINT = Path("checkpoint") / "smolvlm256m-random"
QUANTS = ("f16", "q8_0", "q4_k_m")

BUILD = """
import sys
from pathlib import Path
from conversion.synthetic import SMOLVLM_256M_SHAPE, build_tiny_idefics3
build_tiny_idefics3(Path(sys.argv[1]), SMOLVLM_256M_SHAPE)
"""

EXPORT = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from conversion.export import export_checkpoint
from transformers import AutoConfig  # what Checkpoint.open imports: part of the baseline
with open("/proc/self/statm") as fh:
    baseline = int(fh.read().split()[1]) * resource.getpagesize() / 2**20
result = export_checkpoint(Path(sys.argv[1]), Path(sys.argv[2]), name=sys.argv[3], quant=sys.argv[4])
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "baseline_rss_mib": baseline,
    "text_bytes": result.text.stat().st_size,
    "mmproj_bytes": result.mmproj.stat().st_size,
}))
"""


def _folder_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.glob(pattern))


def _images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        path = folder / f"q{i}.png"
        Image.fromarray(coarse).resize((512, 512), Image.Resampling.BICUBIC).save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=2, help="images for the quantization error")
    parser.add_argument("--no-fidelity", action="store_true", help="timings and memory only")
    args = parser.parse_args(argv)
    checkpoint = args.work / CHECKPOINT
    if not (checkpoint / "config.json").is_file():
        sys.stderr.write("building the SmolVLM-256M-shaped random checkpoint (once)...\n")
        subprocess.run([sys.executable, "-c", BUILD, str(checkpoint)], check=True)
    out = args.work / "conversion"
    source_mib = _folder_bytes(checkpoint, "*.safetensors") / 2**20
    from conversion.checkpoint import Checkpoint

    largest = (
        max(np.prod(shape) for shape in Checkpoint.open(checkpoint).tensor_shapes().values()) * 4 / 2**20
    )
    rows = [
        (
            "checkpoint",
            f"{checkpoint} ({source_mib:.0f} MiB of f32 safetensors, largest tensor {largest:.0f} MiB; "
            "random weights)",
        )
    ]
    exports = {}
    for quant in QUANTS:
        proc = subprocess.run(
            [sys.executable, "-c", EXPORT, str(checkpoint), str(out), f"bench-{quant}", quant],
            check=True,
            capture_output=True,
            text=True,
        )
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        exports[quant] = stats
        rows.append(
            (
                f"export --quant {quant}",
                f"{stats['seconds']:.1f} s, peak RSS {stats['peak_rss_mib']:.0f} MiB "
                f"({stats['baseline_rss_mib']:.0f} MiB after imports), text "
                f"{stats['text_bytes'] / 2**20:.0f} MiB + mmproj {stats['mmproj_bytes'] / 2**20:.0f} MiB",
            )
        )
    if not args.no_fidelity:
        rows += _fidelity(out, _images(args.work / "quant-images", args.images))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        sys.stdout.write(f"{key:<{width}}  {value}\n")


def _fidelity(out: Path, images: list[Path]) -> list[tuple[str, str]]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import ModelFiles

    results: dict[str, list[tuple[float, np.ndarray]]] = {}
    seconds: dict[str, float] = {}
    for quant in QUANTS:
        files = ModelFiles(out / f"bench-{quant}.gguf", out / "bench-f16.mmproj.gguf", "bench")
        started = time.perf_counter()
        with LlamaEngine(files, LoadOptions(n_ctx=4096)) as engine:
            prompt = engine.native_prompt(engine.profile.judge_prompt)
            results[quant] = []
            for path in images:
                image = load_image(path)
                logits = engine.native.evaluate(prompt, image.rgb, image.width, image.height, image.pixel_id)
                results[quant].append((engine.score(image).p_fake, logits))
        seconds[quant] = (time.perf_counter() - started) / len(images)
    base = results["f16"]
    rows = [("f16 p(fake)", f"{[round(p, 4) for p, _ in base]} ({seconds['f16']:.0f} s per image)")]
    for quant in QUANTS[1:]:
        pairs = list(zip(results[quant], base, strict=True))
        dp = max(abs(q[0] - b[0]) for q, b in pairs)
        dl = max(float(np.max(np.abs(q[1] - b[1]))) for q, b in pairs)
        spread = max(float(np.ptp(b[1])) for _, b in pairs)
        same = sum(int(np.argmax(q[1]) == np.argmax(b[1])) for q, b in pairs)
        rows.append(
            (
                f"{quant} vs f16",
                f"|dp(fake)| max {dp:.2e}, max |dlogit| {dl:.3f} (logit range {spread:.1f}), "
                f"top-1 same {same}/{len(pairs)} ({seconds[quant]:.0f} s per image)",
            )
        )
    return rows


if __name__ == "__main__":
    main()

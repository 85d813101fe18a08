"""`make bench`: seconds per 12-megapixel JPEG against the number of native crops judged, for
FakeScope-mini's shape (Idefics3: 64 px tiles of 8 px patches, 192 x 4 vision, pixel shuffle 4,
128 px crops; 30-layer 576-wide Llama text at q4_k_m, projector at q8_0), score only and with file evidence.

The model is random-init (built once by ``conversion.synthetic`` in a subprocess): it measures
cost, not detection. The crop count is changed on the loaded engine's profile between runs; each
figure is in-process (decode + crops + scoring, and the evidence engine when asked), without
process start or model load, which are printed apart.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from fakescope_cli.discovery import InputFile
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.engine.native import LoadOptions
from fakescope_cli.evidence.options import EvidenceOptions
from fakescope_cli.models import ModelFiles
from fakescope_cli.scan import ScanOptions, analyse_file

BUILD_SCRIPT = """
import sys
from dataclasses import replace
from pathlib import Path
from conversion.synthetic import TinyShape, build_tiny_idefics3
from conversion.export import export_checkpoint
from fakescope_cli.profile import DEFAULT_PROFILE
shape = TinyShape(vision_hidden=192, vision_layers=4, vision_heads=3, vision_ffn=768, tile=64, patch=8,
                  longest_edge=128, text_hidden=576, text_layers=30, text_heads=9, text_kv_heads=3,
                  text_ffn=1536, scale_factor=4, vocab_size=420, padded_vocab=49152, init_range=0.02)
out = Path(sys.argv[1])
ckpt = build_tiny_idefics3(out / "checkpoint" / "mini-shape-random", shape)
profile = replace(DEFAULT_PROFILE, name="mini-shape", view="crops", crop_size=128, crops=5)
export_checkpoint(ckpt, out, name="mini-shape-random", quant="q4_k_m", mmproj_quant="q8_0", profile=profile)
"""
CROP_COUNTS = (1, 3, 5, 9)


def _model(work: Path) -> ModelFiles:
    text, mmproj = work / "mini-shape-random.gguf", work / "mini-shape-random.mmproj.gguf"
    if not (text.is_file() and mmproj.is_file()):
        sys.stderr.write("building the FakeScope-mini-shaped random model (once)...\n")
        subprocess.run([sys.executable, "-c", BUILD_SCRIPT, str(work)], check=True)
    return ModelFiles(text, mmproj, "bench")


def _photos(folder: Path, count: int, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    """JPEGs (12-megapixel by default) with texture at every scale, as a camera's would have."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    width, height = size
    paths = []
    for i in range(count):
        path = folder / f"photo{i}.jpg"
        if not path.is_file():
            coarse = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
            image = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
            grain = rng.normal(0, 6, (height, width, 1))
            pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    files = _model(args.work)
    photos = _photos(args.work / "photos-12mp", args.images)
    started = time.perf_counter()
    engine = LlamaEngine(files, LoadOptions(n_ctx=4096, threads=args.threads))
    load = time.perf_counter() - started
    rows: list[tuple[int, float, float]] = []
    with engine:
        base = engine.profile
        for count in CROP_COUNTS:
            engine.profile = replace(base, crops=count)
            figures = []
            for evidence in (None, EvidenceOptions()):
                options = ScanOptions(evidence=evidence)
                started = time.perf_counter()
                for path in photos:
                    result = analyse_file(engine, InputFile(path), options)
                    if result.error:
                        raise SystemExit(f"bench image failed: {result.error}")
                figures.append((time.perf_counter() - started) / len(photos))
            rows.append((count, figures[0], figures[1]))
    sys.stdout.write(
        f"crops view, {files.text.name} + {files.mmproj.name} (random weights), {args.images} JPEGs of "
        f"4000x3000, 128 px crops; model load {load:.1f} s\n"
    )
    sys.stdout.write(
        f"{'crops':>5}  {'s/image score only':>18}  {'images/s':>8}  {'s/image with evidence':>21}\n"
    )
    for count, score_only, with_evidence in rows:
        sys.stdout.write(f"{count:>5}  {score_only:>18.2f}  {1 / score_only:>8.2f}  {with_evidence:>21.2f}\n")


if __name__ == "__main__":
    main()

"""`make bench` (storage types): which GGUF type runs fastest on this CPU, for the projector and
for the text model, at FakeScope-mini's and SmolVLM-256M's shapes (random weights).

Projector: milliseconds of libmtmd encoding per image (the images each shape judges) for f32,
f16, bf16 and q8_0. Text: positions per second of one batched decode the size of a crops-view image
(five prompts with their label variants) for each text type the converter writes. The
converter's per-architecture projector default (``conversion.export.DEFAULT_MMPROJ``) and the
shipped model's text type follow these figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from conversion.bench_engine import CASES, Case, bench_images, random_checkpoint

PROJECTOR_TYPES = ("f32", "f16", "bf16", "q8_0")
TEXT_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_k_m", "iq4_nl", "q4_0")
POSITIONS = 320  # about one 12-megapixel image in FakeScope-mini's crops view


def _export(case: Case, work: Path, text: str, projector: str) -> tuple[Path, Path]:
    from conversion.export import export_checkpoint

    checkpoint = random_checkpoint(work, case)
    slug = case.name.split()[0].lower()
    out = work / "types"
    name = f"{slug}-{text}-{projector}"
    files = out / f"{name}.gguf", out / f"{name}.mmproj.gguf"
    if not all(p.is_file() for p in files):
        export_checkpoint(checkpoint, out, name=name, quant=text, mmproj_quant=projector)
    return files


def projector_ms(case: Case, work: Path) -> dict[str, float]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import ModelFiles

    images = [load_image(p) for p in bench_images(work / f"engine-images-{case.size}", case)]
    out = {}
    for projector in PROJECTOR_TYPES:
        text, mmproj = _export(case, work, "q8_0", projector)
        with LlamaEngine(ModelFiles(text, mmproj, "bench"), LoadOptions()) as engine:
            list(engine._embedded(images[:1]))  # warm-up
            engine.native.reset_timers()
            list(engine._embedded(images[1:]))
            out[projector] = engine.native.vision.seconds / (len(images) - 1) * 1000
    return out


def text_rate(case: Case, work: Path) -> dict[str, float]:
    import numpy as np

    from fakescope_cli.engine.native import LoadOptions, NativeModel

    out = {}
    for text_type in TEXT_TYPES:
        text, mmproj = _export(case, work, text_type, "q8_0")
        with NativeModel(text, mmproj, LoadOptions()) as native:
            rows = np.random.default_rng(0).normal(0, 0.02, (POSITIONS, native.n_embd)).astype(np.float32)
            seqs = [(0,)] * POSITIONS
            wanted = [False] * (POSITIONS - 1) + [True]
            best = float("inf")
            for _ in range(3):
                native.clear()
                started = time.perf_counter()
                native.decode_embeddings(rows, range(POSITIONS), seqs, wanted)
                best = min(best, time.perf_counter() - started)
            out[text_type] = POSITIONS / best
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    args = parser.parse_args(argv)
    sys.stdout.write("storage types on this CPU (random weights; fastest first)\n")
    for case in CASES:
        ms = projector_ms(case, args.work)
        ranked = "  ".join(f"{k} {v:.1f} ms" for k, v in sorted(ms.items(), key=lambda kv: kv[1]))
        sys.stdout.write(f"  projector, {case.name:<21} per {case.size} px image: {ranked}\n")
    rates = text_rate(CASES[0], args.work)  # both shapes share the 30-layer, 576-wide text model
    ranked = "  ".join(f"{k} {v:.0f}" for k, v in sorted(rates.items(), key=lambda kv: -kv[1]))
    sys.stdout.write(f"  text, 30 x 576 Llama, positions/s in {POSITIONS}-position decodes: {ranked}\n")


if __name__ == "__main__":
    main()

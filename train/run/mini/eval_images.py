"""Whole images for the CPU run's figures, judged the way `fakescope scan` judges a file (the
profile's crops of the image, their logits aggregated), not crop by crop.

* ``test``: from each test photograph (never trained on), real images are native regions of
  ``size`` pixels; generated images are the same kind of region made by each family (an upscaler
  given the region downscaled by its factor, the autoencoder re-synthesising it). Every image, real
  or generated, then gets one JPEG encoding at a quality drawn from its id (70-95, 4:2:0): the
  processing of the training crops, applied to the whole file.
* ``own-size``: real photographs of packages never used in training, copied as they are (their own
  size and format), for the false-positive rate at the default threshold.

Both are written with a standard manifest (``path,label,generator,source,split``) for
``python -m train eval``.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from train.run.mini.sft_data import STANDARD_FIELDS

MARGIN = 18  # input pixels reflected around a downscaled region before an upscaler sees it
FAMILIES = (
    "esrgan-av3-x2",
    "cugan-up2x",
    "ae-tiny",
    "w2x-cunet-x2",
    "w2x-upconv7-x2",
    "esrgan-x4plus-anime",
)


@dataclass(frozen=True)
class EvalImagesResult:
    counts: dict[str, int]  # images by family ("real" included)
    skipped_small: int  # test photos smaller than the image size


def upscale_region(upscaler: Any, region: np.ndarray, method: str) -> np.ndarray:
    """``region`` downscaled by the network's factor (``box`` or ``bicubic``) and upscaled by it
    back to the region's size. Real-CUGAN's ncnn graph trims 36 px of its output's border: a
    reflected margin of the input keeps every network's output at least the region's size."""
    from train.experiments.decision import prep

    small = prep.downscale(region, upscaler.scale, method)
    padded = np.pad(small, ((MARGIN, MARGIN), (MARGIN, MARGIN), (0, 0)), mode="reflect")
    up = upscaler(padded)
    top, left = (up.shape[0] - region.shape[0]) // 2, (up.shape[1] - region.shape[1]) // 2
    return np.ascontiguousarray(up[top : top + region.shape[0], left : left + region.shape[1]])


def write_jpeg(pixels: np.ndarray, path: Path, name: str) -> None:
    """The one JPEG encoding every evaluation image gets, real or generated: quality 70-95 drawn
    from ``name``, 4:2:0."""
    from PIL import Image

    from train.experiments.decision.common import key_seed

    quality = int(np.random.default_rng(key_seed("quality", name)).integers(70, 96))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(pixels)).save(
        path, format="JPEG", quality=quality, subsampling=2, optimize=True
    )


def write_manifest(rows: Sequence[dict[str, str]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=STANDARD_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def build_test_images(
    cache: Path,
    split_json: Path,
    autoencoder: Path,
    out: Path,
    size: int = 384,
    real_per_photo: int = 4,
    fake_per_photo: int = 2,
    exclude_packages: frozenset[str] = frozenset(),
    seed: int = 0,
    split: str = "test",
) -> EvalImagesResult:
    """Real and generated ``size`` px images of the ``split`` photos, one JPEG encoding each:
    ``test`` (never trained on), or ``val`` (the training photos the vision stage held out for
    validation, by its own rule: for fitting the calibration, never for figures)."""
    from safetensors.torch import load_file

    from train.experiments.decision import ae as ae_module
    from train.experiments.decision import prep
    from train.experiments.decision.common import key_seed, open_photo

    prep.NCNN_THREADS = 1
    photo_split = json.loads(split_json.read_text())
    photos = {p["id"]: p for p in json.loads((cache / "fetched.json").read_text())["photos"]}
    model = ae_module.TinyAE()
    model.load_state_dict(load_file(str(autoencoder)))
    model.eval()
    upscalers = {f: prep.Upscaler(f) for f in FAMILIES if f != "ae-tiny"}
    rows: list[dict[str, str]] = []
    counts: Counter[str] = Counter()
    skipped = 0
    from train.model.vision.crops import val_photo

    def chosen(pid: str, where: str) -> bool:
        if split == "val":
            return where == "train" and val_photo(pid, seed, 0.1)
        return where == split

    for pid in sorted(p for p, s in photo_split.items() if chosen(p, s)):
        if photos[pid]["package"] in exclude_packages:
            continue
        img = open_photo(cache / photos[pid]["file"])
        if min(img.shape[:2]) < size:
            skipped += 1
            continue
        rng = np.random.default_rng(key_seed(seed, "eval-images", pid))
        for family in ("real", *FAMILIES):
            wanted = real_per_photo if family == "real" else fake_per_photo
            for index, (y, x) in enumerate(prep.detailed_positions(rng, img, size, wanted, 3.0)):
                region = np.ascontiguousarray(img[y : y + size, x : x + size])
                if family == "real":
                    pixels = region
                elif family == "ae-tiny":
                    pixels = ae_module.resynth(model, region)
                else:
                    method = "box" if rng.random() < 0.5 else "bicubic"
                    pixels = upscale_region(upscalers[family], region, method)
                name = f"{family}/{pid.replace('/', '__')}-{index:02d}.jpg"
                write_jpeg(pixels, out / name, name)
                rows.append(
                    {
                        "path": name,
                        "label": "real" if family == "real" else "fake",
                        "generator": "" if family == "real" else family,
                        "source": pid,
                        "split": split,
                    }
                )
                counts[family] += 1
    write_manifest(rows, out / "manifest.csv")
    return EvalImagesResult(dict(counts), skipped)


def cached_packages(cache: Path) -> frozenset[str]:
    """Every package a photo cache holds photographs of."""
    return frozenset(photo["package"] for photo in json.loads((cache / "fetched.json").read_text())["photos"])


def copy_own_size(caches: Sequence[Path], packages: frozenset[str], out: Path) -> int:
    """The photographs of ``packages`` from the photo caches, byte for byte; returns the count.
    ``out`` holds only these afterwards (files of an earlier, different selection are removed)."""
    if out.is_dir():
        for stale in out.iterdir():
            if stale.is_file():
                stale.unlink()
    rows: list[dict[str, str]] = []
    for cache in caches:
        for photo in json.loads((cache / "fetched.json").read_text())["photos"]:
            if photo["package"] not in packages:
                continue
            source = cache / photo["file"]
            name = photo["id"].replace("/", "__") + source.suffix.lower()
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out / name)
            rows.append(
                {"path": name, "label": "real", "generator": "", "source": photo["id"], "split": "test"}
            )
    write_manifest(rows, out / "manifest.csv")
    return len(rows)

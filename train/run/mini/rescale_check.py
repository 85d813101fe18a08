"""Does the shipped model flag real photographs for their resolution? The own-size photographs
(packages never trained on) scored at their own size and halved and thirded (Lanczos), each
saved once as JPEG quality 90, through ``fakescope scan``'s engine.

    python -m train.run.mini.rescale_check runs/mini-cpu/eval-images/own-size \
        [--model models/fakescope-mini] [--out train/run/mini/rescale-check.json]

A diagnostic of the shipped model, not a setting: nothing here is fitted or chosen from it.
The training photographs were mostly wallpapers the packagers had already downscaled, crisp at
the pixel level; a camera-original photograph is softer per pixel (lens, demosaicing, noise
reduction), as an upscaler's output is.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from PIL import Image

FACTORS = (1, 2, 3)


def rescaled_jpeg(path: Path, factor: int) -> bytes:
    """The image as ``scan`` decodes it (EXIF orientation applied, alpha over white), downscaled
    ``factor`` times (Lanczos; 1: its own size), as JPEG quality 90: at x1 a re-saved copy, not
    the original file."""
    from fakescope_cli.imageio import decode_image, read_image_file

    rgb = decode_image(path, read_image_file(path)).rgb
    if factor > 1:
        rgb = rgb.resize((rgb.width // factor, rgb.height // factor), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.imageio import as_loaded, decode_image
    from fakescope_cli.models import locate_model

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", type=Path, help="folder of real photographs (own-size/)")
    parser.add_argument("--model", type=Path, default=Path("models/fakescope-mini"))
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        raise SystemExit(f"error: {args.photos}: no .jpg or .png photographs")
    rows = []
    with LlamaEngine(locate_model(args.model)) as engine:
        for path in photos:
            row: dict[str, object] = {"photo": path.name}
            for factor in FACTORS:
                decoded = decode_image(path, rescaled_jpeg(path, factor))
                row[f"p_fake_x{factor}"] = round(engine.score(as_loaded(path, decoded)).p_fake, 4)
            rows.append(row)
            said = " ".join(f"x{f} {row[f'p_fake_x{f}']:.3f}" for f in FACTORS)
            sys.stdout.write(f"{path.name} {said}\n")
            sys.stdout.flush()
    summary = {}
    for factor in FACTORS:
        scores = [float(str(r[f"p_fake_x{factor}"])) for r in rows]
        summary[f"x{factor}"] = {
            "flagged_p_0.5": sum(p >= 0.5 for p in scores),
            "flagged_p_0.6": sum(p >= 0.6 for p in scores),
            "mean_p_fake": round(sum(scores) / len(scores), 4),
        }
        sys.stdout.write(f"downscaled x{factor}: {summary[f'x{factor}']} of {len(rows)} real photographs\n")
    if args.out:
        record = {"photos": str(args.photos), "model": str(args.model), "summary": summary, "rows": rows}
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()

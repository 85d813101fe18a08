"""Teacher logits for the SFT's distillation term: a vision stage's tower and head on every judgment
item's crop, each the mean of its native tiles' logits, as the stage scored crops.

    python -m train.run.mini.tower_targets runs/mini-cpu/sft-data/fakeinstruct.json \
        --checkpoint runs/mini-cpu/init --vision runs/mini-cpu/stage1b-control/vision.safetensors \
        --out runs/mini-cpu/sft-data/teacher.json

The file (``{"logits": {image path: logit}, ...}``) is what ``[data] teacher`` of an SFT config
names (``train.model.distill``); it records the tower, its AUC on these (training) crops and the
mean logit of each class.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from fakescope_cli.errors import DatasetError


def teacher_logits(
    conversations: Path, checkpoint: Path, vision: Path, batch: int = 256
) -> tuple[dict[str, float], dict[str, int]]:
    """(image path -> tower logit, image path -> label 1 fake / 0 real) of the judgment items."""
    import torch

    from fakescope_cli.imageio import decode_image, read_image_file
    from fakescope_cli.profile import DEFAULT_PROFILE
    from train.model.distill import judgment_label
    from train.model.sft import read_conversations
    from train.model.vision.stage import (
        Normaliser,
        TileClassifier,
        _vision_tower,
        crop_logits,
        load_stage_weights,
        tiles_of,
    )

    fake, real = DEFAULT_PROFILE.label_fake, DEFAULT_PROFILE.label_real
    labels: dict[str, int] = {}
    for path, messages in read_conversations(conversations, split=""):
        answer = judgment_label(messages, fake, real)
        if answer is not None:
            labels[str(path)] = int(answer == fake)
    if not labels:
        raise DatasetError(f"{conversations}: no judgment item (an answer that is the label word alone)")
    tower, hidden, tile, norm = _vision_tower(checkpoint)
    model = TileClassifier(tower, hidden)
    load_stage_weights(model, vision)
    normalise = Normaliser(*norm)
    torch.set_num_threads(2)
    paths = sorted(labels)
    out: dict[str, float] = {}
    size = None
    for start in range(0, len(paths), batch):
        chunk = paths[start : start + batch]
        pixels = []
        for name in chunk:
            rgb = np.asarray(decode_image(Path(name), read_image_file(Path(name))).rgb)
            size = size or rgb.shape
            if rgb.shape != size:
                raise DatasetError(
                    f"{name}: {rgb.shape[1]}x{rgb.shape[0]}, the others are {size[1]}x{size[0]}"
                )
            pixels.append(rgb)
        logits = crop_logits(model, tiles_of(np.stack(pixels), tile), normalise)
        out.update({name: round(float(x), 4) for name, x in zip(chunk, logits, strict=True)})
        sys.stderr.write(f"\rtower_targets: {len(out)}/{len(paths)} crops")
    sys.stderr.write("\n")
    return out, labels


def summary(logits: dict[str, float], labels: dict[str, int]) -> dict[str, float | int | None]:
    from train.run.metrics import roc_auc

    names = sorted(logits)
    values = np.array([logits[n] for n in names])
    truth = np.array([labels[n] for n in names])
    auc = roc_auc(truth.tolist(), values.tolist())
    return {
        "crops": len(names),
        "fake": int(truth.sum()),
        "roc_auc": None if auc is None else round(auc, 4),
        "mean_logit_fake": round(float(values[truth == 1].mean()), 3) if truth.any() else None,
        "mean_logit_real": round(float(values[truth == 0].mean()), 3) if (truth == 0).any() else None,
        "share_abs_over_4": round(float(np.mean(np.abs(values) > 4)), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("conversations", type=Path, help="the SFT's FakeInstruct JSON")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the run's mini-init checkpoint")
    parser.add_argument("--vision", type=Path, required=True, help="the stage's vision.safetensors")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logits, labels = teacher_logits(args.conversations, args.checkpoint, args.vision)
    figures = summary(logits, labels)
    record = {
        "conversations": str(args.conversations),
        "vision": str(args.vision),
        **figures,
        "logits": logits,
    }
    args.out.write_text(json.dumps(record, indent=0) + "\n")
    sys.stdout.write(f"tower_targets: {figures}\n")


if __name__ == "__main__":
    try:
        main()
    except DatasetError as exc:
        sys.exit(f"tower_targets: {exc}")

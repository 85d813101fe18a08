"""The resolution check of ``rescale_check``, one stage earlier: a vision stage's tower and head
(no language model) on the own-size photographs, at their own size and halved, through the five
crops ``scan`` takes. For comparing stage-1 recipes before instruction tuning is paid for.

    python -m train.run.mini.tower_rescale runs/mini-cpu/eval-images/own-size \
        --checkpoint runs/mini-cpu/init --vision train/run/mini/stage1/vision.f16.safetensors [...]

An image's logit is the mean of its crops' (each the mean of its 2 x 2 tiles); it counts as
flagged above 0, the head's own midpoint (it was trained on balanced batches).

``--test-images MANIFEST`` (``mini-eval-images``' test set, which ``train eval`` scores) also ranks
those whole images by the tower alone: the ceiling the instruction-tuned model's AUC on the same
images is measured against.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from train.data.records import ImageRecord

FACTORS = (1, 2)


def image_logits(model, normalise, tile: int, crop_size: int, crops: int, pixels: np.ndarray) -> float:
    """Mean crop logit of one decoded image (H x W x 3 uint8), over the crops ``scan`` takes."""
    from fakescope_cli.view import crop_boxes, cut
    from train.model.vision.stage import crop_logits, tiles_of

    height, width = pixels.shape[:2]
    boxes = crop_boxes(width, height, crop_size, crops)
    cut_crops = np.stack([cut(pixels, box, crop_size) for box in boxes])
    return float(crop_logits(model, tiles_of(cut_crops, tile), normalise).mean())


def against_test(own_size: list[float], test_logits: np.ndarray, labels: np.ndarray) -> dict[str, object]:
    """The own-size photographs at the test set's operating point: flagged above the logit that
    flags 5 % of the test's real crops, and the AUC of test fakes against these photographs (the
    midpoint 0 is arbitrary; these do not depend on it)."""
    from train.run.metrics import roc_auc

    fakes = test_logits[labels == 1]
    cut = float(np.quantile(test_logits[labels == 0], 0.95))
    auc = roc_auc([0] * len(own_size) + [1] * len(fakes), [*own_size, *fakes.tolist()])
    return {
        "test_real_fpr5_logit": round(cut, 3),
        "x1_flagged_at_test_fpr5": sum(x > cut for x in own_size),
        "test_tpr_at_fpr5": round(float(np.mean(fakes > cut)), 4),
        "x1_vs_test_fakes_auc": None if auc is None else round(auc, 4),
    }


def image_aucs(
    records: Sequence[ImageRecord], logits: Sequence[float], trained: set[str]
) -> dict[str, float | None]:
    """ROC-AUC of whole images as ``train eval`` reports it: all, reals against the trained
    families, reals against the others."""
    from fakescope_cli.view import sigmoid
    from train.run.evaluate import backend_report

    fakes = {r.generator for r in records if r.label == "fake" and r.generator}
    scores = [sigmoid(x) for x in logits]  # probabilities, as eval takes them; the same order
    report = backend_report("tower", records, scores, fakes - trained)

    def auc(metrics) -> float | None:
        return None if metrics is None or metrics.roc_auc is None else round(metrics.roc_auc, 4)

    return {"all": auc(report.overall), "seen": auc(report.seen), "held_out": auc(report.held_out)}


def main(argv: list[str] | None = None) -> None:
    import torch

    from fakescope_cli.imageio import decode_image, read_image_file
    from train.model.vision.stage import (
        Normaliser,
        TileClassifier,
        _metrics,
        _vision_tower,
        crop_logits,
        load_stage_weights,
        tiles_of,
    )
    from train.run.mini.rescale_check import rescaled_jpeg

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", type=Path, help="folder of real photographs (own-size/)")
    parser.add_argument("--checkpoint", type=Path, required=True, help="the run's mini-init checkpoint")
    parser.add_argument("--vision", type=Path, action="append", required=True, help="a stage's weights")
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--crops", type=int, default=5)
    parser.add_argument(
        "--test-crops",
        type=Path,
        metavar="MANIFEST",
        help="also each tower's test-split AUCs on this manifest: one test set for every tower",
    )
    parser.add_argument(
        "--test-images",
        type=Path,
        metavar="MANIFEST",
        help="also each tower's AUC on these whole images (mini-eval-images' test manifest)",
    )
    parser.add_argument(
        "--train-generators",
        default="esrgan-av3-x2,cugan-up2x,ae-tiny",
        help="the trained families, for --test-images' seen/held-out split",
    )
    parser.add_argument("--exclude-package", action="append", default=[], metavar="PKG")
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    images = {
        factor: [np.asarray(decode_image(p, rescaled_jpeg(p, factor)).rgb) for p in photos]
        for factor in FACTORS
    }
    record: dict[str, object] = {"photos": str(args.photos), "n": len(photos), "towers": {}}
    whole: tuple[list[ImageRecord], list[np.ndarray]] | None = None
    if args.test_images:
        from train.data.dataset import load_dataset

        records = load_dataset(args.test_images)
        pixels = [np.asarray(decode_image(r.path, read_image_file(r.path)).rgb) for r in records]
        whole = (records, pixels)
        record["test_images"] = {"manifest": str(args.test_images), "n": len(records)}
    vision, hidden, tile, norm = _vision_tower(args.checkpoint)
    model = TileClassifier(vision, hidden)  # each tower's weights replace all of it in turn
    normalise = Normaliser(*norm)
    test, test_tiles = None, None
    if args.test_crops:
        from train.model.vision.crops import load_crops

        test = load_crops(args.test_crops, frozenset(args.exclude_package))["test"]
        test_tiles = tiles_of(test.pixels, tile)
        record["test_crops"] = {"manifest": str(args.test_crops), "n": len(test)}
    for weights in args.vision:
        load_stage_weights(model, weights)
        figures: dict[str, object] = {}
        own: dict[int, list[float]] = {}
        for factor in FACTORS:
            own[factor] = [
                image_logits(model, normalise, tile, args.crop_size, args.crops, px) for px in images[factor]
            ]
            figures[f"x{factor}"] = {
                "flagged": sum(x > 0 for x in own[factor]),
                "mean_logit": round(float(np.mean(own[factor])), 3),
            }
        if test is not None and test_tiles is not None:
            test_logits = crop_logits(model, test_tiles, normalise)
            scored = _metrics(test, test_logits)
            figures["test_auc"] = round(scored["overall"]["roc_auc"], 4)
            figures["test_auc_per_family"] = {k: round(v, 4) for k, v in scored["roc_auc_per_family"].items()}
            figures |= against_test(own[1], test_logits, test.labels)
        if whole is not None:
            records, pixels = whole
            logits = [image_logits(model, normalise, tile, args.crop_size, args.crops, px) for px in pixels]
            figures["test_image_auc"] = image_aucs(records, logits, set(args.train_generators.split(",")))
        record["towers"][str(weights)] = figures  # type: ignore[index]
        sys.stdout.write(f"{weights}: {figures} of {len(photos)} real photographs\n")
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()

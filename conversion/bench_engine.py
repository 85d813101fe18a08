"""`make bench` (engine part): our llama.cpp path against transformers on the same checkpoint.

For two random-weight Idefics3 checkpoints, FakeScope-mini's shape (on 128 px JPEG crops, the
crops it judges) and SmolVLM-256M's (on 512 px JPEGs), p(fake) is computed both ways for the
same images: by ``fakescope``'s engine on the GGUF export (text and projector bf16, the fastest
types on this CPU, unless ``--text-type`` / ``--projector-type`` say otherwise; default threads),
and by transformers in fp32 with torch's default threads, as fast as transformers does it (one
forward over the prompt with its KV cache, then every label variant's prefix in one batched
forward on copies of that cache). Both run idle and again while a second process burns one
core, in rounds back to back on the same images; the median round's ratio is what to watch,
since it does not depend on how fast this machine is at the minute. The weights are random: the
figures measure cost.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.synthetic import SMOLVLM_256M_SHAPE, TinyShape

MINI_SHAPE = TinyShape(
    vision_hidden=192, vision_layers=4, vision_heads=3, vision_ffn=768, tile=64, patch=8,
    longest_edge=128, text_hidden=576, text_layers=30, text_heads=9, text_kv_heads=3,
    text_ffn=1536, scale_factor=4, vocab_size=420, padded_vocab=49152, init_range=0.02,
)  # fmt: skip
BURNER = "while True: pass"
TEXT_TYPE = "bf16"  # ours unless --text-type says otherwise: the fastest text type on this CPU (bench_types)
PROJECTOR_TYPE = (
    "bf16"  # likewise the fastest projector here at both shapes (the converter's default stays f32)
)


@dataclass(frozen=True)
class Case:
    name: str
    shape: TinyShape
    size: int  # image edge, px
    images: int
    rounds: int  # ours then transformers on all the images, this many times; the median ratio


CASES = (
    Case("FakeScope-mini shape", MINI_SHAPE, 128, 16, 5),
    Case("SmolVLM-256M shape", SMOLVLM_256M_SHAPE, 512, 2, 1),
)


def random_checkpoint(work: Path, case: Case) -> Path:
    """The case's random-weight checkpoint, built once under ``work``."""
    from conversion.synthetic import build_tiny_idefics3

    checkpoint = work / "checkpoint" / f"engine-{case.name.split()[0].lower()}"
    if not (checkpoint / "config.json").is_file():
        sys.stderr.write(f"building the {case.name} random checkpoint (once)...\n")
        build_tiny_idefics3(checkpoint, case.shape)
    return checkpoint


def checkpoint_files(
    work: Path, case: Case, text_type: str = "q8_0", projector_type: str | None = None
) -> tuple[Path, Path, Path]:
    """The case's random checkpoint (built once) and its export at the given types (cached)."""
    from conversion.export import export_checkpoint

    slug = case.name.split()[0].lower()
    checkpoint = random_checkpoint(work, case)
    out = work / "engine"
    name = f"engine-{slug}-{text_type}-{projector_type or 'default'}"
    text, mmproj = out / f"{name}.gguf", out / f"{name}.mmproj.gguf"
    if not (text.is_file() and mmproj.is_file()):
        export_checkpoint(checkpoint, out, name=name, quant=text_type, mmproj_quant=projector_type)
    return checkpoint, text, mmproj


def bench_images(folder: Path, case: Case) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(case.size)
    paths = []
    for i in range(case.images + 1):  # the first one warms both paths up
        path = folder / f"img{i:02d}.jpg"
        if not path.is_file():
            coarse = rng.integers(0, 256, (case.size // 8, case.size // 8, 3), dtype=np.uint8)
            image = Image.fromarray(coarse).resize((case.size, case.size), Image.Resampling.BICUBIC)
            image.save(path, quality=90)
        paths.append(path)
    return paths


class TransformersScorer:
    """p(fake) by the token-based estimation, computed by transformers in fp32."""

    def __init__(self, checkpoint: Path, variants: dict[str, list[tuple[int, ...]]], question: str):
        from transformers import AutoProcessor, Idefics3ForConditionalGeneration

        self.processor = AutoProcessor.from_pretrained(checkpoint)
        self.model = Idefics3ForConditionalGeneration.from_pretrained(checkpoint).eval()
        self.variants = variants
        self.prefixes = list(
            dict.fromkeys(seq[:-1] for seqs in variants.values() for seq in seqs if len(seq) > 1)
        )
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        self.prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)

    def p_fake(self, path: Path) -> float:
        import torch

        from fakescope_cli.scoring import label_probabilities

        with torch.no_grad():
            image = Image.open(path).convert("RGB")
            inputs = self.processor(text=self.prompt, images=[[image]], return_tensors="pt")
            out = self.model(**inputs, use_cache=True)
            last = out.logits[0, -1]
            forced: dict[tuple[int, ...], torch.Tensor] = {}
            if self.prefixes:
                cache = out.past_key_values
                cache.batch_repeat_interleave(len(self.prefixes))
                width = max(len(p) for p in self.prefixes)
                ids = torch.zeros((len(self.prefixes), width), dtype=torch.long)
                mask = torch.ones(
                    (len(self.prefixes), inputs["input_ids"].shape[1] + width), dtype=torch.long
                )
                for row, prefix in enumerate(self.prefixes):
                    ids[row, : len(prefix)] = torch.tensor(prefix)
                    mask[row, inputs["input_ids"].shape[1] + len(prefix) :] = 0  # right padding
                rows = self.model(input_ids=ids, attention_mask=mask, past_key_values=cache).logits
                forced = {prefix: rows[row] for row, prefix in enumerate(self.prefixes)}
        labels: dict[str, list[list[float]]] = {}
        for label, sequences in self.variants.items():
            labels[label] = []
            for seq in sequences:
                sub = [float(last[seq[0]])]
                sub += [float(forced[seq[:-1]][k - 1][seq[k]]) for k in range(1, len(seq))]
                labels[label].append(sub)
        return label_probabilities(labels)["fake"]


def _timed(score, paths: list[Path]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    values = [score(p) for p in paths]
    return len(paths) / (time.perf_counter() - started), values


@dataclass(frozen=True)
class Measured:
    condition: str
    ours: float  # images/s, the median round's
    theirs: float
    ratios: tuple[float, ...]  # per round, ours / transformers
    dp: float  # max |p(fake) ours - transformers| over the images

    @property
    def ratio(self) -> float:
        return float(np.median(self.ratios))


def _measure(case: Case, work: Path, text_type: str, projector_type: str | None) -> list[Measured]:
    """Both paths loaded, then rounds of ours and transformers back to back on the same images:
    this machine's speed drifts by a third from minute to minute, and a round's ratio is what
    both paths saw in the same minute."""
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.engine.native import LoadOptions
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import ModelFiles

    checkpoint, text, mmproj = checkpoint_files(work, case, text_type, projector_type)
    paths = bench_images(work / f"engine-images-{case.size}", case)
    rows = []
    for condition in ("idle", "one core busy"):
        burner = subprocess.Popen([sys.executable, "-c", BURNER]) if condition != "idle" else None
        try:
            time.sleep(0.5 if burner else 0)
            with LlamaEngine(ModelFiles(text, mmproj, "bench"), LoadOptions()) as engine:
                reference = TransformersScorer(checkpoint, engine.label_tokens, engine.profile.judge_prompt)

                def ours_p(path: Path) -> float:
                    return engine.score(load_image(path)).p_fake

                ours_p(paths[0]), reference.p_fake(paths[0])  # warm both up
                rounds = []
                for _ in range(case.rounds):
                    ours, our_p = _timed(ours_p, paths[1:])
                    theirs, their_p = _timed(reference.p_fake, paths[1:])
                    rounds.append((ours / theirs, ours, theirs))
        finally:
            if burner:
                burner.kill()
                burner.wait()
        dp = max(abs(a - b) for a, b in zip(our_p, their_p, strict=True))
        _, ours, theirs = sorted(rounds)[len(rounds) // 2]
        rows.append(Measured(condition, ours, theirs, tuple(r[0] for r in rounds), dp))
    return rows


def main(argv: list[str] | None = None) -> None:
    from conversion.export import MMPROJ_TYPES, QUANTS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=Path("bench-out"))
    parser.add_argument("--only", choices=[c.name.split()[0].lower() for c in CASES], help="one shape")
    parser.add_argument("--images", type=int, help="images per run (default: per shape)")
    parser.add_argument("--rounds", type=int, help="rounds per condition (default: per shape)")
    parser.add_argument(
        "--text-type", default=TEXT_TYPE, choices=QUANTS, help=f"our text GGUF's type (default {TEXT_TYPE})"
    )
    parser.add_argument(
        "--projector-type",
        default=PROJECTOR_TYPE,
        choices=MMPROJ_TYPES,
        help=f"our projector's type (default {PROJECTOR_TYPE})",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*past_key_values.*deprecated")  # transformers' own
    sys.stdout.write(
        "llama.cpp engine vs transformers fp32, same checkpoint, p(fake) by token estimation "
        f"(ours: text {args.text_type}, projector {args.projector_type or 'default'})\n"
    )
    for case in CASES:
        if args.only and not case.name.lower().startswith(args.only):
            continue
        if args.images:
            case = replace(case, images=args.images)
        if args.rounds:
            case = replace(case, rounds=args.rounds)
        for m in _measure(case, args.work, args.text_type, args.projector_type):
            spread = f" (rounds {min(m.ratios):.2f}-{max(m.ratios):.2f})" if len(m.ratios) > 1 else ""
            sys.stdout.write(
                f"  {case.name:<21} {case.size:>3} px  {m.condition:<13}  ours {m.ours:6.3f} images/s  "
                f"transformers {m.theirs:6.3f} images/s  ratio {m.ratio:5.2f}{spread}  "
                f"max |dp(fake)| {m.dp:.1e}\n"
            )


if __name__ == "__main__":
    main()

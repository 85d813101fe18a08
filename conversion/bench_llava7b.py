"""`make bench-llava7b`: what FakeVLM's shape costs on this machine, measured with random weights.

Builds a random-weight checkpoint of LLaVA-1.5-7B's exact shape (CLIP ViT-L/14 at 336 px, the
two-layer projector, Vicuna-7B: 32 layers, width 4096, FFN 11008, vocabulary 32064), converts it
with the FakeVLM profile to text q4_k_m + projector f16 as `model pull fakevlm` does, then scores
images through the engine and reports seconds per image, peak memory and the achieved GFLOP/s.
The weights are noise: speed and memory do not depend on their values, the verdicts are
meaningless. ``--text-layers N`` builds a shallower model and extrapolates the text part to 32
layers by FLOPs (said so in the output), for machines that cannot hold the whole one.

About 31 GB of disk while it runs (checkpoint 14 GB, the converter's f16 copy 13.5 GB, result
4.7 GB); everything but the result is deleted as soon as it is used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np

IMAGE_TOKEN_ID = 32000
VOCAB = 32064
TEXT = {"hidden": 4096, "ffn": 11008, "layers": 32, "heads": 32}
VISION = {"hidden": 1024, "ffn": 4096, "layers": 24, "heads": 16, "image": 336, "patch": 14}
SHARD_BYTES = 4 << 30


def _config(text_layers: int) -> dict:
    return {
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "image_token_index": IMAGE_TOKEN_ID,
        "projector_hidden_act": "gelu",
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "image_seq_length": (VISION["image"] // VISION["patch"]) ** 2,
        "tie_word_embeddings": False,
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": VISION["hidden"],
            "intermediate_size": VISION["ffn"],
            "num_hidden_layers": VISION["layers"],
            "num_attention_heads": VISION["heads"],
            "image_size": VISION["image"],
            "patch_size": VISION["patch"],
            "projection_dim": 768,
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5,
        },
        "text_config": {
            "model_type": "llama",
            "hidden_size": TEXT["hidden"],
            "intermediate_size": TEXT["ffn"],
            "num_hidden_layers": text_layers,
            "num_attention_heads": TEXT["heads"],
            "num_key_value_heads": TEXT["heads"],
            "vocab_size": VOCAB,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "hidden_act": "silu",
        },
    }


def _shapes(text_layers: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of the llava-hf layout (the names the hub's files use)."""
    shapes: dict[str, tuple[int, ...]] = {}
    v, t = VISION, TEXT
    vp = "vision_tower.vision_model."
    shapes[vp + "embeddings.class_embedding"] = (v["hidden"],)
    shapes[vp + "embeddings.patch_embedding.weight"] = (v["hidden"], 3, v["patch"], v["patch"])
    shapes[vp + "embeddings.position_embedding.weight"] = ((v["image"] // v["patch"]) ** 2 + 1, v["hidden"])
    for name in ("pre_layrnorm", "post_layernorm"):
        shapes[f"{vp}{name}.weight"] = shapes[f"{vp}{name}.bias"] = (v["hidden"],)
    for i in range(v["layers"]):
        p = f"{vp}encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{p}self_attn.{proj}.weight"] = (v["hidden"], v["hidden"])
            shapes[f"{p}self_attn.{proj}.bias"] = (v["hidden"],)
        for norm in ("layer_norm1", "layer_norm2"):
            shapes[f"{p}{norm}.weight"] = shapes[f"{p}{norm}.bias"] = (v["hidden"],)
        shapes[f"{p}mlp.fc1.weight"], shapes[f"{p}mlp.fc1.bias"] = (v["ffn"], v["hidden"]), (v["ffn"],)
        shapes[f"{p}mlp.fc2.weight"], shapes[f"{p}mlp.fc2.bias"] = (v["hidden"], v["ffn"]), (v["hidden"],)
    shapes["multi_modal_projector.linear_1.weight"] = (t["hidden"], v["hidden"])
    shapes["multi_modal_projector.linear_1.bias"] = (t["hidden"],)
    shapes["multi_modal_projector.linear_2.weight"] = (t["hidden"], t["hidden"])
    shapes["multi_modal_projector.linear_2.bias"] = (t["hidden"],)
    lp = "language_model.model."
    shapes[lp + "embed_tokens.weight"] = (VOCAB, t["hidden"])
    shapes[lp + "norm.weight"] = (t["hidden"],)
    shapes["language_model.lm_head.weight"] = (VOCAB, t["hidden"])
    for i in range(text_layers):
        p = f"{lp}layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[f"{p}self_attn.{proj}.weight"] = (t["hidden"], t["hidden"])
        for proj in ("gate_proj", "up_proj"):
            shapes[f"{p}mlp.{proj}.weight"] = (t["ffn"], t["hidden"])
        shapes[f"{p}mlp.down_proj.weight"] = (t["hidden"], t["ffn"])
        shapes[f"{p}input_layernorm.weight"] = shapes[f"{p}post_attention_layernorm.weight"] = (t["hidden"],)
    return shapes


def _write_shard(path: Path, shapes: dict[str, tuple[int, ...]], rng: np.random.Generator) -> None:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(blob)) + blob)
        for name, shape in shapes.items():
            n = int(np.prod(shape))
            is_norm = len(shape) == 1 and ("norm" in name or "layrnorm" in name) and name.endswith("weight")
            for start in range(0, n, 1 << 24):
                count = min(1 << 24, n - start)
                block = rng.standard_normal(count, dtype=np.float32) * 0.02
                if is_norm:
                    block += 1.0
                out.write(block.astype(np.float16).tobytes())


def build_checkpoint(folder: Path, text_layers: int, seed: int = 0) -> Path:
    """The random-weight LLaVA-1.5-7B-shaped checkpoint, with a small SentencePiece tokenizer."""
    import io

    import sentencepiece as spm

    from conversion.synthetic_llava import CLIP_MEAN, CLIP_STD, _corpus

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(_config(text_layers), indent=2))
    processor = {
        "image_processor_type": "CLIPImageProcessor",
        "crop_size": {"height": VISION["image"], "width": VISION["image"]},
        "size": {"shortest_edge": VISION["image"]},
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
    }
    (folder / "preprocessor_config.json").write_text(json.dumps(processor))
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus(seed)),
        model_writer=buffer,
        vocab_size=600,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(buffer.getvalue())
    image = {"content": "<image>", "special": True}
    tokenizer_config = {"add_bos_token": True, "added_tokens_decoder": {str(IMAGE_TOKEN_ID): image}}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    rng = np.random.default_rng(seed)
    shard: dict[str, tuple[int, ...]] = {}
    size = index = 0
    for name, shape in _shapes(text_layers).items():
        shard[name] = shape
        size += int(np.prod(shape)) * 2
        if size >= SHARD_BYTES:
            index += 1
            _write_shard(folder / f"model-{index:05d}.safetensors", shard, rng)
            shard, size = {}, 0
    if shard:
        _write_shard(folder / f"model-{index + 1:05d}.safetensors", shard, rng)
    return folder


def flops_per_image(prompt_tokens: int, text_layers: int = TEXT["layers"]) -> dict[str, float]:
    """Multiply-adds x 2 of one forward pass: the vision tower up to its second-to-last layer over
    577 positions, the projector over 576, the text model over the prompt (no attention terms:
    under 5 % at these lengths)."""
    v, t = VISION, TEXT
    positions = (v["image"] // v["patch"]) ** 2 + 1
    vision_layer = 4 * v["hidden"] ** 2 + 2 * v["hidden"] * v["ffn"]
    vision = 2 * positions * (v["layers"] - 1) * vision_layer
    projector = 2 * (positions - 1) * (v["hidden"] * t["hidden"] + t["hidden"] ** 2)
    text_layer = 4 * t["hidden"] ** 2 + 3 * t["hidden"] * t["ffn"]
    text = 2 * prompt_tokens * text_layers * text_layer
    return {"vision": vision, "projector": projector, "text": text}


def _photos(folder: Path, count: int) -> list[Path]:
    """Textured 1024x768 PNGs (the tower sees them at 336 px; their content does not matter)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(count):
        pixels = (rng.random((768, 1024, 3)) * 255).astype(np.uint8)
        path = folder / f"image-{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


MEASURE_CHILD = """
import json, sys, time
from pathlib import Path
from fakescope_cli.engine.llama_engine import LlamaEngine
from fakescope_cli.engine.native import LoadOptions
from fakescope_cli.imageio import load_image
from fakescope_cli.models import ModelFiles
text, mmproj, n_ctx, *images = sys.argv[1:]
started = time.perf_counter()
with LlamaEngine(ModelFiles(Path(text), Path(mmproj), "bench"), LoadOptions(n_ctx=int(n_ctx))) as engine:
    load_s = time.perf_counter() - started
    seconds = []
    for image in images:
        started = time.perf_counter()
        engine.score(load_image(Path(image)))
        seconds.append(round(time.perf_counter() - started, 2))
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            fields[key] = round(int(value.split()[0]) / 1024)
print(json.dumps({"load_s": round(load_s, 1), "seconds": seconds, **fields}))
"""


def measure_in_process(text: Path, mmproj: Path, images: list[Path], n_ctx: int) -> dict[str, object]:
    """One child: model load, then each image scored (decode + encode + prefill) and timed; peak
    RSS and, after the last image, how much of it is anonymous memory and how much the model file's
    mapped pages (clean: the kernel can drop them), in MiB. Linux only (``/proc``)."""
    import subprocess

    args = [sys.executable, "-c", MEASURE_CHILD, str(text), str(mmproj), str(n_ctx), *map(str, images)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    fields = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "load_s": fields["load_s"],
        "seconds_per_image": fields["seconds"],
        "peak_rss_mib": fields["VmHWM"],
        "anonymous_mib": fields["RssAnon"],
        "file_mib": fields["RssFile"],
    }


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> dict[str, object]:
    from conversion.cli import resolve_profile
    from conversion.export import export_checkpoint
    from fakescope_cli.bench_mini import time_scan
    from fakescope_cli.profile import load_profile_toml

    out: Path = args.out
    text, mmproj = out / "llava7b.gguf", out / "llava7b.mmproj.gguf"
    result: dict[str, object] = {"text_layers": args.text_layers, "quant": "q4_k_m", "projector": "f16"}
    if not (text.is_file() and mmproj.is_file()):
        checkpoint = out / "checkpoint"
        started = time.perf_counter()
        build_checkpoint(checkpoint, args.text_layers)
        result["build_s"] = round(time.perf_counter() - started, 1)
        _say(f"random checkpoint written in {result['build_s']} s")
        started = time.perf_counter()
        profile = load_profile_toml(resolve_profile("fakevlm"))
        export_checkpoint(
            checkpoint, out, name="llava7b", quant="q4_k_m", mmproj_quant="f16", profile=profile
        )
        result["convert_s"] = round(time.perf_counter() - started, 1)
        _say(f"converted and quantized in {result['convert_s']} s")
        shutil.rmtree(checkpoint)
    result["text_bytes"], result["mmproj_bytes"] = text.stat().st_size, mmproj.stat().st_size
    photos = _photos(out / "images", args.images)
    extra = ["--model", str(text), "--mmproj", str(mmproj)]
    if args.threads:
        extra += ["--threads", str(args.threads)]
    for path in (text, mmproj):  # both timed runs start with the files in the page cache
        with path.open("rb") as fh:
            while fh.read(64 << 20):
                pass
    one = time_scan(photos[:1], evidence=False, extra=extra)
    measured = measure_in_process(text, mmproj, photos, 4096)
    times = sorted(float(t) for t in measured["seconds_per_image"])  # type: ignore[attr-defined]
    per_image = times[len(times) // 2]
    flops = flops_per_image(prompt_tokens=600, text_layers=args.text_layers)
    full = flops_per_image(prompt_tokens=600)
    scale = sum(full.values()) / sum(flops.values())
    result.update(
        {
            "first_image_s_with_start_and_load": one["seconds"],
            "peak_rss_mib_of_that_scan": one["peak_rss_mib"],
            "in_process": measured,
            "median_seconds_per_image": per_image,
            "gflop_per_image": round(sum(flops.values()) / 1e9),
            "achieved_gflops": round(sum(flops.values()) / 1e9 / per_image, 1),
        }
    )
    if scale > 1.0:
        result["extrapolated_seconds_per_image_32_layers"] = round(per_image * scale, 1)
    if Path("/proc/self/status").is_file():
        result["n_ctx_1024"] = measure_in_process(text, mmproj, photos[:1], 1024)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    _say(json.dumps(result, indent=2))
    if not args.keep:
        text.unlink()
        mmproj.unlink()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/llava7b"))
    parser.add_argument("--text-layers", type=int, default=TEXT["layers"])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--keep", action="store_true", help="keep the converted GGUFs for another run")
    args = parser.parse_args(argv)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

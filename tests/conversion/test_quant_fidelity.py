"""p(fake) after export at f16, bf16, q8_0, q4_k_m and iq4_nl, against transformers on the same checkpoint.

The tiny Idefics3 model here has a 256-wide text model so that llama.cpp's K-quants apply to
its rows (they need multiples of 256; narrower rows fall back to other types). Its weights are
drawn with std 0.05 (about 0.8/sqrt(width)): a random model drawn much wider than that is
chaotic, and amplifies any rounding far beyond what a trained model shows (at std 0.08 the
f16 delta is already 1.1e-3 and q8_0's 0.066). 64x64 images match the processor's resize, so
resampling stays out of the comparison. Measured values are printed (``pytest -s``); the README
quotes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conversion.export import export_checkpoint
from conversion.synthetic import TinyShape, build_tiny_idefics3
from fakescope_cli.gguf_header import read_header
from fakescope_cli.imageio import load_image
from tests.conftest import write_test_image

torch = pytest.importorskip("torch")

QUANT_SHAPE = TinyShape(text_hidden=256, text_ffn=512, text_heads=4, text_kv_heads=2, init_range=0.05)
TOLERANCE = {"f32": 3e-3, "f16": 1e-3, "bf16": 5e-3, "q8_0": 0.02}
SEEDS = (3, 7, 11)


@pytest.fixture(scope="module")
def quant_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_idefics3(tmp_path_factory.mktemp("quant-hf") / "tiny-quant", QUANT_SHAPE, seed=5)


@pytest.fixture(scope="module")
def reference(quant_checkpoint: Path):
    from tests.fakescope_cli.engine.test_parity import HFReference

    return HFReference(quant_checkpoint)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("quant-images")
    return [write_test_image(folder / f"{seed}.png", size=(64, 64), seed=seed) for seed in SEEDS]


def _scores(
    checkpoint: Path, out: Path, quant: str, images: list[Path], mmproj_quant: str | None = None
) -> tuple[list[float], dict[str, int]]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.models import ModelFiles

    result = export_checkpoint(checkpoint, out, name=f"tiny-{quant}", quant=quant, mmproj_quant=mmproj_quant)
    types = read_header(result.mmproj if mmproj_quant else result.text).tensor_types()
    with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
        return [engine.score(load_image(path)).p_fake for path in images], types


@pytest.mark.parametrize("quant", ["f32", "f16", "bf16", "q8_0", "q4_k_m", "iq4_nl"])
def test_p_fake_after_quantization(quant_checkpoint, reference, images, tmp_path: Path, quant: str) -> None:
    from PIL import Image

    ours, types = _scores(quant_checkpoint, tmp_path, quant, images)
    engine_labels = _label_tokens(quant_checkpoint, tmp_path)
    theirs = [
        reference.p_fake(Image.open(path).convert("RGB"), reference_prompt(), engine_labels)[0]
        for path in images
    ]
    deltas = np.abs(np.array(ours) - np.array(theirs))
    print(f"\n[{quant}] text tensor types {types}; p(fake) transformers {np.round(theirs, 4).tolist()}")
    print(f"[{quant}] |p(fake) - transformers| max {deltas.max():.2e}, mean {deltas.mean():.2e}")
    assert all(abs(t - 0.5) > 0.01 for t in theirs)  # not a coin flip: the comparison has teeth
    if quant == "bf16":
        assert types.get("BF16", 0) > 0  # really applied
    if quant in ("q4_k_m", "iq4_nl"):
        assert types.get(quant[:4].upper() if quant == "q4_k_m" else "IQ4_NL", 0) > 0  # really applied
        assert deltas.max() < 0.1  # measured, not a promise (see README): a gross failure still fails
    else:
        assert deltas.max() < TOLERANCE[quant]


def reference_prompt() -> str:
    from fakescope_cli.profile import DEFAULT_PROFILE

    return DEFAULT_PROFILE.judge_prompt


_LABELS: dict[str, list[tuple[int, ...]]] = {}


def _label_tokens(checkpoint: Path, tmp_path: Path) -> dict[str, list[tuple[int, ...]]]:
    """The engine's label token sequences (the tokenizer is the same at every storage type)."""
    if not _LABELS:
        from fakescope_cli.engine.llama_engine import LlamaEngine
        from fakescope_cli.models import ModelFiles

        result = export_checkpoint(checkpoint, tmp_path / "labels", name="labels", quant="f32")
        with LlamaEngine(ModelFiles(result.text, result.mmproj, "test")) as engine:
            _LABELS.update(engine.label_tokens)
    return _LABELS


@pytest.mark.parametrize("projector", ["q8_0", "bf16"])
def test_quantized_projector(quant_checkpoint, reference, images, tmp_path: Path, projector: str) -> None:
    """--mmproj-quant q8_0 or bf16 (f16 text): the vision projector through llama.cpp's quantizer."""
    from PIL import Image

    ours, types = _scores(quant_checkpoint, tmp_path, "f16", images, mmproj_quant=projector)
    labels = _label_tokens(quant_checkpoint, tmp_path)
    theirs = [reference.p_fake(Image.open(p).convert("RGB"), reference_prompt(), labels)[0] for p in images]
    deltas = np.abs(np.array(ours) - np.array(theirs))
    print(f"\n[mmproj {projector}] projector types {types}; |p(fake) - transformers| max {deltas.max():.2e}")
    assert types.get(projector.upper(), 0) > 0
    assert deltas.max() < TOLERANCE[projector]


def test_projector_type_is_chosen_apart_from_the_text_type(quant_checkpoint, tmp_path: Path) -> None:
    from conversion import cli, export

    assert cli.QUANT_CHOICES == export.QUANTS and cli.MMPROJ_CHOICES == export.MMPROJ_TYPES
    for text, projector, stored in (("q8_0", "f32", "F32"), ("f32", "f16", "F16")):
        result = export_checkpoint(
            quant_checkpoint, tmp_path / text, name="t", quant=text, mmproj_quant=projector
        )
        matrices = {t.type_name for t in read_header(result.mmproj).tensors if len(t.shape) == 2}
        assert stored in matrices and matrices <= {stored, "F32"}, matrices
        manifest = json.loads(result.manifest.read_text())
        assert projector in json.dumps(manifest), manifest


def test_the_quantizer_starts_from_f32_where_f16_would_round_first() -> None:
    from types import SimpleNamespace

    from conversion.export import _scratch_type

    f32, half = SimpleNamespace(stores_f32=True), SimpleNamespace(stores_f32=False)
    assert _scratch_type(f32, "q8_0") == "f32" and _scratch_type(half, "bf16") == "f32"  # type: ignore[arg-type]
    assert _scratch_type(half, "q4_k_m") is None  # type: ignore[arg-type]

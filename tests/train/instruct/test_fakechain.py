from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from fakescope_cli.errors import ConfigError, DatasetError
from tests.train.conftest import write_folder
from train.data.dataset import load_dataset
from train.data.records import ImageRecord
from train.instruct.fakechain import (
    build_fakechain,
    measured_claims,
    read_chain_jsonl,
    unsupported_mentions,
    write_chain_jsonl,
)

ImageSets = tuple[list[Image.Image], list[Image.Image]]

# A teacher that answers by file name: f00 with supported claims, f01 with an anatomy claim no human
# annotated (unsupported), r00 with a noise claim the measurement backs, the rest with nothing.
TEACHER = r"""
import json, sys
request = json.load(sys.stdin)
name = request["image"].rsplit("/", 1)[-1]
demo = request["demonstrations"][0]["rationale"] if request["demonstrations"] else ""
if name.startswith("f00"):
    if request["allowed_categories"] != ["noise_compression", "texture"]:
        sys.exit(5)
    reply = {"traces": [{"category": "noise_compression", "text": "A grid-like pattern in the noise."},
                        {"category": "texture", "text": "The surfaces look airbrushed."}],
             "rationale": "As in: " + demo + " Verdict: fake."}
elif name.startswith("f01"):
    reply = {"traces": [{"category": "anatomy", "text": "The hand has six fingers."}], "rationale": "x"}
elif name.startswith("r00"):
    reply = {"traces": [{"category": "noise_compression", "text": "Even sensor noise."}],
             "rationale": "Even sensor noise everywhere, as a camera makes."}
elif name.startswith("r01"):
    reply = {"traces": [], "rationale": "In the end this one is fake."}
elif name.startswith("f02"):
    reply = {"traces": [], "rationale": "The hands give it away."}
else:
    reply = {"traces": [], "rationale": ""}
json.dump(reply, sys.stdout)
"""


@pytest.fixture(scope="module")
def png_set(tmp_path_factory: pytest.TempPathFactory, image_sets: ImageSets) -> list[ImageRecord]:
    """Four PNG images (two real, two fake): PNG keeps the upsampling checkerboard measurable."""
    reals, fakes = image_sets
    root = write_folder(tmp_path_factory.mktemp("chain") / "data", (reals[:2], fakes[:2]), "PNG", "PNG")
    return load_dataset(root)


def by_name(chain: list, name: str):  # type: ignore[no-untyped-def]
    return next(record for record in chain if record.image.path.stem == name)


def test_measured_traces_only(png_set: list[ImageRecord]) -> None:
    chain, counts = build_fakechain(png_set)
    assert counts == {
        "kept": 4,
        "judgment_only": 0,
        "dropped_unsupported": 0,
        "claims_measured": 4,
        "claims_human": 0,
        "claims_teacher": 0,
    }
    fake = by_name(chain, "f00")
    peak = fake.measurements["spectrum_peak_db"]
    assert peak >= 12
    [claim] = fake.traces
    assert (claim.category, claim.origin) == ("noise_compression", "measured")
    assert f"{peak:.1f} dB" in claim.text
    assert fake.rationale.startswith("Noise and compression: The noise residual has a periodic peak")
    assert fake.rationale.endswith("point to an image made by a generator. Verdict: fake.")
    real = by_name(chain, "r00")
    assert "no periodic pattern" in real.traces[0].text
    assert real.rationale.endswith("Verdict: real.")
    assert real.measurements["exif_camera"] is False and real.measurements["c2pa"] == "absent"


def test_measured_claims_follow_the_measurements() -> None:
    assert measured_claims({"spectrum_peak_db": 5.0}, "fake") == []
    assert measured_claims({}, "real") == []
    [negative] = measured_claims({"spectrum_peak_db": 5.0}, "real")
    assert negative.agrees and "5.0 dB" in negative.claim.text
    [double] = measured_claims({"double_jpeg_score": 0.9}, "fake")
    assert double.agrees and "second JPEG compression (periodicity 0.90" in double.claim.text
    [peak] = measured_claims({"spectrum_peak_db": 20.0}, "real")
    assert not peak.agrees and "resizing" in peak.claim.text


def test_annotations_and_teacher(tmp_path: Path, png_set: list[ImageRecord]) -> None:
    root = png_set[0].path.parents[1]
    annotations = root / "notes.json"
    annotations.write_text(
        json.dumps(
            {
                "images": {"fake/sd15/f00.png": {"traces": {"texture": "Waxy, too-smooth surfaces."}}},
                "demonstrations": [{"label": "fake", "rationale": "The fur melts into the sofa."}],
            }
        )
    )
    teacher = tmp_path / "teacher.py"
    teacher.write_text(TEACHER)
    chain, counts = build_fakechain(png_set, annotations, [sys.executable, str(teacher)])
    assert counts["dropped_unsupported"] == 2  # f01: unannotated anatomy; r01: rationale says fake
    assert counts["kept"] == 2
    assert {r.image.path.stem for r in chain} == {"f00", "r00"}
    fake = by_name(chain, "f00")
    assert [(t.category, t.origin) for t in fake.traces] == [
        ("noise_compression", "measured"),
        ("texture", "human"),
        ("noise_compression", "teacher"),
        ("texture", "teacher"),
    ]
    assert fake.rationale == "As in: The fur melts into the sofa. Verdict: fake."
    real = by_name(chain, "r00")
    assert [t.origin for t in real.traces] == ["measured", "teacher"]
    assert real.rationale.endswith("as a camera makes. Verdict: real.")
    assert counts["claims_teacher"] == 3 and counts["claims_human"] == 1 and counts["claims_measured"] == 2


def test_rationale_mentions_need_support(tmp_path: Path, image_sets: ImageSets) -> None:
    assert unsupported_mentions("The hands and the shadows are wrong.", {"anatomy"}) == ["lighting_shadow"]
    assert (
        unsupported_mentions("Six fingers; a checkerboard in the noise.", {"anatomy", "noise_compression"})
        == []
    )
    assert unsupported_mentions("The surfaces look fine in this context.", set()) == []
    assert unsupported_mentions("Garbled lettering and odd colours.", set()) == ["text_rendering", "colour"]
    path = tmp_path / "f02.png"
    image_sets[1][2].save(path)
    teacher = tmp_path / "teacher.py"
    teacher.write_text(TEACHER)
    chain, counts = build_fakechain(
        [ImageRecord(path, "fake", "train", "sd15")], None, [sys.executable, str(teacher)]
    )
    assert (chain, counts["dropped_unsupported"]) == ([], 1)


def test_one_supported_one_unsupported_record(tmp_path: Path, png_set: list[ImageRecord]) -> None:
    fakes = sorted((r for r in png_set if r.label == "fake"), key=lambda r: r.path.stem)
    annotations = tmp_path / "a.json"  # absolute image keys work too
    annotations.write_text(json.dumps({"images": {str(fakes[0].path): {"traces": {"texture": "smooth"}}}}))
    teacher = tmp_path / "teacher.py"
    teacher.write_text(TEACHER)
    chain, counts = build_fakechain(fakes, annotations, [sys.executable, str(teacher)])
    assert (counts["kept"], counts["dropped_unsupported"]) == (1, 1)
    assert chain[0].image.path == fakes[0].path


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "import sys; sys.stderr.write('model not loaded\\n'); sys.exit(3)",
            "exited with 3 .*model not loaded",
        ),
        ("print('not json')", "is not one JSON object"),
        ("import time; time.sleep(5)", "timed out after 0.5 s"),
        ("print('{\"traces\": [1]}')", r"traces\[0\] must be"),
    ],
)
def test_teacher_failures_name_the_command(
    tmp_path: Path, png_set: list[ImageRecord], script: str, message: str
) -> None:
    teacher = tmp_path / "bad_teacher.py"
    teacher.write_text(script)
    with pytest.raises(DatasetError, match=f"teacher command .*bad_teacher.py.*{message}"):
        build_fakechain(png_set[:1], teacher=[sys.executable, str(teacher)], teacher_timeout=0.5)
    with pytest.raises(DatasetError, match="no-such-teacher.*program not found"):
        build_fakechain(png_set[:1], teacher=["no-such-teacher"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"images": {"fake/sd15/f00.png": {"traces": {"texure": "x"}}}}, "unknown trace category 'texure'"),
        ({"images": {"fake/sd15/nope.png": {"traces": {}}}}, "'fake/sd15/nope.png'] is not an image"),
        ({"demonstrations": [{"label": "fakeish", "rationale": "x"}]}, r"demonstrations\[0\].label"),
        ({"image": {}}, "unknown key 'image'"),
    ],
)
def test_annotation_errors_name_the_key(
    tmp_path: Path, png_set: list[ImageRecord], content: dict, message: str
) -> None:
    root = png_set[0].path.parents[1]
    path = root / "bad-notes.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError, match=message):
        build_fakechain(png_set, path)
    path.write_text("{")
    with pytest.raises(ConfigError, match="bad-notes.json: not valid JSON"):
        build_fakechain(png_set, path)


def test_chain_jsonl_round_trip(tmp_path: Path, png_set: list[ImageRecord]) -> None:
    chain, _ = build_fakechain(png_set)
    out = tmp_path / "out" / "chain.jsonl"
    write_chain_jsonl(chain, out)
    assert [r.to_dict() for r in read_chain_jsonl(out)] == [r.to_dict() for r in chain]
    out.write_text(out.read_text() + '{"image": {}}\n')
    with pytest.raises(DatasetError, match=r"chain.jsonl:5: not a FakeChain record"):
        read_chain_jsonl(out)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(DatasetError, match="broken.png"):
        build_fakechain([ImageRecord(broken, "fake", "train", "sd15")])

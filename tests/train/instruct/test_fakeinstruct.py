from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from fakescope_cli.errors import DatasetError
from fakescope_cli.profile import DEFAULT_PROFILE, ModelProfile
from train.data.records import FAMILIES, ChainRecord, ImageRecord, TraceClaim
from train.instruct.fakechain import compose_rationale
from train.instruct.fakeinstruct import build_fakeinstruct, read_llava_json

PROFILE = ModelProfile(
    name="t",
    judge_prompt="Real photograph or synthetic? One word.",
    explain_prompt="Why? Describe the traces.",
    label_fake="synthetic",
    label_real="authentic",
)


def chain() -> list[ChainRecord]:
    fake_traces = [
        TraceClaim("noise_compression", "A periodic peak 30.2 dB above its surroundings.", "measured"),
        TraceClaim("texture", "Waxy skin.", "human"),
        TraceClaim("texture", "Airbrushed look.", "teacher"),
    ]
    real_traces = [TraceClaim("noise_compression", "No periodic pattern (6.0 dB).", "measured")]
    return [
        ChainRecord(
            ImageRecord(Path("/d/fake/sd15/f00.png"), "fake", "train", "sd15"),
            fake_traces,
            compose_rationale("fake", fake_traces),
            {"spectrum_peak_db": 30.2},
        ),
        ChainRecord(
            ImageRecord(Path("/d/real/r00.png"), "real", "val"),
            real_traces,
            compose_rationale("real", real_traces),
            {"spectrum_peak_db": 6.0},
        ),
        ChainRecord(ImageRecord(Path("/d/fake/flux/f01.png"), "fake", "test", "flux"), [], "", {}),
    ]


def human(item: dict) -> str:
    return item["conversations"][0]["value"]


def answer(item: dict) -> str:
    return item["conversations"][1]["value"]


def test_families_and_item_shape() -> None:
    items = build_fakeinstruct(chain(), DEFAULT_PROFILE)
    families = Counter(item["family"] for item in items)
    # fake: 1 absolute, 1 holistic, 2 narrative + 1 choice, 2 discussion; real: 1, 1, 1 + 1, 2;
    # the judgment-only record: absolute and discussion.
    assert families == {"absolute": 3, "holistic": 2, "fine_grained": 5, "discussion": 6}
    assert set(families) == set(FAMILIES)
    for item in items:
        assert set(item) == {"id", "image", "conversations", "family", "label", "generator", "split"}
        assert [turn["from"] for turn in item["conversations"]] == ["human", "gpt"]
        assert human(item).startswith("<image>\n") and human(item).count("<image>") == 1
    assert len({item["id"] for item in items}) == len(items)
    first = items[0]
    assert (first["image"], first["label"], first["generator"], first["split"]) == (
        "/d/fake/sd15/f00.png",
        "fake",
        "sd15",
        "train",
    )


def test_absolute_answers_are_exactly_the_profile_label_words() -> None:
    items = build_fakeinstruct(chain(), PROFILE)
    absolute = [item for item in items if item["family"] == "absolute"]
    assert [human(item) for item in absolute] == ["<image>\n" + PROFILE.judge_prompt] * 3
    assert [answer(item) for item in absolute] == ["synthetic", "authentic", "synthetic"]
    default = [answer(i) for i in build_fakeinstruct(chain(), DEFAULT_PROFILE) if i["family"] == "absolute"]
    assert default == ["fake", "real", "fake"]


def test_holistic_answer_is_the_rationale_ending_with_the_label_word() -> None:
    items = build_fakeinstruct(chain(), PROFILE)
    holistic = [item for item in items if item["family"] == "holistic"]
    assert human(holistic[0]) == "<image>\n" + PROFILE.explain_prompt
    assert answer(holistic[0]).startswith("Noise and compression: A periodic peak 30.2 dB")
    assert "Texture: Waxy skin. Airbrushed look. These traces" in answer(holistic[0])
    assert answer(holistic[0]).endswith("Verdict: synthetic.")
    assert answer(holistic[1]).endswith("camera photograph. Verdict: authentic.")


def test_fine_grained_narrative_and_multiple_choice() -> None:
    items = [i for i in build_fakeinstruct(chain(), DEFAULT_PROFILE) if i["image"].endswith("f00.png")]
    fine = [item for item in items if item["family"] == "fine_grained"]
    narrative = {answer(item) for item in fine if "A)" not in human(item)}
    assert narrative == {"A periodic peak 30.2 dB above its surroundings.", "Waxy skin. Airbrushed look."}
    [choice] = [item for item in fine if "A)" in human(item)]
    options = re.findall(r"^([ABCD])\) (.+)$", human(choice), re.MULTILINE)
    assert [letter for letter, _ in options] == list("ABCD")
    names = dict(options)
    letter, rest = answer(choice).split(") ", 1)
    category, evidence = rest.split(": ", 1)
    assert names[letter] == category and category in ("texture", "noise and compression")
    assert sum(name in ("texture", "noise and compression") for name in names.values()) == 1
    assert evidence in narrative


def test_discussion_items_use_the_evidence() -> None:
    items = build_fakeinstruct(chain(), DEFAULT_PROFILE)
    fake_talk = [answer(i) for i in items if i["family"] == "discussion" and i["image"].endswith("f00.png")]
    verify, change = fake_talk
    assert "reverse image search" in verify and "C2PA" in verify and "EXIF" in verify
    assert "original file" in verify and "30.2 dB" in verify and "texture" in verify
    assert "would argue for a real photograph" in change
    real_change = [answer(i) for i in items if i["family"] == "discussion" and i["label"] == "real"][1]
    assert "would argue for a generated image" in real_change


def test_deterministic_with_the_seed() -> None:
    assert build_fakeinstruct(chain(), PROFILE, seed=3) == build_fakeinstruct(chain(), PROFILE, seed=3)
    runs = [json.dumps(build_fakeinstruct(chain(), PROFILE, seed=s)) for s in range(6)]
    assert len(set(runs)) > 1


def test_read_fakeclue_style_json(tmp_path: Path) -> None:
    path = tmp_path / "fakeclue.json"
    path.write_text(
        json.dumps(
            [
                {
                    "image": "train/fake/0001.png",
                    "label": 0,
                    "cate": "animal",
                    "conversations": [
                        {"from": "human", "value": "<image>\nDoes the image look real/fake?"},
                        {"from": "gpt", "value": "This is a fake image. The fur ..."},
                    ],
                },
                {
                    "id": "x7",
                    "image": "real/2.jpg",
                    "label": "Real",
                    "family": "absolute",
                    "conversations": [{"from": "human", "value": "Real?"}, {"from": "gpt", "value": "real"}],
                },
            ]
        )
    )
    first, second = read_llava_json(path)
    assert first["id"] == "fakeclue-0" and first["label"] is None and first["source_label"] == 0
    assert first["family"] == "holistic" and first["split"] == "train" and first["source"] == "fakeclue"
    assert second["label"] == "real" and second["family"] == "absolute" and second["id"] == "x7"
    assert human(second) == "<image>\nReal?"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"image": "a.png"}, "expected a JSON list"),
        ([{"conversations": []}], "item 0: missing image"),
        ([{"image": "a.png", "conversations": [{"from": "human", "value": "q"}]}], "item 0: conversations"),
        (
            [
                {
                    "image": "a.png",
                    "conversations": [{"from": "gpt", "value": "q"}, {"from": "human", "value": "a"}],
                }
            ],
            r"conversations\[0\].from must be 'human'",
        ),
        (
            [
                {
                    "image": "a.png",
                    "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": 1}],
                }
            ],
            r"conversations\[1\].value must be text",
        ),
    ],
)
def test_read_llava_json_errors(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DatasetError, match=f"bad.json: {message}" if "list" in message else message):
        read_llava_json(path)

"""FakeInstruct: FakeChain records turned into LLaVA-format instructions of the four families.

* ``absolute``: the profile's ``judge_prompt`` answered by exactly its label word (``label_fake`` /
  ``label_real``, after the profile's ``answer_prefix``, empty by default), so the trained model's
  first answer token is the label word that token-based probability estimation reads.
* ``holistic``: the profile's ``explain_prompt`` answered by the FakeChain rationale, its closing
  ``Verdict: ...`` sentence in the profile's label word.
* ``fine_grained``: a narrative question per trace category of the record, and one multiple-choice
  question (A-D: the record's category among three it has no claim in).
* ``discussion``: how to verify further, and what would change the verdict (templated from the
  label and the evidence).

Item: ``{"id", "image", "conversations": [{"from": "human", "value": "<image>\\n..."},
{"from": "gpt", "value": ...}], "family", "label", "generator", "split"}``. The same chain, profile
and seed give the same items.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

from fakescope_cli.profile import ModelProfile
from train.data.records import TRACE_CATEGORIES, ChainRecord, TraceClaim
from train.instruct.fakechain import CATEGORY_NAMES, VERDICT_PREFIX, join_names, verdict_sentence
from train.model.llava import read_llava_json, write_llava_json

__all__ = ["build_fakeinstruct", "read_llava_json", "write_llava_json"]

IMAGE_TOKEN = "<image>"
LETTERS = "ABCD"
NARRATIVE_QUESTIONS = (
    "What does the {name} of this image show?",
    "Describe the {name} in this image. Is there trace evidence of generation?",
    "Look at the {name}. What do you observe?",
)
CHOICE_QUESTION = (
    "Which aspect of this image carries the clearest trace evidence about its authenticity?\n"
    "{options}\nAnswer with the letter, the aspect and the evidence."
)
VERIFY_QUESTIONS = (
    "How could the authenticity of this image be verified further?",
    "What else should an investigator check before relying on this judgment?",
)
CHANGE_QUESTIONS = (
    "What would change your verdict on this image?",
    "What evidence would make you reconsider your judgment?",
)


def _item(record: ChainRecord, family: str, number: int, question: str, answer: str) -> dict[str, Any]:
    key = hashlib.sha256(str(record.image.path).encode("utf-8")).hexdigest()[:12]
    return {
        "id": f"{key}-{family}-{number}",
        "image": str(record.image.path),
        "conversations": [
            {"from": "human", "value": f"{IMAGE_TOKEN}\n{question}"},
            {"from": "gpt", "value": answer},
        ],
        "family": family,
        "label": record.image.label,
        "generator": record.image.generator,
        "split": record.image.split,
    }


def label_word(profile: ModelProfile, label: str) -> str:
    return profile.label_fake if label == "fake" else profile.label_real


def _rng(seed: int, record: ChainRecord) -> random.Random:
    digest = hashlib.sha256(f"{seed}\0{record.image.path}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _by_category(traces: Sequence[TraceClaim]) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for trace in traces:
        grouped.setdefault(trace.category, []).append(trace.text)
    return {category: " ".join(texts) for category, texts in grouped.items()}


def holistic_answer(record: ChainRecord, profile: ModelProfile) -> str:
    """The rationale with its closing verdict in the profile's label word."""
    rationale = record.rationale.strip()
    closing = verdict_sentence(record.image.label)
    if rationale.endswith(closing):
        rationale = rationale[: -len(closing)].rstrip()
    elif VERDICT_PREFIX in rationale:
        rationale = rationale[: rationale.rindex(VERDICT_PREFIX)].rstrip()
    return f"{rationale} {verdict_sentence(record.image.label, label_word(profile, record.image.label))}"


def build_fakeinstruct(chain: Sequence[ChainRecord], profile: ModelProfile, seed: int = 0) -> list[dict]:
    """All four families for every record (holistic and fine-grained need trace evidence)."""
    items: list[dict[str, Any]] = []
    for record in chain:
        rng = _rng(seed, record)
        label = record.image.label
        items.append(
            _item(
                record,
                "absolute",
                0,
                profile.judge_prompt,
                profile.answer_prefix + label_word(profile, label),
            )
        )
        if record.rationale.strip() and record.traces:
            items.append(
                _item(record, "holistic", 0, profile.explain_prompt, holistic_answer(record, profile))
            )
        items += _fine_grained(record, rng)
        items += _discussion(record, rng)
    return items


def _fine_grained(record: ChainRecord, rng: random.Random) -> list[dict[str, Any]]:
    grouped = _by_category(record.traces)
    items = []
    for number, (category, text) in enumerate(grouped.items()):
        question = rng.choice(NARRATIVE_QUESTIONS).format(name=CATEGORY_NAMES[category])
        items.append(_item(record, "fine_grained", number, question, text))
    if grouped:
        correct = rng.choice(sorted(grouped))
        others = [c for c in TRACE_CATEGORIES if c not in grouped]
        options = [correct, *rng.sample(others, min(3, len(others)))]
        rng.shuffle(options)
        listing = "\n".join(f"{LETTERS[i]}) {CATEGORY_NAMES[c]}" for i, c in enumerate(options))
        letter = LETTERS[options.index(correct)]
        answer = f"{letter}) {CATEGORY_NAMES[correct]}: {grouped[correct]}"
        items.append(
            _item(record, "fine_grained", len(grouped), CHOICE_QUESTION.format(options=listing), answer)
        )
    return items


def _peak(record: ChainRecord) -> float | None:
    value = record.measurements.get("spectrum_peak_db")
    return float(value) if isinstance(value, int | float) else None


def verify_answer(record: ChainRecord) -> str:
    steps = [
        "Run a reverse image search for earlier or independent copies of the picture and where it "
        "first appeared.",
        "Check whether the file carries a C2PA manifest: a valid signature that declares a camera capture "
        "or a generator says more than any visual trace.",
        "Ask for the original file: re-saving, resizing and screenshots erase traces such as the noise "
        "spectrum.",
        "Compare the camera EXIF (make, model, capture time, maker notes) with the picture; EXIF can be "
        "forged or stripped, so its absence proves nothing.",
    ]
    peak = _peak(record)
    if any(t.category == "noise_compression" and t.origin == "measured" for t in record.traces) and peak:
        steps.append(
            f"Measure the noise-residual spectrum again on the original file (here the strongest peak is "
            f"{peak:.1f} dB): resizing and sharpening also make peaks."
        )
    looked = [CATEGORY_NAMES[c] for c in _by_category(record.traces) if c != "noise_compression"]
    if looked:
        steps.append(f"Inspect the {join_names(looked)} again at full resolution.")
    return " ".join(f"{n}. {step}" for n, step in enumerate(steps, start=1))


def change_answer(record: ChainRecord) -> str:
    names = [CATEGORY_NAMES[c] for c in _by_category(record.traces)]
    if record.image.label == "fake":
        text = (
            "A camera original with consistent EXIF and maker notes, a validly signed C2PA manifest "
            "declaring a capture, or the same scene in an earlier, independent source would argue for a "
            "real photograph."
        )
        if names:
            text += (
                f" So would the traces in the {join_names(names)} turning out to be natural on the original."
            )
        return text
    text = (
        "Generator metadata or a C2PA manifest declaring an AI source, a periodic peak in the noise "
        "residual of the original file, or errors in anatomy, text or lighting found on closer "
        "inspection would argue for a generated image."
    )
    if names:
        text += f" What was observed in the {join_names(names)} would then need another explanation."
    return text


def _discussion(record: ChainRecord, rng: random.Random) -> list[dict[str, Any]]:
    return [
        _item(record, "discussion", 0, rng.choice(VERIFY_QUESTIONS), verify_answer(record)),
        _item(record, "discussion", 1, rng.choice(CHANGE_QUESTIONS), change_answer(record)),
    ]

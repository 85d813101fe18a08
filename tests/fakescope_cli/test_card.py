"""The model card: reading it from metadata as untrusted text, and the converter's card file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescope_cli.card import (
    CAVEAT_MAX,
    KEY_CAVEAT,
    KEY_LIMITS,
    ModelCard,
    card_from_metadata,
    load_card_toml,
)
from fakescope_cli.errors import ConfigError


def test_no_card_keys_no_card() -> None:
    assert card_from_metadata({"general.name": "x"}) is None
    assert card_from_metadata({KEY_CAVEAT: "  \n ", KEY_LIMITS: 7}) is None  # blank or not text


def test_hostile_caveat_becomes_one_capped_line_kept_exact_for_json() -> None:
    """Folded and capped here; escaped by whatever displays it (a terminal, a report), never
    twice (the commands' and reports' tests check the display)."""
    caveat = "\x1b[31mred\x1b[0m\nsecond\u202eline" + "x" * 500
    card = card_from_metadata({KEY_CAVEAT: caveat, KEY_LIMITS: "one\ntwo\x07"})
    assert card is not None and card.caveat is not None and card.limits is not None
    assert card.caveat.startswith("\x1b[31mred\x1b[0m second\u202eline")
    assert len(card.caveat) == CAVEAT_MAX and card.caveat.endswith("…")
    assert card.limits == "one\ntwo\x07"


def test_limits_without_caveat_invents_no_caveat() -> None:
    assert card_from_metadata({KEY_LIMITS: "seen only FLUX"}) == ModelCard(None, "seen only FLUX")


def test_card_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "card.toml"
    path.write_text('caveat = "  never saw Midjourney "\nlimits = """\nTrained on two generators.\n"""\n')
    card = load_card_toml(path)
    assert card == ModelCard("never saw Midjourney", "Trained on two generators.")
    assert card_from_metadata(card.to_metadata()) == card


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('limits = "no caveat"', "needs a 'caveat'"),
        ('caveat = ""', "needs a 'caveat'"),
        ("caveat = 3", "needs a 'caveat'"),
        ('caveat = "two\\nlines"', "one line"),
        ('caveat = "bell\\u0007"', "one line"),
        (f'caveat = "{"x" * (CAVEAT_MAX + 1)}"', f"at most {CAVEAT_MAX}"),
        ('caveat = "ok"\nlimits = ["a"]', "'limits' must be a string"),
        ('caveat = "ok"\nlimits = "\\u001b[2J"', "control characters"),
        ('caveat = "ok"\nlimit = "typo"', "unknown model card keys ['limit']"),
        ("caveat = ", "cannot read the model card"),
    ],
)
def test_card_file_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "card.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="card.toml") as info:
        load_card_toml(path)
    assert message in str(info.value)

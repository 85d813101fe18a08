"""`fakescope c2pa`: the manifest store as a tree, with plain words for a failed validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.evidence.c2pa_check import read_manifest_store
from fakescope_cli.evidence.c2pa_tree import store_tree
from tests.fakescope_cli.evidence.builders import IPTC, TestSigner, jpeg_bytes

runner = CliRunner()
AI_CREATED = [{"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]


@pytest.fixture(scope="module")
def signed() -> bytes:
    return TestSigner().sign(jpeg_bytes(), "image/jpeg", AI_CREATED, generator="Image Maker")


def test_the_tree_names_generator_signer_actions_and_status(signed: bytes) -> None:
    store = read_manifest_store(signed, "JPEG")
    assert store is not None
    text = "\n".join(store_tree(store).lines())
    assert "claim generator: Image Maker 1.0" in text
    assert "signed by: Test Signer (issuer FakeScope test suite" in text
    assert "c2pa.created (digitalSourceType trainedAlgorithmicMedia)" in text
    assert "signingCredential.untrusted" in text


def test_the_command_shows_tampering_in_plain_words(tmp_path: Path, signed: bytes) -> None:
    tampered = bytearray(signed)
    tampered[-200] ^= 0xFF
    path = tmp_path / "tampered.jpg"
    path.write_bytes(bytes(tampered))
    shown = runner.invoke(app, ["c2pa", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "the pixels were changed after this file was signed" in shown.stdout
    as_json = json.loads(runner.invoke(app, ["c2pa", str(path), "--json"]).stdout)
    assert as_json["store"]["validation_state"] == "Invalid"


def test_a_file_without_credentials_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(jpeg_bytes())
    shown = runner.invoke(app, ["c2pa", str(plain)])
    assert shown.exit_code == 0 and "no Content Credentials" in shown.stdout
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    assert runner.invoke(app, ["c2pa", str(broken)]).exit_code in (0, 3)


def test_a_crafted_store_cannot_make_the_tree_explode() -> None:
    """Ten manifests, each naming the next six times as ingredients: walked per path that is 6^8
    nodes; each manifest is expanded once."""
    manifests = {
        f"m{d}": {"title": f"t{d}", "ingredients": [{"title": "i", "active_manifest": f"m{d + 1}"}] * 6}
        for d in range(10)
    }
    tree = store_tree({"active_manifest": "m0", "manifests": manifests, "validation_state": "Valid"})
    lines = tree.lines()
    assert len(lines) < 500
    titles = [sum(f"title: t{d}" in line for line in lines) for d in range(10)]
    assert titles[0] == 1 and max(titles) == 1  # each manifest expanded at most once


def test_next_steps_use_the_failures_own_words(gather) -> None:
    from fakescope_cli.evidence.items import EvidenceItem
    from fakescope_cli.evidence.next_steps import next_steps

    def manifest(codes: list[str]) -> EvidenceItem:
        value = {"state": "Invalid", "failures": codes, "trusted": False, "signer": "x"}
        return EvidenceItem("c2pa.manifest", "provenance", "s", value)

    (expired,) = [
        s for s in next_steps([manifest(["signingCredential.expired"])], None) if "Credentials" in s
    ]
    assert "certificate had expired" in expired and "changed" not in expired
    (tampered,) = [
        s for s in next_steps([manifest(["assertion.dataHash.mismatch"])], None) if "Credentials" in s
    ]
    assert "the pixels were changed after this file was signed" in tampered


def test_c2pa_on_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["c2pa", str(tmp_path / "nope.jpg")])
    assert result.exit_code == 2 and "nope.jpg" in result.stderr

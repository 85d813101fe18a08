"""The full metadata dump (``fakescope metadata``), and terminal control sequences in metadata
as a finding of their own."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fakescope_cli.app import app
from fakescope_cli.evidence.metadata_dump import MAX_VALUE, dump_metadata, has_control_sequence
from tests.fakescope_cli.evidence.builders import (
    camera_exif,
    insert_jpeg_segment,
    jpeg_bytes,
    png_bytes,
    xmp_description,
    xmp_packet,
)
from tests.fakescope_cli.evidence.conftest import ids, only

runner = CliRunner()
OSC = "\x1b]0;owned\x07"


def _groups(dump) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for entry in dump.fields:
        out.setdefault(entry.group, {})[entry.name] = entry.value
    return out


def test_exif_xmp_and_comment_fields_are_listed_by_group() -> None:
    packet = xmp_packet(xmp_description(creator_tool="Darktable 4.6"))
    data = insert_jpeg_segment(
        jpeg_bytes(exif=camera_exif()), 0xE1, b"http://ns.adobe.com/xap/1.0/\0" + packet
    )
    data = insert_jpeg_segment(data, 0xFE, b"shot on a tripod")
    groups = _groups(dump_metadata(data))
    assert groups["EXIF Image"]["Make"] == "Canon" and groups["EXIF Image"]["Model"] == "Canon EOS R5"
    assert groups["EXIF EXIF"]["DateTimeOriginal"] == "2025:06:01 10:11:12"
    assert groups["XMP xmp"]["CreatorTool"] == "Darktable 4.6"
    assert groups["JPEG comment"]["comment"] == "shot on a tripod"


def test_png_text_is_kept_exact_and_long_values_are_capped() -> None:
    dump = dump_metadata(png_bytes(texts={"Comment": "x" * (MAX_VALUE + 50), "Title": f"a{OSC}b"}))
    (long,) = [f for f in dump.fields if f.name == "Comment"]
    assert len(long.value) == MAX_VALUE and long.truncated
    (title,) = [f for f in dump.fields if f.name == "Title"]
    assert title.value == f"a{OSC}b"  # exact here; every writer escapes it
    assert [f"{f.group}: {f.name}" for f in dump.control_sequences] == [f"{title.group}: Title"]


def test_control_sequences_are_a_finding(gather) -> None:
    report = gather(png_bytes(texts={"Description": f"nice{OSC}"}), "osc.png", signals=False)
    item = only(report, "metadata.control_sequences")
    assert "Description" in item.location
    clean = gather(png_bytes(texts={"Description": "Čeština › ě"}), "utf8.png", signals=False)
    assert "metadata.control_sequences" not in ids(clean)  # UTF-8 continuation bytes are not C1 controls
    assert not has_control_sequence("Čeština ě ›".encode())


def test_metadata_command_escapes_on_the_terminal_and_keeps_json_exact(tmp_path: Path) -> None:
    image = tmp_path / "osc.png"
    image.write_bytes(png_bytes(texts={"Title": f"a{OSC}b"}))
    shown = runner.invoke(app, ["metadata", str(image)])
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "Title: a\\x1b]0;owned\\x07b" in shown.stdout
    assert "terminal control sequences" in shown.stderr
    as_json = runner.invoke(app, ["metadata", str(image), "--json"])
    assert "\x1b" not in as_json.stdout  # JSON escapes it as \u001b
    (document,) = json.loads(as_json.stdout)["files"]
    assert any(f["value"] == f"a{OSC}b" for f in document["fields"])
    missing = runner.invoke(app, ["metadata", str(tmp_path / "nope.png")])
    assert missing.exit_code == 2


def test_emoji_codes_in_metadata_print_as_written(tmp_path: Path) -> None:
    """Rich would turn ":white_check_mark:" into a check mark the file never held."""
    image = tmp_path / "emoji.png"
    image.write_bytes(png_bytes(texts={"Software": ":white_check_mark: verified :lock:"}))
    shown = runner.invoke(app, ["metadata", str(image)])
    assert ":white_check_mark: verified :lock:" in shown.stdout
    assert "\u2705" not in shown.stdout and "\U0001f512" not in shown.stdout

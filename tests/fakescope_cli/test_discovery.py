from pathlib import Path

from fakescope_cli.discovery import discover
from tests.conftest import write_test_image


def test_folder_walk_by_content(tmp_path: Path) -> None:
    write_test_image(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    write_test_image(tmp_path / "sub" / "photo-without-extension")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"")  # image name, no content: reported, not skipped
    found = [item.path.relative_to(tmp_path).as_posix() for item in discover([tmp_path])]
    assert found == ["a.png", "broken.jpg", "sub/photo-without-extension"]


def test_named_files_always_count_and_duplicates_once(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("x")
    image = write_test_image(tmp_path / "a.png")
    items = list(discover([text, image, tmp_path]))
    assert [i.path.name for i in items] == ["notes.txt", "a.png"]


def test_missing_path_is_an_error_item(tmp_path: Path) -> None:
    (item,) = list(discover([tmp_path / "nope"]))
    assert item.error is not None and "nope" in item.error

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


def test_fifo_and_symlink_loop_do_not_stop_the_walk(tmp_path: Path) -> None:
    import os

    write_test_image(tmp_path / "a.png")
    os.mkfifo(tmp_path / "pipe")  # opening it to sniff would block forever
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    items = list(discover([tmp_path]))
    names = {i.path.name: i.error for i in items}
    assert "pipe" not in names
    assert names["a.png"] is None
    assert names["loop.png"] is not None  # reported, named, and the scan goes on
    (item,) = list(discover([tmp_path / "pipe"]))
    assert item.error is not None and "not a regular file" in item.error

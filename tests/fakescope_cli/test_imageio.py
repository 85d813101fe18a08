from pathlib import Path

import pytest
from PIL import Image

from fakescope_cli.errors import ImageInputError
from fakescope_cli.imageio import LoadedImage, load_image, sniff_format
from tests.conftest import write_test_image


def test_png_without_extension_is_read_by_content(tmp_path: Path) -> None:
    path = write_test_image(tmp_path / "no-extension", size=(40, 30))
    image = load_image(path)
    assert (image.width, image.height, image.format) == (40, 30, "PNG")
    assert len(image.rgb) == 40 * 30 * 3


def test_alpha_is_composited_over_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(path)
    assert set(load_image(path).rgb) == {255}


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path, exif=exif)
    image = load_image(path)
    assert (image.width, image.height) == (20, 40)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"just some text, not pixels", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "damaged or truncated"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageInputError, match=message) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_truncated_jpeg(tmp_path: Path) -> None:
    good = write_test_image(tmp_path / "good.jpg", size=(64, 64), fmt="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageInputError, match="truncated"):
        load_image(cut)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("L", (4000, 4000)).save(path, optimize=True)  # 16 Mpx of zeros, a few KB on disk
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageInputError, match="decompression bomb"):
        load_image(path, max_pixels=1_000_000)


def test_unreadable_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ImageInputError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="folder"):
        load_image(tmp_path)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a", "GIF"),
        (b"%PDF-1.4", None),
    ],
)
def test_sniff(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_eps_is_never_decoded_even_when_named_png(tmp_path: Path) -> None:
    """Pillow's EPS plugin runs Ghostscript: untrusted PostScript must not reach it."""
    path = tmp_path / "photo.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(path)


def test_a_region_is_the_same_pixels_from_the_image_or_from_its_packed_bytes(tmp_path: Path) -> None:
    write_test_image(tmp_path / "a.png", size=(37, 23))
    loaded = load_image(tmp_path / "a.png")
    assert isinstance(loaded.pixels, Image.Image)  # nothing packed until something asks
    packed = LoadedImage(loaded.path, loaded.rgb, loaded.width, loaded.height, "PNG", loaded.sha256)
    for box in [(0, 0, 37, 23), (5, 3, 16, 16), (36, 22, 1, 1), (0, 10, 37, 2)]:
        assert loaded.region(*box) == packed.region(*box)
        x, y, w, h = box
        expected = Image.open(tmp_path / "a.png").convert("RGB").crop((x, y, x + w, y + h)).tobytes()
        assert loaded.region(*box) == expected
    assert loaded.pixel_id == packed.pixel_id
    for outside in [(30, 0, 8, 8), (0, 20, 4, 4), (-1, 0, 2, 2), (0, 0, 0, 5)]:
        for image in (loaded, packed):
            with pytest.raises(ValueError):
                image.region(*outside)

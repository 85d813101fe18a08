"""Model lookup order: flags, environment, config file, models folders."""

import shutil
from pathlib import Path

import pytest

from fakescope_cli.errors import ModelNotFoundError
from fakescope_cli.models import locate_model


@pytest.fixture()
def pairs(tiny_gguf, tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("flag", "env", "config", "folder"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(tiny_gguf[0], folder / f"{name}.gguf")
        shutil.copy(tiny_gguf[1], folder / f"{name}.mmproj.gguf")
        out[name] = folder
    return out


def test_lookup_order(pairs: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'model = "{pairs["config"] / "config.gguf"}"\n')
    monkeypatch.setenv("FAKESCOPE_CONFIG", str(config))
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(pairs["folder"]))
    env = {"FAKESCOPE_MODEL": str(pairs["env"] / "env.gguf")}

    assert locate_model(pairs["flag"] / "flag.gguf", environ=env).text.name == "flag.gguf"
    found = locate_model(environ=env)
    assert (found.text.name, found.mmproj.name, found.found_by) == (
        "env.gguf",
        "env.mmproj.gguf",
        "FAKESCOPE_MODEL",
    )
    assert locate_model(environ={}).text.name == "config.gguf"
    config.unlink()
    found = locate_model(environ={})
    assert found.text.name == "folder.gguf" and "models folder" in found.found_by


def test_folder_argument_and_ambiguity(pairs: dict[str, Path]) -> None:
    assert locate_model(pairs["flag"], environ={}).mmproj.name == "flag.mmproj.gguf"
    shutil.copy(pairs["env"] / "env.gguf", pairs["flag"] / "second.gguf")
    with pytest.raises(ModelNotFoundError, match="several models"):
        locate_model(pairs["flag"], environ={})


def test_missing_projector(pairs: dict[str, Path]) -> None:
    (pairs["flag"] / "flag.mmproj.gguf").unlink()
    with pytest.raises(ModelNotFoundError, match="mmproj"):
        locate_model(pairs["flag"] / "flag.gguf", environ={})


def test_nothing_found_lists_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model found") as info:
        locate_model(environ={})
    assert "--model" in str(info.value) and "FAKESCOPE_MODEL" in str(info.value)


def test_an_installed_model_is_named_by_its_name(pairs: dict[str, Path], monkeypatch) -> None:
    """`--model fakevlm`: the name `model list` shows, when several models share the folder."""
    from fakescope_cli.errors import ModelFileError

    folder = pairs["folder"]
    shutil.copy(folder / "folder.gguf", folder / "second.gguf")
    shutil.copy(folder / "folder.mmproj.gguf", folder / "second.mmproj.gguf")
    monkeypatch.setenv("FAKESCOPE_MODELS_DIR", str(folder))
    with pytest.raises(ModelNotFoundError, match="several models"):
        locate_model(environ={})
    found = locate_model(Path("second"), environ={})
    assert (found.text, found.mmproj) == (folder / "second.gguf", folder / "second.mmproj.gguf")
    assert "installed in" in found.found_by
    with pytest.raises(ModelFileError, match="not found"):
        locate_model(Path("third"), environ={})

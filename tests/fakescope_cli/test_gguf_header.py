from pathlib import Path

import pytest

from fakescope_cli.errors import ModelFileError
from fakescope_cli.gguf_header import read_header
from fakescope_cli.models import ModelFiles, validate_pair


def test_reads_metadata_and_tensor_table(tiny_gguf) -> None:
    text = read_header(tiny_gguf[0])
    assert text.architecture == "llama"
    assert text.metadata["fakescope.profile.label_fake"] == "fake"
    assert any(t.name == "token_embd.weight" for t in text.tensors)
    assert text.expected_size <= text.file_size
    proj = read_header(tiny_gguf[1])
    assert proj.architecture == "clip"
    assert proj.metadata["clip.projector_type"] == "idefics3"


def test_truncated_file_is_named(tiny_gguf, tmp_path: Path) -> None:
    data = tiny_gguf[0].read_bytes()
    for cut in (10, 2000, len(data) - 100):
        broken = tmp_path / f"cut{cut}.gguf"
        broken.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated") as info:
            read_header(broken)
        assert str(broken) in str(info.value)


def test_not_a_gguf(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04 zip file, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        read_header(path)
    with pytest.raises(ModelFileError, match="not found"):
        read_header(tmp_path / "missing.gguf")


def test_swapped_and_mismatched_pairs(tiny_gguf, tmp_path: Path) -> None:
    text, proj = tiny_gguf
    with pytest.raises(ModelFileError, match="vision projector, not a text model"):
        validate_pair(ModelFiles(proj, text, "test"))
    with pytest.raises(ModelFileError, match="not a vision projector"):
        validate_pair(ModelFiles(text, text, "test"))
    validated = validate_pair(ModelFiles(text, proj, "test"))
    assert validated.text.n_parameters > 0


def test_projector_of_another_model_is_refused(tiny_gguf, tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "other.mmproj.gguf"
    writer = gguf.GGUFWriter(path, arch="clip")
    writer.add_vision_projection_dim(96)  # the tiny text model is 64 wide
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ModelFileError, match="does not belong"):
        validate_pair(ModelFiles(tiny_gguf[0], path, "test"))

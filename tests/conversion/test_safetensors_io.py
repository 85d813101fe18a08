"""Our plain-read safetensors reader against the safetensors library's own files."""

from pathlib import Path

import numpy as np
import pytest

from conversion.safetensors_io import read_index, read_tensor
from fakescope_cli.errors import ConversionError

torch = pytest.importorskip("torch")


def test_reads_what_torch_wrote(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(0)
    tensors = {
        "a": torch.randn(3, 5, generator=gen),
        "b": torch.randn(7, generator=gen).to(torch.bfloat16),
        "c": torch.randn(2, 2, 2, generator=gen).half(),
    }
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path))
    index = read_index(path)
    assert {name: entry.shape for name, entry in index.items()} == {"a": (3, 5), "b": (7,), "c": (2, 2, 2)}
    for name, tensor in tensors.items():
        ours = read_tensor(index[name])
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, tensor.float().numpy())


def test_truncated_file_is_named(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(64, 64)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ConversionError, match="does not fit the file"):
        read_index(path)
    path.write_bytes(b"\xff" * 8)
    with pytest.raises(ConversionError, match="implausible safetensors header"):
        read_index(path)

"""Rows of a text GGUF's token-embedding table, read from the file and dequantized on demand.

llama.cpp takes a batch either as token ids or as embeddings, never both. A multimodal prompt
is text and image embeddings interleaved; fed as embeddings throughout, the whole prompt fits in
one ``llama_decode`` instead of one per text run and image chunk. That is exact only where the
model's input layer is a plain row lookup of ``token_embd.weight`` (no scaling, no positional
table added at the input), so only the architectures listed here take that path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fakescope_cli.gguf_header import GGML_TYPES, read_header

# Text architectures whose input is exactly get_rows(token_embd, ids) in llama.cpp's graph.
PLAIN_LOOKUP_ARCHITECTURES = frozenset({"llama"})
TABLE = "token_embd.weight"


class Unsupported(Exception):
    """This text model cannot take its prompt as embeddings (the reason is the message)."""


class TokenEmbeddings:
    """The embedding rows of ``path``'s vocabulary, memory-mapped; rows used are cached as f32."""

    def __init__(self, path: Path):
        header = read_header(path)
        if header.architecture not in PLAIN_LOOKUP_ARCHITECTURES:
            raise Unsupported(f"text architecture {header.architecture!r} is not a plain embedding lookup")
        tensor = next((t for t in header.tensors if t.name == TABLE), None)
        if tensor is None or len(tensor.shape) != 2:
            raise Unsupported(f"no two-dimensional {TABLE}")
        try:
            from gguf import GGMLQuantizationType
            from gguf.quants import dequantize
        except ImportError as exc:  # pragma: no cover - gguf is a dependency
            raise Unsupported(f"the gguf package is missing ({exc})") from None
        try:
            self._type = GGMLQuantizationType(tensor.type_id)
        except ValueError:
            raise Unsupported(f"unknown storage type {tensor.type_id} of {TABLE}") from None
        _, per_block, block_bytes = GGML_TYPES.get(tensor.type_id, ("", 0, 0))
        self.n_embd, self.n_vocab = tensor.shape
        if not per_block or self.n_embd % per_block:
            raise Unsupported(f"{TABLE} stored as {tensor.type_name} cannot be read row by row here")
        row_bytes = self.n_embd // per_block * block_bytes
        end = header.data_offset + tensor.offset + row_bytes * self.n_vocab
        if end > header.file_size:
            raise Unsupported(f"{TABLE} runs past the end of the file")
        self._dequantize = dequantize
        self._rows = np.memmap(
            path, dtype=np.uint8, mode="r", offset=header.data_offset + tensor.offset,
            shape=(self.n_vocab, row_bytes),
        )  # fmt: skip
        self._cache: dict[int, np.ndarray] = {}

    def rows(self, tokens: Sequence[int]) -> np.ndarray:
        """(len(tokens), n_embd) float32: the input embeddings llama.cpp would look up."""
        missing = sorted({int(t) for t in tokens} - self._cache.keys())
        if missing:
            if missing[0] < 0 or missing[-1] >= self.n_vocab:
                raise ValueError(f"token id outside the vocabulary of {self.n_vocab}")
            raw = np.asarray(self._rows[missing])
            values = np.asarray(self._dequantize(raw, self._type), dtype=np.float32).reshape(len(missing), -1)
            for token, row in zip(missing, values, strict=True):
                self._cache[token] = row
        if not len(tokens):
            return np.zeros((0, self.n_embd), dtype=np.float32)
        return np.stack([self._cache[int(t)] for t in tokens])

    def close(self) -> None:
        mapped = getattr(self._rows, "_mmap", None)
        self._cache.clear()
        del self._rows
        if mapped is not None:
            mapped.close()

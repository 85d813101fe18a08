"""libmtmd's side of a model pair: the vision projector, prompt chunking and image encodings."""

from __future__ import annotations

import contextlib
import ctypes
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakescope_cli.errors import InferenceError, ModelFileError


@dataclass(frozen=True)
class Unit:
    """One evaluated position range: a text token, or one image chunk of a prompt."""

    kind: str  # "text" or "image"
    key: object  # token id, or (image id, ordinal)
    n_pos: int


Plan = list[tuple[object, list[Unit]]]  # libmtmd's chunks, each with the units it holds

# Output tokens libmtmd may encode in one graph, where the projector takes a batch of image
# chunks (Idefics3 tiles: FakeScope-mini's 64 px tiles give 4 tokens each, so up to 32 tiles; a
# 512 px SmolVLM tile gives 64, so two, which keeps the attention scores of a batch small).
BATCH_MAX_TOKENS = 128
Member = tuple[object, Unit, dict[int, np.ndarray]]  # an image chunk, its unit, where it is kept
KEPT_IMAGES = 8  # images whose encodings are kept (a crops view's crops are scored together)


class Vision:
    """A loaded mmproj GGUF; keeps the encodings of the latest images it encoded."""

    def __init__(self, mtmd, text_model, mmproj_path: Path, threads: int, use_gpu: bool, n_embd: int):
        self.mtmd = mtmd
        self.n_embd = n_embd
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.print_timings = False
        params.n_threads = threads
        params.warmup = False
        params.batch_max_tokens = BATCH_MAX_TOKENS
        self.ctx = mtmd.mtmd_init_from_file(str(mmproj_path).encode(), text_model, params)
        if not self.ctx:
            raise ModelFileError(
                f"{mmproj_path}: libmtmd could not load the vision projector "
                "(wrong file, or it does not belong to this text model)"
            )
        if not mtmd.mtmd_support_vision(self.ctx):
            self.close()
            raise ModelFileError(f"{mmproj_path}: projector has no vision encoder")
        self.marker = mtmd.mtmd_default_marker().decode()
        self._kept: dict[object, dict[int, np.ndarray]] = {}  # image id -> chunk ordinal -> rows
        self.images_encoded = 0  # image chunks encoded
        self.graphs = 0  # encoder graphs run for them (fewer where chunks were batched)
        self.seconds = 0.0  # time inside libmtmd's encoder

    def close(self) -> None:
        if self.ctx:
            self.mtmd.mtmd_free(self.ctx)
            self.ctx = None

    @property
    def plain_positions(self) -> bool:
        """Image tokens take ordinary causal positions (no M-RoPE, no bidirectional attention)."""
        mtmd = self.mtmd
        return not (mtmd.mtmd_decode_use_mrope(self.ctx) or mtmd.mtmd_decode_use_non_causal(self.ctx, None))

    @contextlib.contextmanager
    def chunks(self, prompt: str, rgb: bytes, width: int, height: int, image_id: str) -> Iterator[Plan]:
        """libmtmd's chunks (text runs and image chunks) of a prompt holding one image marker."""
        mtmd = self.mtmd
        buf = (ctypes.c_uint8 * len(rgb)).from_buffer_copy(rgb)
        bitmap = mtmd.mtmd_bitmap_init(width, height, buf)
        if not bitmap:
            raise InferenceError("libmtmd could not take the image")
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            mtmd.mtmd_bitmap_set_id(bitmap, image_id.encode())
            text = mtmd.mtmd_input_text()
            encoded = prompt.encode("utf-8")
            text.text = encoded
            text.text_len = len(encoded)
            text.add_special = True
            text.parse_special = True
            bitmaps = (mtmd.mtmd_bitmap_p_ctypes * 1)(bitmap)
            status = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(text), bitmaps, 1)
            if status != 0:
                raise InferenceError(f"libmtmd could not tokenize the prompt (status {status})")
            yield self._plan(chunks)
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            mtmd.mtmd_bitmap_free(bitmap)

    def _plan(self, chunks) -> Plan:
        mtmd = self.mtmd
        out: Plan = []
        ordinal = 0
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t()
                ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                out.append((chunk, [Unit("text", ptr[j], 1) for j in range(n.value)]))
            else:
                key = (mtmd.mtmd_input_chunk_get_id(chunk), ordinal)
                ordinal += 1
                out.append((chunk, [Unit("image", key, mtmd.mtmd_input_chunk_get_n_pos(chunk))]))
        return out

    def _kept_for(self, image_id: object) -> dict[int, np.ndarray]:
        """The image's kept encodings, now the most recently used (at most KEPT_IMAGES kept)."""
        kept = self._kept.pop(image_id, None)
        if kept is None:
            kept = {}
            while len(self._kept) >= KEPT_IMAGES:
                del self._kept[next(iter(self._kept))]  # the least recently used
        self._kept[image_id] = kept
        return kept

    def encode_plans(self, plans: Sequence[Plan]) -> None:
        """Encodes the image chunks of these prompts not yet kept, as many in one graph as libmtmd
        takes (one graph a chunk where the projector takes no batch); ``encode`` then finds them."""
        if len(plans) > KEPT_IMAGES:
            raise ValueError(f"at most {KEPT_IMAGES} prompts are encoded together")
        pending: list[Member] = []
        for plan in plans:
            for chunk, units in plan:
                if units and units[0].kind == "image":
                    key: tuple[object, int] = units[0].key  # type: ignore[assignment]
                    kept = self._kept_for(key[0])
                    if key[1] not in kept:
                        pending.append((chunk, units[0], kept))
        if len(pending) < 2:
            return  # ``encode`` does it alone
        mtmd = self.mtmd
        batch = mtmd.mtmd_batch_init(self.ctx)
        members: list[Member] = []
        try:
            for chunk, unit, kept in pending:
                status = mtmd.mtmd_batch_add_chunk(batch, chunk)
                if status != 0 and members:  # the batch is full, or the chunk unlike its members
                    self._encode_batch(batch, members)
                    mtmd.mtmd_batch_free(batch)
                    batch, members = mtmd.mtmd_batch_init(self.ctx), []
                    status = mtmd.mtmd_batch_add_chunk(batch, chunk)
                if status != 0:
                    raise InferenceError(f"libmtmd could not take an image chunk (status {status})")
                members.append((chunk, unit, kept))
            if members:
                self._encode_batch(batch, members)
        finally:
            mtmd.mtmd_batch_free(batch)

    def _encode_batch(self, batch, members: list[Member]) -> None:
        self._run(self.mtmd.mtmd_batch_encode, batch)
        for chunk, unit, kept in members:
            self._keep(kept, chunk, unit, self.mtmd.mtmd_batch_get_output_embd(batch, chunk))

    def _run(self, encode, *args) -> None:
        """One libmtmd encode call, timed and counted as one graph."""
        started = time.perf_counter()
        status = encode(*args)
        self.seconds += time.perf_counter() - started
        self.graphs += 1
        if status != 0:
            raise InferenceError(f"libmtmd failed to encode the image (status {status})")

    def _keep(self, kept: dict[int, np.ndarray], chunk, unit: Unit, ptr) -> None:
        """Copies the chunk's encoding from libmtmd's buffer at ``ptr`` into ``kept``."""
        n_tokens = self.mtmd.mtmd_input_chunk_get_n_tokens(chunk)
        if not ptr or n_tokens != unit.n_pos:
            raise InferenceError("libmtmd returned no usable image encoding")
        flat = np.ctypeslib.as_array(ptr, shape=(n_tokens * self.n_embd,))
        kept[unit.key[1]] = flat.reshape(n_tokens, self.n_embd).copy()  # type: ignore[index]
        self.images_encoded += 1

    def encode(self, chunk, unit: Unit) -> np.ndarray:
        """The (n_tokens, n_embd) encoding of one image chunk, kept with its image's others."""
        key: tuple[object, int] = unit.key  # type: ignore[assignment]
        image_id, ordinal = key
        kept = self._kept_for(image_id)
        if ordinal not in kept:
            self._run(self.mtmd.mtmd_encode_chunk, self.ctx, chunk)
            self._keep(kept, chunk, unit, self.mtmd.mtmd_get_output_embd(self.ctx))
        return kept[ordinal]

"""Owning wrapper around a llama.cpp text model, its libmtmd vision context and the KV cache.

Everything native is created in :class:`NativeModel` and released by :meth:`NativeModel.close`
(also on ``with``-exit). The KV cache is tracked as a list of units (text tokens and image
chunks); a new prompt that shares a prefix with what is already evaluated reuses it, and the
vision encoding of the latest image is kept, so an image is encoded once even when several
questions are asked about it.

Where the text model allows it (:mod:`fakescope_cli.engine.embeddings`), a prompt is decoded as
one batch of embeddings (text rows and image encodings together) instead of one ``llama_decode``
per text run and image chunk; :meth:`NativeModel.decode_embeddings` also decodes several
sequences that share cells in one call (:mod:`fakescope_cli.engine.batched`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakescope_cli.engine.embeddings import TokenEmbeddings, Unsupported
from fakescope_cli.engine.threads import default_threads
from fakescope_cli.engine.vision import Plan, Unit, Vision
from fakescope_cli.errors import InferenceError, ModelFileError

log = logging.getLogger(__name__)
native_log = logging.getLogger("fakescope_cli.llama_cpp")


def _load_bindings():
    import llama_cpp
    import llama_cpp.mtmd_cpp as mtmd

    global _BACKEND_READY
    if not _BACKEND_READY:
        llama_cpp.llama_backend_init()
        _BACKEND_READY = True
    return llama_cpp, mtmd


_BACKEND_READY = False


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int = 4096
    gpu_layers: int = 0
    threads: int | None = None
    n_batch: int = 512
    seed: int = 0
    verbose: bool = False
    n_seq_max: int = 64  # sequences one decode may hold (batched scoring: crops x label variants)
    batched: bool = True  # prompts as embedding batches where the model allows; False: chunk by chunk


_LOG_CALLBACK = None


def route_native_logs() -> None:
    """Send llama.cpp's and libmtmd's log lines to Python logging, at DEBUG level.

    They are diagnostics for developers; the errors users see are raised as exceptions.
    """
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    llama_cpp, mtmd = _load_bindings()

    @llama_cpp.llama_log_callback
    def forward(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            native_log.debug("%s", message)

    _LOG_CALLBACK = forward
    llama_cpp.llama_log_set(forward, None)
    mtmd.mtmd_log_set(forward, None)
    mtmd.mtmd_helper_log_set(forward, None)


class NativeModel:
    """A loaded text GGUF + mmproj GGUF pair, with its KV cache (sequence 0 for prompts; more
    sequences for batched scoring, sharing one unified cache)."""

    def __init__(self, text_path: Path, mmproj_path: Path, options: LoadOptions | None = None):
        options = options or LoadOptions()
        llama_cpp, mtmd = _load_bindings()
        from llama_cpp._internals import LlamaContext, LlamaModel

        self.lib = llama_cpp
        self.mtmd = mtmd
        self.options = options
        self._stack = contextlib.ExitStack()
        threads = options.threads or default_threads()
        route_native_logs()
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = options.gpu_layers
        try:
            self.llama = LlamaModel(path_model=str(text_path), params=model_params, verbose=options.verbose)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{text_path}: llama.cpp could not load the model ({exc})") from exc
        self._stack.callback(self.llama.close)
        try:
            params = llama_cpp.llama_context_default_params()
            params.n_ctx = options.n_ctx
            params.n_batch = params.n_ubatch = options.n_batch
            params.n_threads = params.n_threads_batch = threads
            # llama.cpp reserves outputs for every sequence within n_batch's: more aborts it.
            limit = min(options.n_seq_max, options.n_batch, llama_cpp.llama_max_parallel_sequences())
            params.n_seq_max = max(1, limit)
            params.kv_unified = True  # sequences share cells (a prompt under its label variants)
            try:
                context = LlamaContext(model=self.llama, params=params, verbose=options.verbose)
            except ValueError as exc:
                raise ModelFileError(f"{text_path}: llama.cpp could not create a context ({exc})") from exc
            self._stack.callback(context.close)
            self.ctx = context.ctx
            self.n_seq_max = int(params.n_seq_max)
            self.n_embd = int(llama_cpp.llama_model_n_embd(self.llama.model))
            self.vision = Vision(
                mtmd, self.llama.model, mmproj_path, threads, options.gpu_layers != 0, self.n_embd
            )
            self._stack.callback(self.vision.close)
            self.mctx = self.vision.ctx
            self.batch = llama_cpp.llama_batch_init(options.n_batch, 0, 1)
            self._stack.callback(llama_cpp.llama_batch_free, self.batch)
            self.embeddings = self._open_embeddings(text_path) if options.batched else None
            if self.embeddings is not None:
                self._stack.callback(self.embeddings.close)
                self.embd_batch = llama_cpp.llama_batch_init(options.n_batch, self.n_embd, self.n_seq_max)
                self._stack.callback(llama_cpp.llama_batch_free, self.embd_batch)
        except BaseException:
            self._stack.close()
            raise
        self.vocab = self.llama.vocab
        self.n_vocab = self.llama.n_vocab()
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx))
        self.marker = self.vision.marker
        self.units: list[Unit] = []
        self._helper_encodes = 0  # image chunks libmtmd's helper encoded and decoded itself
        self.decodes = 0  # llama_decode calls made
        self.prompt_positions = 0  # positions of the latest prompt
        self._seconds = 0.0  # time inside llama.cpp's decode

    def _open_embeddings(self, text_path: Path) -> TokenEmbeddings | None:
        """The token table when prompts can go to llama.cpp as embeddings; None (and why, in the
        debug log) when they must go chunk by chunk."""
        if not self.vision.plain_positions:
            log.debug("prompts chunk by chunk: the image positions are not plain causal positions")
            return None
        try:
            table = TokenEmbeddings(text_path)
        except (Unsupported, ModelFileError, OSError, ValueError) as exc:
            log.debug("prompts chunk by chunk: %s", exc)
            return None
        if table.n_embd != self.n_embd or table.n_vocab < self.llama.n_vocab():
            table.close()
            log.debug("prompts chunk by chunk: the token table does not match the model")
            return None
        return table

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> NativeModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def images_encoded(self) -> int:
        """Image chunks put through the vision encoder so far."""
        return self.vision.images_encoded + self._helper_encodes

    @property
    def native_seconds(self) -> float:
        """Time spent inside llama.cpp's decode and libmtmd's encoder."""
        return self._seconds + self.vision.seconds

    def reset_timers(self) -> None:
        self._seconds = self.vision.seconds = 0.0

    # -- text helpers ---------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.llama.metadata())

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.llama.detokenize(list(tokens)).decode("utf-8", errors="replace")

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self.lib.llama_vocab_is_eog(self.vocab, token))

    @property
    def n_past(self) -> int:
        return sum(u.n_pos for u in self.units)

    # -- KV cache -------------------------------------------------------------------------
    def _truncate(self, n_units: int) -> int:
        """Keep the first ``n_units`` in the cache and drop every cell after them (also cells a
        failed multi-batch decode may have left); returns how many units were kept."""
        n_units = min(n_units, len(self.units))
        pos = sum(u.n_pos for u in self.units[:n_units])
        mem = self.lib.llama_get_memory(self.ctx)
        if not self.lib.llama_memory_seq_rm(mem, 0, pos, -1):
            self.clear()
            return 0
        del self.units[n_units:]
        return n_units

    def clear(self) -> None:
        """Empty the KV cache, every sequence. The cells are freed, their data left as it is (a
        freed cell is masked out of attention, as after ``llama_memory_seq_rm``): zeroing a
        context's K and V buffers cost milliseconds a decode."""
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), False)
        self.units = []

    def _decode(self, tokens: Sequence[int], start: int, all_logits: bool) -> np.ndarray | None:
        """Decode text tokens at positions start...; return logits rows if ``all_logits``."""
        rows: list[np.ndarray] = []
        n_batch = self.options.n_batch
        for offset in range(0, len(tokens), n_batch):
            part = tokens[offset : offset + n_batch]
            batch = self.batch
            batch.n_tokens = len(part)
            for i, token in enumerate(part):
                batch.token[i] = token
                batch.pos[i] = start + offset + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = all_logits or (offset + i == len(tokens) - 1)
            self._run(batch, "llama.cpp failed to decode the prompt")
            if all_logits:
                rows.extend(self._logits(i) for i in range(len(part)))
        return np.stack(rows) if all_logits else None

    def _run(self, batch, failure: str) -> None:
        started = time.perf_counter()
        status = self.lib.llama_decode(self.ctx, batch)
        self._seconds += time.perf_counter() - started
        self.decodes += 1
        if status != 0:
            raise InferenceError(f"{failure} (status {status})")

    def _logits(self, index: int) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx, index)
        if not ptr:
            raise InferenceError("llama.cpp returned no logits")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    def decode_embeddings(
        self, rows: np.ndarray, pos: Sequence[int], seqs: Sequence[Sequence[int]], wanted: Sequence[bool]
    ) -> list[np.ndarray]:
        """Decode embedding rows at ``pos``, each in its sequences ``seqs``; return the logits of
        the ``wanted`` rows, in order. Split into llama.cpp batches of ``n_batch``."""
        batch = self.embd_batch
        n_batch = self.options.n_batch
        embd = np.ctypeslib.as_array(batch.embd, shape=(n_batch, self.n_embd))
        out: list[np.ndarray] = []
        for offset in range(0, len(rows), n_batch):
            count = min(n_batch, len(rows) - offset)
            embd[:count] = rows[offset : offset + count]
            flagged = []
            for i in range(count):
                j = offset + i
                batch.pos[i] = pos[j]
                batch.n_seq_id[i] = len(seqs[j])
                for k, seq in enumerate(seqs[j]):
                    batch.seq_id[i][k] = seq
                batch.logits[i] = bool(wanted[j])
                if wanted[j]:
                    flagged.append(i)
            batch.n_tokens = count
            self._run(batch, "llama.cpp failed to decode the prompt")
            out.extend(self._output_rows(len(flagged)))
        return out

    def _output_rows(self, count: int) -> list[np.ndarray]:
        """The last decode's ``count`` output rows, in batch order, copied out in one block."""
        if not count:
            return []
        ptr = self.lib.llama_get_logits(self.ctx)  # reorders llama.cpp's outputs to batch order
        if not ptr:
            raise InferenceError("llama.cpp returned no logits")
        block = np.ctypeslib.as_array(ptr, shape=(count, self.n_vocab)).copy()
        return list(block)

    # -- prompts --------------------------------------------------------------------------
    def prompt_chunks(self, prompt: str, rgb: bytes, width: int, height: int, image_id: str):
        """libmtmd's chunks of a prompt holding one image marker (a context manager)."""
        return self.vision.chunks(prompt, rgb, width, height, image_id)

    def evaluate(self, prompt: str, rgb: bytes, width: int, height: int, image_id: str) -> np.ndarray:
        """Evaluate a prompt holding one image marker; return next-token logits (full vector)."""
        with self.prompt_chunks(prompt, rgb, width, height, image_id) as plan:
            if self.embeddings is None:
                return self._evaluate_chunks(plan)
            units, rows = self.embed(plan)
        return self._evaluate_rows(units, rows)

    def _check_fits(self, units: Sequence[Unit]) -> None:
        total = sum(u.n_pos for u in units)
        if total >= self.n_ctx:
            raise InferenceError(f"prompt needs {total} positions but the context holds {self.n_ctx}")

    def _common_prefix(self, wanted: Sequence[Unit]) -> int:
        """Units already evaluated that the new prompt starts with (never all of it: the last
        position must be decoded again for its logits); the cache is cut back to them."""
        common = 0
        limit = min(len(self.units), len(wanted) - 1)
        while common < limit and self.units[common] == wanted[common]:
            common += 1
        return self._truncate(common)

    # -- embedding mode -------------------------------------------------------------------
    def embed(self, plan: Plan) -> tuple[list[Unit], np.ndarray]:
        """The prompt's units and its input embeddings, one row per position."""
        assert self.embeddings is not None
        units: list[Unit] = []
        parts: list[np.ndarray] = []
        self.vision.encode_plans([plan])
        for chunk, chunk_units in plan:
            if not chunk_units:
                continue
            units.extend(chunk_units)
            if chunk_units[0].kind == "text":
                tokens = [int(u.key) for u in chunk_units]  # type: ignore[call-overload]
                try:
                    parts.append(self.embeddings.rows(tokens))
                except ValueError as exc:
                    raise InferenceError(f"llama.cpp failed to decode the prompt ({exc})") from None
            else:
                parts.append(self.vision.encode(chunk, chunk_units[0]))
        self._check_fits(units)
        self.prompt_positions = sum(u.n_pos for u in units)
        return units, np.concatenate(parts)

    def _evaluate_rows(self, units: list[Unit], rows: np.ndarray) -> np.ndarray:
        self._common_prefix(units)
        start = self.n_past
        count = len(rows) - start
        wanted = [False] * (count - 1) + [True]
        logits = self.decode_embeddings(rows[start:], range(start, len(rows)), [(0,)] * count, wanted)
        self.units = list(units)
        return logits[-1]

    # -- chunk-by-chunk mode ----------------------------------------------------------------
    def _evaluate_chunks(self, plan: Plan) -> np.ndarray:
        wanted = [u for _, units in plan for u in units]
        self._check_fits(wanted)
        self.prompt_positions = sum(u.n_pos for u in wanted)
        common = self._common_prefix(wanted)
        index = 0
        for n, (chunk, units) in enumerate(plan):
            start, index = index, index + len(units)
            if index <= common:
                continue
            is_last = n == len(plan) - 1
            skip = max(common - start, 0)
            if units[0].kind == "text":
                tokens = [int(u.key) for u in units[skip:]]  # type: ignore[call-overload]
                self._decode(tokens, self.n_past, all_logits=False)
                self.units.extend(units[skip:])
            else:
                new_n_past = self.lib.llama_pos(0)
                started = time.perf_counter()
                status = self.mtmd.mtmd_helper_eval_chunk_single(
                    self.mctx,
                    self.ctx,
                    chunk,
                    self.n_past,
                    0,
                    self.options.n_batch,
                    is_last,
                    ctypes.byref(new_n_past),
                )
                self._seconds += time.perf_counter() - started
                if status != 0:
                    raise InferenceError(f"libmtmd failed to encode or decode the image (status {status})")
                self._helper_encodes += 1
                self.units.extend(units)
        return self._logits(-1)

    # -- after the prompt -----------------------------------------------------------------
    def teacher_forced_logits(self, tokens: Sequence[int]) -> np.ndarray:
        """Logits after each of ``tokens`` appended to the evaluated prompt; the cache is restored."""
        n_units = len(self.units)
        try:
            rows = self._decode(list(tokens), self.n_past, all_logits=True)
        finally:
            mem = self.lib.llama_get_memory(self.ctx)
            self.lib.llama_memory_seq_rm(mem, 0, self.n_past, -1)
            del self.units[n_units:]
        assert rows is not None
        return rows

    def append_token(self, token: int) -> np.ndarray:
        """Decode one generated token after the evaluated prompt; return the next logits."""
        self._truncate(len(self.units))
        self._decode([token], self.n_past, all_logits=False)
        self.units.append(Unit("text", token, 1))
        return self._logits(-1)

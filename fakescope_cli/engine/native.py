"""Owning wrapper around a llama.cpp text model, its libmtmd vision context and the KV cache.

Everything native is created in :class:`NativeModel` and released by :meth:`NativeModel.close`
(also on ``with``-exit). The KV cache is tracked as a list of units (text tokens and image
chunks); a new prompt that shares a prefix with what is already evaluated reuses it, so an
image is encoded once even when several questions are asked about it.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakescope_cli.errors import InferenceError, ModelFileError

log = logging.getLogger(__name__)
native_log = logging.getLogger("fakescope_cli.llama_cpp")


def _load_bindings():
    import llama_cpp
    import llama_cpp.mtmd_cpp as mtmd

    return llama_cpp, mtmd


@dataclass(frozen=True)
class Unit:
    """One evaluated position range: a text token, or one image chunk of a prompt."""

    kind: str  # "text" or "image"
    key: object  # token id, or (image id, ordinal)
    n_pos: int


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int = 4096
    gpu_layers: int = 0
    threads: int | None = None
    n_batch: int = 512
    seed: int = 0
    verbose: bool = False


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


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def busy_cores(proc_loadavg: str | None = None) -> int:
    """Cores other programs are using right now: the runnable tasks in /proc/loadavg's fourth
    field, less this process's own; 0 where there is no /proc (macOS)."""
    if proc_loadavg is None:
        try:
            with open("/proc/loadavg", encoding="ascii") as handle:
                proc_loadavg = handle.read()
        except OSError:
            return 0
    try:
        running = int(proc_loadavg.split()[3].split("/")[0])
    except (IndexError, ValueError):
        return 0
    return max(0, running - 1)


def default_threads(workers: int = 1, cores: int | None = None, busy: int | None = None) -> int:
    """llama.cpp threads per model when the user gave none: the free cores shared among the
    workers. Its threads spin-wait for each other at every step, so one thread whose core another
    job holds stalls them all (``python -m fakescope_cli.bench_threads`` measures it); fewer
    threads degrade gracefully instead."""
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    return max(1, (cores - min(busy, cores - 1)) // max(1, workers))


class NativeModel:
    """A loaded text GGUF + mmproj GGUF pair, with one sequence of KV cache."""

    def __init__(self, text_path: Path, mmproj_path: Path, options: LoadOptions | None = None):
        options = options or LoadOptions()
        llama_cpp, mtmd = _load_bindings()
        self._llama_cpp = llama_cpp
        self._mtmd = mtmd
        self.options = options
        self._stack = contextlib.ExitStack()
        threads = options.threads or default_threads()
        route_native_logs()
        try:
            self.llama = llama_cpp.Llama(
                model_path=str(text_path),
                n_ctx=options.n_ctx,
                n_batch=options.n_batch,
                n_ubatch=options.n_batch,
                n_gpu_layers=options.gpu_layers,
                n_threads=threads,
                n_threads_batch=threads,
                seed=options.seed,
                logits_all=False,
                verbose=options.verbose,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{text_path}: llama.cpp could not load the model ({exc})") from exc
        self._stack.callback(self.llama.close)
        try:
            params = mtmd.mtmd_context_params_default()
            params.use_gpu = options.gpu_layers != 0
            params.print_timings = False
            params.n_threads = threads
            params.warmup = False
            self.mctx = mtmd.mtmd_init_from_file(str(mmproj_path).encode(), self.llama.model, params)
            if not self.mctx:
                raise ModelFileError(
                    f"{mmproj_path}: libmtmd could not load the vision projector "
                    "(wrong file, or it does not belong to this text model)"
                )
            self._stack.callback(mtmd.mtmd_free, self.mctx)
            if not mtmd.mtmd_support_vision(self.mctx):
                raise ModelFileError(f"{mmproj_path}: projector has no vision encoder")
            self.batch = llama_cpp.llama_batch_init(options.n_batch, 0, 1)
            self._stack.callback(llama_cpp.llama_batch_free, self.batch)
        except BaseException:
            self._stack.close()
            raise
        self.ctx = self.llama.ctx
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self.n_vocab = self.llama.n_vocab()
        self.n_ctx = self.llama.n_ctx()
        self.marker = mtmd.mtmd_default_marker().decode()
        self.units: list[Unit] = []
        self.images_encoded = 0
        self.native_seconds = 0.0  # time spent inside llama.cpp decode and libmtmd encode

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> NativeModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- text helpers ---------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.llama.metadata)

    def tokenize(self, text: str, special: bool = False) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self.llama.detokenize(list(tokens)).decode("utf-8", errors="replace")

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self.vocab, token))

    @property
    def n_past(self) -> int:
        return sum(u.n_pos for u in self.units)

    # -- KV cache -------------------------------------------------------------------------
    def _truncate(self, n_units: int) -> int:
        """Keep the first ``n_units`` in the cache and drop every cell after them (also cells a
        failed multi-batch decode may have left); returns how many units were kept."""
        n_units = min(n_units, len(self.units))
        pos = sum(u.n_pos for u in self.units[:n_units])
        mem = self._llama_cpp.llama_get_memory(self.ctx)
        if not self._llama_cpp.llama_memory_seq_rm(mem, 0, pos, -1):
            self._llama_cpp.llama_memory_clear(mem, True)
            self.units = []
            return 0
        del self.units[n_units:]
        return n_units

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
            started = time.perf_counter()
            status = self._llama_cpp.llama_decode(self.ctx, batch)
            self.native_seconds += time.perf_counter() - started
            if status != 0:
                raise InferenceError("llama.cpp failed to decode the prompt")
            if all_logits:
                rows.extend(self._logits(i) for i in range(len(part)))
        return np.stack(rows) if all_logits else None

    def _logits(self, index: int) -> np.ndarray:
        ptr = self._llama_cpp.llama_get_logits_ith(self.ctx, index)
        if not ptr:
            raise InferenceError("llama.cpp returned no logits")
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # -- prompts --------------------------------------------------------------------------
    def evaluate(self, prompt: str, rgb: bytes, width: int, height: int, image_id: str) -> np.ndarray:
        """Evaluate a prompt holding one image marker; return next-token logits (full vector)."""
        mtmd = self._mtmd
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
            status = mtmd.mtmd_tokenize(self.mctx, chunks, ctypes.byref(text), bitmaps, 1)
            if status != 0:
                raise InferenceError(f"libmtmd could not tokenize the prompt (status {status})")
            return self._evaluate_chunks(chunks)
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            mtmd.mtmd_bitmap_free(bitmap)

    def _chunk_units(self, chunks) -> list[tuple[object, list[Unit]]]:
        mtmd = self._mtmd
        out: list[tuple[object, list[Unit]]] = []
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

    def _evaluate_chunks(self, chunks) -> np.ndarray:
        plan = self._chunk_units(chunks)
        wanted = [u for _, units in plan for u in units]
        total = sum(u.n_pos for u in wanted)
        if total >= self.n_ctx:
            raise InferenceError(f"prompt needs {total} positions but the context holds {self.n_ctx}")
        common = 0
        limit = min(len(self.units), len(wanted) - 1)
        while common < limit and self.units[common] == wanted[common]:
            common += 1
        common = self._truncate(common)
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
                new_n_past = self._llama_cpp.llama_pos(0)
                started = time.perf_counter()
                status = self._mtmd.mtmd_helper_eval_chunk_single(
                    self.mctx,
                    self.ctx,
                    chunk,
                    self.n_past,
                    0,
                    self.options.n_batch,
                    is_last,
                    ctypes.byref(new_n_past),
                )
                self.native_seconds += time.perf_counter() - started
                if status != 0:
                    raise InferenceError(f"libmtmd failed to encode or decode the image (status {status})")
                self.images_encoded += 1
                self.units.extend(units)
        return self._logits(-1)

    def teacher_forced_logits(self, tokens: Sequence[int]) -> np.ndarray:
        """Logits after each of ``tokens`` appended to the evaluated prompt; the cache is restored."""
        n_units = len(self.units)
        try:
            rows = self._decode(list(tokens), self.n_past, all_logits=True)
        finally:
            mem = self._llama_cpp.llama_get_memory(self.ctx)
            self._llama_cpp.llama_memory_seq_rm(mem, 0, self.n_past, -1)
            del self.units[n_units:]
        assert rows is not None
        return rows

    def append_token(self, token: int) -> np.ndarray:
        """Decode one generated token after the evaluated prompt; return the next logits."""
        self._truncate(len(self.units))
        self._decode([token], self.n_past, all_logits=False)
        self.units.append(Unit("text", token, 1))
        return self._logits(-1)

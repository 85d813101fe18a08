"""A scan run end to end: results cache, lazy model loading, worker processes, input order kept.

Results come out in the order of the inputs whatever the number of workers; each analysed result
is stored in the cache before it is handed on, so an interrupted scan resumes where it stopped.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from fakescope_cli.cache import CacheError, ResultCache, result_from_body, stored_body
from fakescope_cli.discovery import InputFile
from fakescope_cli.engine.base import ForensicModel
from fakescope_cli.engine.native import LoadOptions
from fakescope_cli.engine.threads import usable_cores
from fakescope_cli.errors import FakeScopeError, ImageInputError, InferenceError, ModelFileError
from fakescope_cli.imageio import read_image_file
from fakescope_cli.models import ModelFiles
from fakescope_cli.results import ImageResult
from fakescope_cli.scan import CropProgress, ScanOptions, analyse_file, apply_verdict


@dataclass(frozen=True)
class ModelSpec:
    """The model to run: its files, how to load them, and its identity for the cache."""

    files: ModelFiles
    load: LoadOptions
    key: str  # text SHA-256 + mmproj SHA-256


def settings_key(options: ScanOptions) -> str:
    """What besides the file and the model changes a stored result (threshold and band do not)."""
    evidence = options.evidence
    heatmap = ";map=on" if options.heatmap else ""
    if evidence is None:
        return f"evidence=off;max_pixels={options.max_pixels}{heatmap}"
    trust = hashlib.sha256((evidence.c2pa_trust_anchors or "").encode()).hexdigest()[:16]
    return f"evidence=on;signals={evidence.signals};trust={trust};max_pixels={options.max_pixels}{heatmap}"


def default_workers(model: ModelSpec | None) -> int:
    """Evidence only: one per core. With a model: one per 4 cores (llama.cpp threads each worker),
    and no more than memory holds at twice the model's size per worker; at least 1."""
    cores = usable_cores()
    if model is None:
        return max(1, cores)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 8 << 30
    model_bytes = model.files.text.stat().st_size + model.files.mmproj.stat().st_size
    return max(1, min(cores // 4, memory // max(2 * model_bytes, 1)))


# -- worker processes ---------------------------------------------------------------------------

_WORKER_ENGINE: ForensicModel | None = None
_WORKER_ERROR: str | None = None


def _die_with_parent(parent: int) -> None:
    """End this worker when the scan that started it dies, even by ``kill -9``: each worker holds a
    model copy, and one re-parented to init would keep it for ever. Linux: the kernel sends
    SIGKILL on the parent's death; elsewhere a thread watches the parent's process id."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init_worker(model: ModelSpec | None, debug: bool, parent: int | None = None) -> None:
    """Load this worker's model. A failure is kept and reported with the first task, so the parent
    prints one clear line instead of a traceback from every worker."""
    global _WORKER_ENGINE, _WORKER_ERROR
    if parent is not None:
        _die_with_parent(parent)
    # A spawned process starts with fresh logging: keep third-party chatter off stderr here too.
    logging.getLogger("exifread").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    if model is not None:
        from fakescope_cli.engine.llama_engine import LlamaEngine

        try:
            _WORKER_ENGINE = LlamaEngine(model.files, model.load)
        except Exception as exc:
            _WORKER_ERROR = str(exc) if isinstance(exc, FakeScopeError) else f"{type(exc).__name__}: {exc}"


def _work(path: str, data: bytes, options: ScanOptions) -> ImageResult:
    if _WORKER_ERROR is not None:
        raise ModelFileError(f"a worker could not load the model: {_WORKER_ERROR}")
    return guarded_analysis(_WORKER_ENGINE, InputFile(Path(path)), options, data)


def guarded_analysis(
    model: ForensicModel | None,
    item: InputFile,
    options: ScanOptions,
    data: bytes | None,
    on_crops: CropProgress | None = None,
) -> ImageResult:
    """:func:`analyse_file`, with any unexpected failure kept to this one file's result."""
    try:
        return analyse_file(model, item, options, data, on_crops)
    except Exception as exc:
        logging.getLogger(__name__).debug("analysis of %s failed", item.path, exc_info=True)
        return ImageResult(
            path=str(item.path), error=f"{item.path}: internal error ({type(exc).__name__}: {exc})"
        )


# -- the run ------------------------------------------------------------------------------------


def _await_pool_manager(pool: ProcessPoolExecutor, timeout: float = 10.0) -> None:
    """Wait for the pool's manager thread to see its workers gone and close its wake-up pipe.

    Python 3.11's exit hook for process pools writes to that pipe without the lock the manager
    thread closes it under; an exit while the thread is still closing it printed a traceback
    ("Bad file descriptor") after Ctrl-C. Once the thread has ended, the hook leaves the pipe be."""
    manager = getattr(pool, "_executor_manager_thread", None)
    if isinstance(manager, threading.Thread) and manager.is_alive():
        manager.join(timeout)


class _DeferredInterrupt:
    """Ctrl-C while worker processes run, raised where no executor lock is held.

    A KeyboardInterrupt that lands inside ``concurrent.futures`` (while it holds a future's lock)
    leaves that lock taken, and the pool's shutdown then waits for ever. So a first SIGINT is only
    noted, and ``check`` raises it from our own loop (at most half a second later); a second one
    raises at once. Outside the main thread nothing is changed."""

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: object) -> None:
        if self.pending:
            raise KeyboardInterrupt
        self.pending = True

    def check(self) -> None:
        if self.pending:
            raise KeyboardInterrupt

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


@dataclass
class _Running:
    """An image being analysed by a backend, with its cache key, until its result is in."""

    handle: Any
    key: str | None
    result: ImageResult | None = None


class Backend(Protocol):
    """Where a parallel scan's analyses run: worker processes here, or a cluster's actors."""

    def room(self) -> int: ...  # more images it takes now
    def submit(self, item: InputFile, data: bytes | None) -> Any: ...
    def poll(self, handle: Any) -> ImageResult | None: ...  # the result once it is in
    def wait(self, handles: list[Any], timeout: float) -> None: ...  # until one may be done


class _PoolBackend:
    """This machine's worker processes (``--workers``), a few images queued per worker."""

    def __init__(self, run: ScanRun):
        self.run = run
        self.in_flight: set[Future[ImageResult]] = set()

    def room(self) -> int:
        return 4 * self.run.workers - len(self.in_flight)

    def submit(self, item: InputFile, data: bytes | None) -> Future[ImageResult]:
        assert data is not None
        future = self.run._pool_for_work().submit(_work, str(item.path), data, self.run.options)
        self.in_flight.add(future)
        return future

    def poll(self, handle: Future[ImageResult]) -> ImageResult | None:
        if not handle.done():
            return None
        self.in_flight.discard(handle)
        return ScanRun._outcome(handle)

    def wait(self, handles: list[Future[ImageResult]], timeout: float) -> None:
        wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)


class ScanRun:
    def __init__(
        self,
        options: ScanOptions,
        model: ModelSpec | None,
        cache: ResultCache | None = None,
        workers: int = 1,
        on_crops: CropProgress | None = None,
        cluster: str | None = None,
        actors: int | None = None,
    ) -> None:
        self.options = options
        self.cluster = cluster  # a Ray address, or "local"; None: this machine's processes
        self.on_crops = on_crops  # heat-map progress, for scans in this process (one worker)
        self.model = model
        self.cache = cache
        self.workers = max(1, workers)
        self.actors = actors  # at most this many cluster actors (--workers given); None: room allows
        self.model_key = model.key if model else "none"
        self.settings = settings_key(options)
        self._engine: ForensicModel | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._actors: Any = None  # the cluster backend, once a file needs it
        self.analysed = 0
        self.cache_hits = 0

    def close(self) -> None:
        if self._actors is not None:
            self._actors.close()
            self._actors = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def abort(self) -> None:
        """Stop at once after an interrupt: end the workers without waiting on the pool.

        A KeyboardInterrupt can arrive while this thread holds one of the executor's locks, and a
        graceful shutdown then waits for it forever; what finished is already in the cache."""
        if self._actors is not None:
            self._actors.close()
            self._actors = None
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
            _await_pool_manager(self._pool)
            self._pool = None
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> ScanRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            self.abort()
        else:
            self.close()

    def _local_engine(self) -> ForensicModel | None:
        if self.model is not None and self._engine is None:
            from fakescope_cli.engine.llama_engine import LlamaEngine

            self._engine = LlamaEngine(self.model.files, self.model.load)
        return self._engine

    def _pool_for_work(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=get_context("spawn"),
                initializer=_init_worker,
                initargs=(
                    self.model,
                    logging.getLogger("fakescope_cli").isEnabledFor(logging.DEBUG),
                    os.getpid(),
                ),
            )
        return self._pool

    def _key(self, sha256: str) -> str:
        return ResultCache.key(sha256, self.model_key, self.settings)

    def _lookup(self, item: InputFile) -> tuple[ImageResult | None, bytes | None, str | None]:
        """(finished result, or None with the bytes and cache key to analyse them)."""
        if item.error is not None:
            return ImageResult(path=str(item.path), error=item.error), None, None
        try:
            data = read_image_file(item.path)
        except ImageInputError as exc:
            return ImageResult(path=str(item.path), error=str(exc)), None, None
        if self.cache is None:
            return None, data, None
        key = self._key(hashlib.sha256(data).hexdigest())
        try:
            body = self.cache.get(key)
        except CacheError as exc:
            self._drop_cache(exc)
            return None, data, None
        if body is None:
            return None, data, key
        result = result_from_body(str(item.path), body)
        apply_verdict(result, self.options)
        self.cache_hits += 1
        return result, None, None

    def _store(self, key: str | None, result: ImageResult) -> ImageResult:
        self.analysed += 1
        if self.cache is not None and key is not None and result.error is None and result.sha256:
            try:
                self.cache.put(key, result.sha256, self.model_key, stored_body(result))
            except CacheError as exc:
                self._drop_cache(exc)
        return result

    def _drop_cache(self, error: CacheError) -> None:
        """Go on without the cache (results are still reported), saying so once."""
        logging.getLogger("fakescope_cli").warning("%s; going on without the cache", error)
        self.cache = None

    def results(self, inputs: Iterable[InputFile]) -> Iterator[ImageResult]:
        if self.cluster is not None:
            from fakescope_cli.cluster import ClusterBackend

            self._actors = ClusterBackend(self.cluster, self.options, self.model, self.actors)
            with _DeferredInterrupt() as interrupt:
                yield from self._ordered(inputs, self._actors, interrupt)
            return
        if self.workers == 1:
            for item in inputs:
                done, data, key = self._lookup(item)
                if done is not None:
                    yield done
                    continue
                analysed = guarded_analysis(self._local_engine(), item, self.options, data, self.on_crops)
                yield self._store(key, analysed)
            return
        yield from self._parallel(inputs)

    def _parallel(self, inputs: Iterable[InputFile]) -> Iterator[ImageResult]:
        with _DeferredInterrupt() as interrupt:
            yield from self._ordered(inputs, _PoolBackend(self), interrupt)

    def _ordered(
        self, inputs: Iterable[InputFile], backend: Backend, interrupt: _DeferredInterrupt
    ) -> Iterator[ImageResult]:
        """Results in input order from a backend that finishes them in any order; each is stored
        in the cache as soon as it finishes (the cache is what survives a kill -9)."""
        pending: deque[ImageResult | _Running] = deque()
        source = iter(inputs)
        exhausted = False
        while pending or not exhausted:
            interrupt.check()
            while not exhausted and backend.room() > 0:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                done, data, key = self._lookup(item)
                pending.append(done if done is not None else _Running(backend.submit(item, data), key))
                if not isinstance(pending[0], _Running):
                    break
            if not pending:
                continue
            running = [p for p in pending if isinstance(p, _Running)]
            for entry in running:
                if entry.result is None and (finished := backend.poll(entry.handle)) is not None:
                    entry.result = self._store(entry.key, finished)
            head = pending[0]
            if isinstance(head, _Running) and head.result is None:
                backend.wait([e.handle for e in running if e.result is None], 0.5)
                continue
            pending.popleft()
            yield head.result if isinstance(head, _Running) else head  # type: ignore[misc]

    @staticmethod
    def _outcome(future: Future[ImageResult]) -> ImageResult:
        try:
            return future.result()
        except BrokenProcessPool:
            raise InferenceError("a worker process died (out of memory?); rerun with --workers 1") from None

"""Scans on a Ray cluster: a pool of actors, each holding one loaded model, fed by the driver.

The driver (the ``fakescope scan`` process) keeps what users rely on: it reads and hashes each
file for the cache, keeps results in input order and stores each one as it comes back. Workers
read the images themselves from the same path (a mount every node sees); the model files travel
through Ray's object store and are checked against their SHA-256 on arrival. An actor that dies
is restarted by Ray; the images it held are sent again, to whichever actor is least busy, and a
file that takes down a worker ``MAX_TRIES`` times is reported as an error instead of stalling
the scan. Ray is imported only here, and only when a scan asks for a cluster.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fakescope_cli.errors import FakeScopeError
from fakescope_cli.results import ImageResult
from fakescope_cli.scan import ScanOptions

log = logging.getLogger(__name__)

ACTOR_THREADS = 4  # llama.cpp threads (and Ray CPUs) per actor unless --threads says otherwise
MAX_TRIES = 3  # sends of one image before a crashing worker is blamed on the file
PER_ACTOR = 2  # images in flight per actor: one running, one queued behind it
FAULT_ENV = "FAKESCOPE_CLUSTER_FAULT"  # "crash:NAME": a worker exits on that file (fault tests)


class ClusterError(FakeScopeError):
    """The cluster cannot be reached or cannot do the scan (one line for the user)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "scan --cluster needs Ray, which is not installed: pip install 'fakescope[cluster]'"
        ) from None
    return ray


def connect(address: str, cpus: int | None = None) -> Any:
    """Join the cluster at ``address`` (``local``: start one on this machine, ``cpus`` cores)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if not logging.getLogger("fakescope_cli").isEnabledFor(logging.DEBUG):
            logging.getLogger("ray").setLevel(logging.ERROR)  # its notices are not the user's business
        if address == "local":
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot join the Ray cluster at {address} ({first})") from None
    _keep_stdout_for_results()
    return ray


def _keep_stdout_for_results() -> None:
    """Ray's driver prints the raylet's notices ("A worker died ...") on stdout, where our results
    go (--jsonl, --json, --csv): send them to the debug log instead."""
    import ray._private.worker as driver

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            log.debug("ray (%s): %s", data.get("pid"), line)

    if hasattr(driver, "print_to_stdstream"):
        driver.print_to_stdstream = to_log


@dataclass(frozen=True)
class ShippedFile:
    """A model file in the object store, with what it must hash to on arrival."""

    name: str
    sha256: str
    ref: Any


def ship(path: Path) -> ShippedFile:
    ray = _ray()
    data = path.read_bytes()
    return ShippedFile(path.name, hashlib.sha256(data).hexdigest(), ray.put(data))


def materialise(shipped: ShippedFile, data: bytes, folder: Path) -> Path:
    """The shipped file on this node (written once per content); refuses a damaged copy."""
    if hashlib.sha256(data).hexdigest() != shipped.sha256:
        raise ClusterError(f"{shipped.name}: the copy that reached {socket.gethostname()} fails its SHA-256")
    target = folder / shipped.sha256[:16] / shipped.name
    if target.is_file() and target.stat().st_size == len(data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, target)
    return target


class ScanWorker:
    """The actor's body: loads the model on its first image (again after a restart), then
    analyses images by path. The model's object-store references come with every call, not with
    the constructor, so a restarted actor never depends on arguments Ray may have dropped."""

    def __init__(self, load: Any, debug: bool):
        self.load = load
        self.engine: Any = None
        self.error: str | None = None
        logging.getLogger("exifread").setLevel(logging.DEBUG if debug else logging.CRITICAL)

    def _ensure(self, model: tuple[ShippedFile, ShippedFile] | None) -> None:
        if model is None or self.engine is not None or self.error is not None:
            return
        try:
            import ray

            from fakescope_cli.engine.llama_engine import LlamaEngine
            from fakescope_cli.models import ModelFiles

            folder = Path(tempfile.gettempdir()) / "fakescope-cluster-models"
            files = [materialise(f, ray.get(f.ref), folder) for f in model]
            self.engine = LlamaEngine(ModelFiles(files[0], files[1], "cluster"), self.load)
        except Exception as exc:  # reported with every image: one clear line on the driver
            self.error = str(exc) if isinstance(exc, FakeScopeError) else f"{type(exc).__name__}: {exc}"

    def node(self) -> str:
        return socket.gethostname()

    def pid(self) -> int:
        return os.getpid()

    def can_read(self, path: str) -> str | None:
        """None when this worker can open ``path``; else why not."""
        try:
            with open(path, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            return f"{exc.strerror or exc}"
        return None

    def analyse(
        self, path: str, options: ScanOptions, model: tuple[ShippedFile, ShippedFile] | None
    ) -> ImageResult:
        from fakescope_cli.discovery import InputFile
        from fakescope_cli.errors import ImageInputError
        from fakescope_cli.imageio import read_image_file
        from fakescope_cli.pipeline import guarded_analysis

        self._ensure(model)
        if self.error is not None:
            raise ClusterError(f"a cluster worker could not load the model: {self.error}")
        fault = os.environ.get(FAULT_ENV, "")
        if fault.startswith("crash:") and Path(path).name == fault[len("crash:") :]:
            os._exit(1)
        try:
            data = read_image_file(Path(path))
        except ImageInputError as exc:
            return ImageResult(path=path, error=str(exc))
        return guarded_analysis(self.engine, InputFile(Path(path)), options, data)


@dataclass
class Job:
    """One image on the cluster: its current attempt and how many sends it has had."""

    path: str
    ref: Any = None
    actor: int = -1
    tries: int = 0
    result: ImageResult | None = None


@dataclass
class ActorPool:
    """Actors with the work in flight on each; the driver's only handle on the cluster."""

    options: ScanOptions
    model: tuple[ShippedFile, ShippedFile] | None  # held here: the references stay alive
    actors: list[Any] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)

    @classmethod
    def start(cls, options: ScanOptions, model: Any, workers: int | None, debug: bool) -> ActorPool:
        ray = _ray()
        cpus = 1
        if model is not None:
            alive = [n for n in ray.nodes() if n.get("Alive")]
            largest = max((int(n["Resources"].get("CPU", 1)) for n in alive), default=1)
            cpus = model.load.threads or min(ACTOR_THREADS, largest)
            model = replace(model, load=replace(model.load, threads=cpus))
        room = int(ray.cluster_resources().get("CPU", 1)) // cpus
        count = max(1, min(workers or room, room) if room else 1)
        shipped = (ship(model.files.text), ship(model.files.mmproj)) if model is not None else None
        remote = ray.remote(num_cpus=cpus, max_restarts=-1, max_task_retries=0)(ScanWorker)
        env = {"env_vars": {FAULT_ENV: os.environ[FAULT_ENV]}} if FAULT_ENV in os.environ else None
        load = model.load if model is not None else None
        actors = [remote.options(runtime_env=env).remote(load, debug) for _ in range(count)]
        return cls(options, shipped, actors, [0] * count)

    def check_readable(self, path: str) -> None:
        ray = _ray()
        try:
            problem = ray.get(self.actors[0].can_read.remote(path))
            node = ray.get(self.actors[0].node.remote())
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"a cluster worker did not start ({type(exc).__name__})") from None
        if problem is not None:
            raise ClusterError(
                f"{path}: a cluster worker on {node} cannot read it ({problem}); "
                "workers read images from the same path, so it must be on a mount every node sees"
            )

    def submit(self, job: Job) -> None:
        index = min(range(len(self.actors)), key=self.busy.__getitem__)
        job.actor, job.tries = index, job.tries + 1
        job.ref = self.actors[index].analyse.remote(job.path, self.options, self.model)
        self.busy[index] += 1

    @property
    def room(self) -> int:
        return PER_ACTOR * len(self.actors) - sum(self.busy)

    def wait(self, jobs: list[Job], timeout: float) -> None:
        ray = _ray()
        refs = [j.ref for j in jobs if j.result is None]
        if refs:
            ray.wait(refs, num_returns=1, timeout=timeout)

    def poll(self, job: Job) -> ImageResult | None:
        """The job's result once it has one; a lost attempt is sent again (or given up on)."""
        if job.result is not None:
            return job.result
        ray = _ray()
        ready, _ = ray.wait([job.ref], timeout=0)
        if not ready:
            return None
        self.busy[job.actor] -= 1
        try:
            job.result = ray.get(job.ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, ClusterError):
                raise exc.cause from None  # the model did not load on a worker: the scan stops
            job.result = ImageResult(path=job.path, error=f"{job.path}: internal error on a cluster worker")
        except ray.exceptions.RayError as exc:
            log.debug("attempt %d of %s lost: %s", job.tries, job.path, exc)
            if job.tries >= MAX_TRIES:
                job.result = ImageResult(
                    path=job.path,
                    error=f"{job.path}: a cluster worker died on this file {job.tries} times; skipped",
                )
            else:
                self.submit(job)
                return None
        return job.result

    def close(self) -> None:
        ray = _ray()
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []


class ClusterBackend:
    """The scan loop's view of the cluster: joined, and its actors started, on the first image
    that needs analysing (a re-scan answered by the cache never touches the cluster)."""

    def __init__(self, address: str, options: ScanOptions, model: Any, workers: int | None):
        self.address, self.options, self.model, self.workers = address, options, model, workers
        self.pool: ActorPool | None = None

    def _started(self, first: str) -> ActorPool:
        if self.pool is None:
            from fakescope_cli.engine.threads import usable_cores

            cpus = 1 if self.model is None else (self.model.load.threads or 1)
            connect(self.address, max(usable_cores(), (self.workers or 1) * cpus))
            debug = logging.getLogger("fakescope_cli").isEnabledFor(logging.DEBUG)
            self.pool = ActorPool.start(self.options, self.model, self.workers, debug)
            self.pool.check_readable(first)
        return self.pool

    def room(self) -> int:
        return 1 if self.pool is None else self.pool.room

    def submit(self, item: Any, data: bytes | None) -> Job:
        job = Job(str(item.path))
        self._started(job.path).submit(job)
        return job

    def poll(self, handle: Job) -> ImageResult | None:
        assert self.pool is not None
        return self.pool.poll(handle)

    def wait(self, handles: list[Job], timeout: float) -> None:
        assert self.pool is not None
        self.pool.wait(handles, timeout)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        ray = _ray()
        if ray.is_initialized():
            ray.shutdown()

"""`fakescope model pull hf:OWNER/REPO` and `model pull NAME`: plan, download, convert, install.

:func:`plan_pull` asks the hub what there is (a few small requests) and works out what the pull
will download and how much disk it needs; the command shows that and asks before
:func:`run_pull` fetches anything. Downloads and conversion happen in ``MODELS/.pulls/NAME/``
(on the models folder's disk, so installing is a rename): a failed or interrupted pull leaves
nothing installed and keeps what it downloaded, so the same command resumes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from fakescope_cli.card import CARD_FILE, ModelCard
from fakescope_cli.catalogue import CatalogueEntry, catalogue_entry
from fakescope_cli.download import Progress
from fakescope_cli.errors import FakeScopeError, ModelFileError
from fakescope_cli.hub import (
    HF_PREFIX,
    TOKENIZER_FILES,
    HubRef,
    RemoteFile,
    RepoSnapshot,
    endpoint,
    fetch,
    free_bytes,
    parse_hub_ref,
    snapshot,
)
from fakescope_cli.install import MANIFEST_SUFFIX, install_export
from fakescope_cli.models import MMPROJ_SUFFIX
from fakescope_cli.profile import ModelProfile, load_profile_toml

PULLS_DIR = ".pulls"
DEFAULT_QUANT = "q4_k_m"
# Bits per weight of each text type, for the disk estimate (llama.cpp's figures, rounded up).
BITS_PER_WEIGHT = {
    "f32": 32.0,
    "f16": 16.0,
    "bf16": 16.0,
    "q8_0": 8.5,
    "q6_k": 6.6,
    "q5_k_m": 5.7,
    "q4_k_m": 4.9,
    "iq4_nl": 4.5,
    "q4_0": 4.5,
}
_NAME = re.compile(r"[^a-z0-9._+-]+")
# What conversion + quantization streamed on the 2-core development machine: FakeVLM's shape,
# 14.1 GB of bf16/f16 weights to q4_k_m in 351 s (`make bench-llava7b`). For the time estimate only.
CONVERT_BYTES_PER_S = 40e6


@dataclass(frozen=True)
class PullPlan:
    name: str
    source: RepoSnapshot
    extra: RepoSnapshot | None
    files: tuple[RemoteFile, ...]
    models_dir: Path
    quant: str
    profile: str | None
    card: ModelCard | None
    have_bytes: int
    entry: CatalogueEntry | None = None

    @property
    def staging(self) -> Path:
        return self.models_dir / PULLS_DIR / self.name

    @property
    def download_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def to_fetch_bytes(self) -> int:
        return max(0, self.download_bytes - self.have_bytes)

    @property
    def weight_bytes(self) -> int:
        return sum(f.size for f in self.files if f.name.endswith(".safetensors"))

    @property
    def installed_bytes(self) -> int:
        """About what stays installed: the catalogue's measured figure at its own type, else the
        weights at the text type's bits (16-bit sources assumed)."""
        if self.entry is not None and self.quant == self.entry.quant:
            return self.entry.installed_bytes
        return int(self.weight_bytes * BITS_PER_WEIGHT[self.quant] / 16)

    @property
    def disk_bytes(self) -> int:
        """Peak disk use of the pull from here: what is left to download, the converter's
        full-precision scratch copy, and the quantized result, with 5 % to spare."""
        return int((self.to_fetch_bytes + self.weight_bytes + self.installed_bytes) * 1.05)


def default_name(repo: str) -> str:
    return _NAME.sub("-", repo.split("/", 1)[1].lower()).strip("-.") or "model"


def _check_architecture(ref: HubRef, architectures: tuple[str, ...]) -> None:
    """Refuse before a 14 GB download what the converter would refuse after it (when the hub
    says what ``config.json`` names; otherwise the converter says it)."""
    from conversion.registry import supported_architectures

    supported = supported_architectures()
    if architectures and not set(architectures) & set(supported):
        named = ", ".join(architectures)
        raise ModelFileError(
            f"{ref}: architecture {named} cannot be converted; supported: {', '.join(supported)}"
        )


def _check_name_free(name: str, models_dir: Path) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,100}", name):
        raise ModelFileError(f"{name!r} is not a usable model name (letters, digits, . _ + -)")
    taken = [models_dir / f"{name}{suffix}" for suffix in (".gguf", MMPROJ_SUFFIX, MANIFEST_SUFFIX)]
    if any(path.exists() for path in taken):
        raise ModelFileError(
            f"{models_dir} already has a model named {name}; remove it first "
            f"('fakescope model remove {name}') or pass --name"
        )


def _resolve_target(target: str) -> tuple[HubRef, CatalogueEntry | None]:
    if target.startswith(HF_PREFIX):
        return parse_hub_ref(target), None
    entry = catalogue_entry(target)
    if entry is None:
        raise ModelFileError(
            f"{target}: not in the catalogue ('fakescope model list --available') and not hf:OWNER/REPO "
            "or a manifest URL"
        )
    return HubRef(entry.repo, entry.revision), entry


def plan_pull(
    target: str,
    models_dir: Path,
    *,
    quant: str | None = None,
    profile: str | None = None,
    tokenizer_from: str | None = None,
    name: str | None = None,
) -> PullPlan:
    """Ask the hub what ``target`` (``hf:OWNER/REPO[@REV]`` or a catalogue name) consists of."""
    ref, entry = _resolve_target(target)
    name = name or (entry.name if entry else default_name(ref.repo))
    _check_name_free(name, models_dir)
    quant = quant or (entry.quant if entry else DEFAULT_QUANT)
    if quant not in BITS_PER_WEIGHT:
        raise ModelFileError(f"unsupported text type {quant!r}; choose from {', '.join(BITS_PER_WEIGHT)}")
    profile = profile or (entry.profile if entry else None)
    if profile:
        _load_profile(profile)  # a bad profile is refused before anything is downloaded
    main = snapshot(ref)
    names = main.names()
    if "config.json" not in names:
        raise ModelFileError(f"{ref}: no config.json; not a transformers checkpoint")
    _check_architecture(ref, main.architectures)
    if not any(n.endswith(".safetensors") for n in names):
        pickled = [n for n in main.ignored if n.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        why = " (it has only pickled weights, which can run code when loaded and are not converted)"
        raise ModelFileError(f"{ref}: no .safetensors weights{why if pickled else ''}")
    extra = None
    files = list(main.files)
    extra_text = tokenizer_from or (
        str(HubRef(entry.tokenizer_from.repo, entry.tokenizer_from.revision))
        if entry and entry.tokenizer_from
        else None
    )
    if extra_text:
        allowed = (
            entry.tokenizer_from.files if entry and entry.tokenizer_from and not tokenizer_from else None
        )
        extra = snapshot(parse_hub_ref(extra_text), tuple(allowed or TOKENIZER_FILES))
        files += [f for f in extra.files if f.name not in names]
    have = {f.name for f in files}
    if not have & {"tokenizer.json", "tokenizer.model"}:
        raise ModelFileError(
            f"{ref}: no tokenizer (tokenizer.json or tokenizer.model); name the base model it was "
            "fine-tuned from with --tokenizer-from hf:OWNER/BASE"
        )
    card = entry.card if entry else None
    if card is None and CARD_FILE not in have:
        card = ModelCard(
            f"{ref.repo}: pulled from the hub and not measured by FakeScope; its scores are its authors' "
            "claim, not evidence",
            None,
        )
    plan = PullPlan(
        name,
        main,
        extra,
        tuple(files),
        models_dir,
        quant,
        profile,
        card,
        0,
        entry,
    )
    return dataclasses.replace(plan, have_bytes=_have_bytes(plan))


def _state_path(plan: PullPlan) -> Path:
    return plan.staging / "pull.json"


def _digests(plan: PullPlan) -> dict[str, str]:
    return {f.name: f.expected.hexdigest for f in plan.files}


def _recorded_digests(plan: PullPlan) -> dict[str, str]:
    """The digest each file of ``plan.staging`` was being fetched for (``pull.json``)."""
    try:
        data = json.loads(_state_path(plan).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _resumable(plan: PullPlan) -> set[str]:
    """Partial downloads that are still the file the plan wants (same digest as when started)."""
    recorded = _recorded_digests(plan)
    return {name for name, digest in _digests(plan).items() if recorded.get(name) == digest}


def _have_bytes(plan: PullPlan) -> int:
    """What an earlier try left that this pull will use: whole files of the right size (checked
    against their digests before use) and partial ones still for the same file."""
    folder = plan.staging / "checkpoint"
    resumable = _resumable(plan)
    total = 0
    for item in plan.files:
        whole, partial = folder / item.name, folder / (item.name + ".partial")
        if whole.is_file() and whole.stat().st_size == item.size:
            total += item.size
        elif item.name in resumable and partial.is_file() and partial.stat().st_size <= item.size:
            total += partial.stat().st_size
    return total


def _prepare_staging(plan: PullPlan) -> Path:
    """The checkpoint folder for this pull: files no longer in the plan are deleted, and partial
    downloads of files whose digest has changed since are dropped (whole files are kept:
    :func:`fetch` checks each against its digest and fetches again what does not match)."""
    checkpoint = plan.staging / "checkpoint"
    checkpoint.mkdir(parents=True, exist_ok=True)
    wanted, resumable = {f.name for f in plan.files}, _resumable(plan)
    for path in checkpoint.iterdir():
        keep = path.name in wanted or (path.name.endswith(".partial") and path.name[:-8] in resumable)
        if not keep:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    _state_path(plan).write_text(json.dumps({"files": _digests(plan)}), encoding="utf-8")
    return checkpoint


def _record(snap: RepoSnapshot, files: list[RemoteFile], folder: Path) -> dict[str, object]:
    """Where the files came from, and each file's SHA-256 and size: the hub's own for Git LFS
    files (checked on download), computed here for the rest (the hub lists a git blob id)."""
    from fakescope_cli.models import file_sha256

    listed = {}
    for item in files:
        if item.repo == snap.ref.repo:
            digest = item.expected.sha256 or file_sha256(folder / item.name)
            listed[item.name] = {"sha256": digest, "bytes": item.size}
    return {
        "hub": endpoint(),
        "repo": snap.ref.repo,
        "revision": snap.ref.revision,
        "commit": snap.commit,
        "files": listed,
    }


def check_disk(plan: PullPlan) -> None:
    """Refuse before anything is fetched when the models folder's disk cannot hold the pull."""
    free = free_bytes(plan.models_dir)
    if free < plan.disk_bytes:
        raise ModelFileError(
            f"not enough disk space in {plan.models_dir}: the pull needs about "
            f"{plan.disk_bytes / 1e9:.1f} GB and {free / 1e9:.1f} GB are free "
            "(set FAKESCOPE_MODELS_DIR to a larger disk)"
        )


@dataclass(frozen=True)
class PullResult:
    installed: list[Path]
    kept: Path | None


def run_pull(
    plan: PullPlan,
    *,
    progress: Progress | None = None,
    stage: Callable[[str], None] = lambda _message: None,
    keep: bool = False,
    mmproj_quant: str | None = None,
) -> PullResult:
    """Download, convert, quantize, check and install what ``plan`` describes."""
    check_disk(plan)
    try:
        plan.staging.mkdir(parents=True, exist_ok=True)
        with _only_pull_of(plan):
            return _run(plan, progress, stage, keep, mmproj_quant)
    except OSError as exc:  # the models folder read-only, full, or vanished
        where = exc.filename or plan.staging
        raise ModelFileError(f"{where}: {exc.strerror or exc}; nothing was installed") from None


@contextlib.contextmanager
def _only_pull_of(plan: PullPlan) -> Iterator[None]:
    """Hold ``.pulls/NAME/pull.lock`` while pulling: a second pull of the same name would write into
    the same partial files. The name is checked again once the lock is held (another pull may have
    installed it meanwhile). Advisory, POSIX; elsewhere nothing is held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        _check_name_free(plan.name, plan.models_dir)
        yield
        return
    lock = plan.staging / "pull.lock"
    held = False
    try:
        with lock.open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ModelFileError(
                    f"another pull of {plan.name} is running (into {plan.staging})"
                ) from None
            held = True
            _check_name_free(plan.name, plan.models_dir)
            yield
    finally:
        if held and not (plan.staging / "checkpoint").exists():  # nothing left to resume
            lock.unlink(missing_ok=True)
            _remove_if_empty(plan.staging)
            _remove_if_empty(plan.models_dir / PULLS_DIR)


def _run(
    plan: PullPlan,
    progress: Progress | None,
    stage: Callable[[str], None],
    keep: bool,
    mmproj_quant: str | None,
) -> PullResult:
    checkpoint = _prepare_staging(plan)
    out = plan.staging / "export"
    fetch(list(plan.files), checkpoint, progress)
    minutes = max(1, round(plan.weight_bytes / CONVERT_BYTES_PER_S / 60))
    stage(
        f"converting with the {plan.profile or 'default'} profile, text model to {plan.quant} "
        f"(about {minutes} min on 2 cores)"
    )
    shutil.rmtree(out, ignore_errors=True)
    try:
        result = _convert(plan, checkpoint, out, mmproj_quant)
    except FakeScopeError as exc:
        raise ModelFileError(
            f"{exc} (nothing was installed; the download stays in {plan.staging} for another try, "
            "or delete that folder)"
        ) from None
    stage("checking the converted files")
    _add_provenance(plan, result.manifest)
    from fakescope_cli.models import ModelFiles, validate_pair

    validate_pair(ModelFiles(result.text, result.mmproj, "pull"))
    installed = install_export(result.manifest, plan.models_dir)
    # Installed: what follows is tidying, and nothing in it may make the pull look failed.
    with contextlib.suppress(OSError):
        shutil.rmtree(out, ignore_errors=True)
        _state_path(plan).unlink(missing_ok=True)
        if not keep:
            shutil.rmtree(checkpoint, ignore_errors=True)
    return PullResult(installed, checkpoint if keep else None)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _convert(plan: PullPlan, checkpoint: Path, out: Path, mmproj_quant: str | None):
    try:
        from conversion.export import export_checkpoint
    except ImportError as exc:
        raise ModelFileError(
            f"the converter cannot load ({exc}); reinstall FakeScope with its dependencies"
        ) from None
    profile = _load_profile(plan.profile) if plan.profile else None
    return export_checkpoint(
        checkpoint,
        out,
        name=plan.name,
        quant=plan.quant,
        profile=profile,
        mmproj_quant=mmproj_quant,
        card=plan.card,
    )


def _load_profile(value: str) -> ModelProfile:
    """A bundled converter profile by name (``fakevlm``) or a profile TOML path."""
    from conversion.cli import bundled_profiles, resolve_profile

    path = resolve_profile(value)
    if not path.is_file():
        raise ModelFileError(
            f"--profile {value}: no such file and no bundled profile ({', '.join(bundled_profiles())})"
        )
    return load_profile_toml(path)


def _add_provenance(plan: PullPlan, manifest_path: Path) -> None:
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    source = dict(data.get("source") or {})
    folder = plan.staging / "checkpoint"
    source.update(_record(plan.source, list(plan.files), folder))
    data["source"] = source
    if plan.extra is not None:
        data["tokenizer_source"] = _record(plan.extra, list(plan.files), folder)
    data["pulled"] = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if plan.entry is not None:
        data["catalogue"] = plan.entry.name
    partial = manifest_path.with_name(manifest_path.name + ".tmp")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, manifest_path)

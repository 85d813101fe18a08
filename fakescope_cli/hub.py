"""Plan and fetch a checkpoint from the Hugging Face hub for `fakescope model pull hf:OWNER/REPO`.

The hub is asked through ``huggingface_hub`` (so ``HF_ENDPOINT``, ``HF_TOKEN`` and
``HF_HUB_OFFLINE`` mean what they mean for every hub tool) for the commit a revision points at
and each file's size and digest. The bytes come through FakeScope's own resumable downloader
(:func:`fakescope_cli.download.download`): ``huggingface_hub`` 2.x deletes a partial file when a
download fails, and a 14 GB checkpoint on a newsroom connection must survive an interruption.
Every file is checked against the digest the hub listed (SHA-256 for Git LFS files, the git blob
id for the rest) before it is used. Only the files a conversion needs are fetched: configs,
``.safetensors`` weights, tokenizer and image-processor files; pickled ``.bin`` weights never
(loading them can run code).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from fakescope_cli.download import Expected, Progress, download
from fakescope_cli.errors import ModelFileError

HF_PREFIX = "hf:"
DEFAULT_ENDPOINT = "https://huggingface.co"
TOKENIZER_FILES = (
    "tokenizer.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "preprocessor_config.json",
    "processor_config.json",
    "chat_template.json",
    "chat_template.jinja",
)
CHECKPOINT_FILES = (
    "config.json",
    "generation_config.json",
    "*.safetensors",
    "model.safetensors.index.json",
    "fakescope-card.toml",
    *TOKENIZER_FILES,
)
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")  # top level only: no folders, no '..'


@dataclass(frozen=True)
class HubRef:
    repo: str
    revision: str = "main"

    def __str__(self) -> str:
        return f"{HF_PREFIX}{self.repo}@{self.revision}"


def parse_hub_ref(text: str) -> HubRef:
    """``hf:OWNER/REPO[@REVISION]`` (the ``hf:`` is optional here)."""
    body = text[len(HF_PREFIX) :] if text.startswith(HF_PREFIX) else text
    repo, _, revision = body.partition("@")
    revision = revision or "main"
    if not _REPO.match(repo) or ".." in repo:
        raise ModelFileError(f"{text}: not a hub repository; write hf:OWNER/NAME or hf:OWNER/NAME@REVISION")
    if not _REVISION.match(revision) or ".." in revision:
        raise ModelFileError(f"{text}: {revision!r} is not a branch, tag or commit name")
    return HubRef(repo, revision)


@dataclass(frozen=True)
class RemoteFile:
    repo: str
    commit: str
    name: str
    expected: Expected

    @property
    def size(self) -> int:
        return self.expected.size or 0


@dataclass(frozen=True)
class RepoSnapshot:
    """A repository at one commit: the files of it a conversion would use."""

    ref: HubRef
    commit: str
    files: tuple[RemoteFile, ...]
    ignored: tuple[str, ...] = field(default=())
    architectures: tuple[str, ...] = ()  # from the hub's summary of config.json, when it gives one

    def names(self) -> set[str]:
        return {f.name for f in self.files}


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def check_online() -> None:
    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if flag.strip().lower() in ("1", "on", "yes", "true"):
        raise ModelFileError(
            "HF_HUB_OFFLINE is set, and pulling from the hub needs the network; unset it for this one "
            "command (everything else in FakeScope runs offline)"
        )


def _headers() -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    return dict(build_hf_headers(library_name="fakescope"))


def _wanted(name: str, patterns: tuple[str, ...]) -> bool:
    return _FILE.match(name) is not None and any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _require_hub_client() -> None:
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise ModelFileError(
            "pulling from the hub needs the huggingface_hub package (a FakeScope dependency): "
            "pip install 'huggingface_hub>=1.0'"
        ) from None


def snapshot(ref: HubRef, patterns: tuple[str, ...] = CHECKPOINT_FILES) -> RepoSnapshot:
    """Ask the hub for the commit ``ref`` points at and the digests of the files matching ``patterns``."""
    check_online()
    _require_hub_client()
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi(endpoint=endpoint(), library_name="fakescope").model_info(
            ref.repo, revision=ref.revision, files_metadata=True
        )
    except GatedRepoError:
        raise ModelFileError(
            f"{ref}: the repository is gated; accept its terms on the hub and set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise ModelFileError(f"{ref}: the hub has no revision {ref.revision!r} in this repository") from None
    except RepositoryNotFoundError:
        raise ModelFileError(
            f"{ref}: no such repository on {endpoint()} (or it is private: set HF_TOKEN)"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise ModelFileError(f"{ref}: the hub answered {status}") from None
    except Exception as exc:  # connection refused, DNS, TLS, timeouts: one line, whatever the transport
        raise ModelFileError(f"{ref}: cannot reach {endpoint()} ({type(exc).__name__}: {exc})") from None
    if not info.sha:
        raise ModelFileError(f"{ref}: the hub did not say which commit this revision is")
    files, ignored = [], []
    for sibling in info.siblings or []:
        name = sibling.rfilename
        if not _wanted(name, patterns):
            ignored.append(name)
            continue
        if sibling.lfs is not None:
            expected = Expected(sha256=sibling.lfs.sha256.lower(), size=sibling.lfs.size)
        elif sibling.blob_id and sibling.size is not None:
            expected = Expected(git_oid=sibling.blob_id.lower(), size=sibling.size)
        else:
            raise ModelFileError(f"{ref}: the hub lists no digest for {name}; it cannot be checked")
        files.append(RemoteFile(ref.repo, info.sha, name, expected))
    config = info.config if isinstance(info.config, dict) else {}
    archs = config.get("architectures")
    architectures = tuple(str(a) for a in archs) if isinstance(archs, list) else ()
    ordered = tuple(sorted(files, key=lambda f: f.name))
    return RepoSnapshot(ref, info.sha, ordered, tuple(ignored), architectures)


def file_url(item: RemoteFile) -> str:
    quoted = urllib.parse.quote(item.name)
    return f"{endpoint()}/{item.repo}/resolve/{item.commit}/{quoted}"


def fetch(files: list[RemoteFile], folder: Path, progress: Progress | None = None) -> list[Path]:
    """Download ``files`` into ``folder`` (resuming ``*.partial`` left by an earlier try); a file
    already there with the right size and digest is kept."""
    folder.mkdir(parents=True, exist_ok=True)
    headers = _headers()
    out = []
    for item in files:
        target = folder / item.name
        if target.is_file() and item.expected.matches(target):
            if progress:
                progress(item.name, item.size, item.size)
        else:
            target.unlink(missing_ok=True)
            download(file_url(item), target, item.expected, progress, headers=headers)
        out.append(target)
    return out


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free

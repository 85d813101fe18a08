"""The results cache: SQLite in WAL mode, one row per (file SHA-256, model, tool version, settings).

Each result is committed as soon as it is known, so a scan stopped by Ctrl-C or ``kill -9`` loses at
most the image in flight, and a re-run analyses only what is new or changed. What is stored is the
model's score and the evidence; the verdict is fused again on reading, so a new threshold or band
needs no re-analysis. Failed images are never cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli import __version__
from fakescope_cli.errors import FakeScopeError
from fakescope_cli.evidence.items import EvidenceItem, EvidenceReport
from fakescope_cli.results import (
    AuthenticityScore,
    CropScore,
    CropView,
    HeatMap,
    ImageResult,
    LabelEvidence,
)

SCHEMA_VERSION = 1
_TABLES = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    file_sha256 TEXT NOT NULL,
    model_key TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    created REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_file ON results (file_sha256);
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL
);
"""


class CacheError(FakeScopeError):
    """The cache database cannot be opened or is damaged."""


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    results: int
    bytes: int


def _advice(exc: sqlite3.Error) -> str:
    """What to do about an SQLite error: clearing helps only a damaged file, never a locked or
    read-only one (it would delete valid results, and fail on a read-only folder)."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "another FakeScope may be using it; try again when it has finished"
    if "readonly" in text or "unable to open" in text or "permission" in text:
        return "check the folder's permissions, or set FAKESCOPE_CACHE_DIR"
    return "if the file is damaged, 'fakescope cache clear' starts a new one"


class ResultCache:
    """The SQLite results cache. A cache file this user cannot write is opened read-only: its
    results are used, nothing new is stored (``read_only``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only = path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        try:
            if self.read_only:
                # immutable: no -wal/-shm files are needed (or created) beside it
                self.db = sqlite3.connect(f"file:{path}?immutable=1", uri=True, timeout=10.0)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise CacheError(
                    f"{path}: cache written by another FakeScope version; run 'fakescope cache clear'"
                )
            if not self.read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_TABLES)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except OSError as exc:
            raise CacheError(
                f"{path}: cannot create the results cache ({exc.strerror or exc}); "
                "check the folder, or set FAKESCOPE_CACHE_DIR"
            ) from None
        except sqlite3.Error as exc:
            raise CacheError(f"{path}: cannot use the results cache ({exc}); {_advice(exc)}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def key(file_sha256: str, model_key: str, settings: str) -> str:
        return hashlib.sha256(f"{file_sha256}|{model_key}|{__version__}|{settings}".encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            row = self.db.execute("SELECT body FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot read the results cache ({exc})") from None
        if row is None:
            return None
        try:
            body: dict[str, Any] = json.loads(row[0])
        except ValueError:
            return None
        return body

    def put(self, key: str, file_sha256: str, model_key: str, body: dict[str, Any]) -> None:
        """Stored and committed at once (autocommit): durable against a crash right after."""
        if self.read_only:
            return
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO results (key, file_sha256, model_key, tool_version, created, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, file_sha256, model_key, __version__, time.time(), json.dumps(body, ensure_ascii=True)),
            )
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot write the results cache ({exc})") from None

    def file_sha256(self, path: Path) -> str:
        """SHA-256 of a (large) file, remembered by path, size and modification time."""
        info = path.stat()
        try:
            row = self.db.execute(
                "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                (str(path.resolve()), info.st_size, info.st_mtime_ns),
            ).fetchone()
        except sqlite3.Error:  # a read-only cache without the table: hash it, remember nothing
            row = None
        if row:
            return str(row[0])
        from fakescope_cli.models import file_sha256

        digest = file_sha256(path)
        if self.read_only:
            return digest
        self.db.execute(
            "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            (str(path.resolve()), info.st_size, info.st_mtime_ns, digest),
        )
        return digest

    def info(self) -> CacheInfo:
        try:
            count = self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot read the results cache ({exc}); {_advice(exc)}") from None
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        return CacheInfo(self.path, int(count), size)

    def clear(self) -> int:
        count = int(self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        self.db.execute("DELETE FROM results")
        self.db.execute("DELETE FROM file_hashes")
        self.db.execute("VACUUM")
        return count


def remove_cache(path: Path) -> list[Path]:
    """Delete the cache database and its WAL files without opening them (works on a damaged one)."""
    removed = []
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.unlink()
            removed.append(candidate)
    return removed


def cache_path() -> Path:
    from fakescope_cli.paths import cache_dir

    return cache_dir() / "results.sqlite"


def stored_body(result: ImageResult) -> dict[str, Any]:
    """What the cache keeps of a result: the score and the evidence (the verdict is re-fused)."""
    body: dict[str, Any] = {
        "sha256": result.sha256,
        "width": result.width,
        "height": result.height,
        "format": result.format,
        "seconds": result.seconds,
    }
    if result.score is not None:
        score = result.score
        body["score"] = {
            "p_fake": score.p_fake,
            "p_real": score.p_real,
            "fake": {"word": score.fake.word, "score": score.fake.score, "variants": score.fake.variants},
            "real": {"word": score.real.word, "score": score.real.score, "variants": score.real.variants},
            "answer_top_token": score.answer_top_token,
        }
        if score.view is not None:
            body["score"]["view"] = {**score.view.to_dict(), "labels_from": score.view.labels_from}
    if result.heatmap is not None:
        body["heatmap"] = result.heatmap.to_dict()
    if result.evidence is not None:
        body["evidence"] = [item.to_dict() for item in result.evidence.items]
    return body


def result_from_body(path: str, body: dict[str, Any]) -> ImageResult:
    """An :class:`ImageResult` rebuilt from :func:`stored_body` (verdict not yet fused)."""
    result = ImageResult(
        path=path,
        sha256=body.get("sha256"),
        width=body.get("width"),
        height=body.get("height"),
        format=body.get("format"),
        seconds=0.0,
        cached=True,
    )
    score = body.get("score")
    if score is not None:
        result.score = AuthenticityScore(
            p_fake=score["p_fake"],
            p_real=score["p_real"],
            fake=LabelEvidence(**score["fake"]),
            real=LabelEvidence(**score["real"]),
            answer_top_token=score["answer_top_token"],
            view=_view_from_body(score.get("view")),
        )
    heatmap = body.get("heatmap")
    if heatmap is not None:
        result.heatmap = HeatMap(
            heatmap["cols"], heatmap["rows"], heatmap["crop_size"], [CropScore(**c) for c in heatmap["cells"]]
        )
    if "evidence" in body:
        result.evidence = EvidenceReport(path, [EvidenceItem(**item) for item in body["evidence"]])
    return result


def _view_from_body(view: dict[str, Any] | None) -> CropView | None:
    if view is None:
        return None
    return CropView(
        crop_size=view["crop_size"],
        aggregate=view["aggregate"],
        crops=[CropScore(**c) for c in view["crops"]],
        undersized=view["undersized"],
        labels_from=view.get("labels_from", 0),
    )

"""Resumable http(s) downloads checked against a digest (``model pull``): only run when asked."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ModelFileError

CHUNK = 1 << 20

Progress = Callable[[str, int, int | None], None]


def check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ModelFileError(f"{url}: only http:// and https:// URLs can be pulled")


class _NoAuthAcrossHosts(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only, and never carry the Authorization header to another host
    or from https to http (a hub sends large files to a CDN)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new_url = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if new_url.scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-http(s) URL refused", headers, fp)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and (new_url.netloc != old.netloc or new_url.scheme != old.scheme):
            new.headers.pop("Authorization", None)
            new.unredirected_hdrs.pop("Authorization", None)
        return new


_OPENER = urllib.request.build_opener(_NoAuthAcrossHosts)


def open_url(url: str, start: int = 0, timeout: float = 60.0, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, headers={"User-Agent": "fakescope-pull", **(headers or {})})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        return _OPENER.open(request, timeout=timeout)  # scheme checked by the callers
    except urllib.error.HTTPError as exc:
        raise ModelFileError(f"{url}: server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelFileError(f"{url}: cannot connect ({reason})") from None


@dataclass(frozen=True)
class Expected:
    """What a download must hash to: a SHA-256, or a git blob id (SHA-1 over ``blob SIZE\\0`` and
    the bytes, what a hub reports for files kept outside Git LFS)."""

    sha256: str | None = None
    git_oid: str | None = None
    size: int | None = None

    def hasher(self) -> Any:  # a hashlib object (no public type)
        if self.sha256:
            return hashlib.sha256()
        if self.git_oid and self.size is not None:
            digest = hashlib.sha1()  # noqa: S324 - git's object id, compared, not trusted for security
            digest.update(b"blob %d\0" % self.size)
            return digest
        raise ModelFileError("nothing to check the download against (no SHA-256 and no git blob id)")

    @property
    def hexdigest(self) -> str:
        return (self.sha256 or self.git_oid or "").lower()

    def matches(self, path: Path) -> bool:
        """Whether the file at ``path`` has this size and digest."""
        if self.size is not None and path.stat().st_size != self.size:
            return False
        return bool(_hash_into(self.hasher(), path).hexdigest() == self.hexdigest)


def _hash_into(digest: Any, path: Path) -> Any:
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest


def download(
    url: str,
    target: Path,
    expected: Expected,
    progress: Progress | None = None,
    headers: dict[str, str] | None = None,
) -> Path:
    """Fetch ``url`` into ``target.partial`` (resuming what is there), check its digest, rename."""
    check_url(url)
    partial = target.with_name(target.name + ".partial")
    start = partial.stat().st_size if partial.is_file() else 0
    if expected.size is not None and start > expected.size:
        partial.unlink()
        start = 0
    digest = expected.hasher()
    if expected.size is not None and start == expected.size and partial.is_file():
        response = None  # complete already: only the check is left
        if progress:
            progress(target.name, start, expected.size)
    else:
        response = open_url(url, start, headers=headers)
    size = expected.size
    try:
        if response is not None and start and response.status != 206:
            start = 0  # the server ignored the Range header: start over
        if response is not None and size is None:
            total = response.headers.get("Content-Length")
            size = int(total) + start if total and total.isdigit() else None
        if start:
            _hash_into(digest, partial)
        if response is not None:
            with partial.open("ab" if start else "wb") as out:
                done = start
                while block := response.read1(CHUNK):  # what has arrived: on disk before a Ctrl-C
                    done += len(block)
                    if expected.size is not None and done > expected.size:
                        raise _TooLong(done)
                    out.write(block)
                    out.flush()  # the partial's size is what has arrived (a resume starts there)
                    digest.update(block)
                    if progress:
                        progress(target.name, done, size)
    except _TooLong:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"{url}: the server sent more than the {expected.size} bytes listed for it; discarded"
        ) from None
    except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
        have = partial.stat().st_size if partial.exists() else 0
        raise ModelFileError(
            f"{url}: download interrupted after {have} bytes ({exc}); run pull again to resume"
        ) from None
    finally:
        if response is not None:
            response.close()
    have = partial.stat().st_size if partial.is_file() else 0
    if size is not None and have != size:
        raise ModelFileError(f"{url}: download incomplete ({have} of {size} bytes); run pull again to resume")
    if digest.hexdigest() != expected.hexdigest:
        partial.unlink(missing_ok=True)
        what = "SHA-256" if expected.sha256 else "git blob id"
        raise ModelFileError(
            f"{url}: {what} does not match (expected {expected.hexdigest[:16]}...); the download is "
            "corrupt and was discarded (run pull again)"
        )
    try:
        os.replace(partial, target)
    except OSError as exc:
        raise ModelFileError(
            f"{target}: cannot move the download into place ({exc.strerror or exc})"
        ) from None
    return target


class _TooLong(Exception):
    """More bytes arrived than the listing promised."""

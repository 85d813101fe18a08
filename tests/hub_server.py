"""A Hugging Face hub on 127.0.0.1, serving enough of the hub's HTTP API for ``huggingface_hub``
and FakeScope's downloader: repository info with file digests (``/api/models/REPO/revision/REV``)
and file bytes with Range support (``/REPO/resolve/REV/FILE``). It records every request, and
can cut a transfer short, corrupt a file or overstate a size, as real networks and disks do."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".model", ".bin")


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str
    aliases: set[str] = field(default_factory=lambda: {"main"})

    @classmethod
    def from_folder(
        cls, folder: Path, aliases: tuple[str, ...] = ("main",), skip: tuple[str, ...] = ()
    ) -> Repo:
        files = {
            p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and p.name not in skip
        }
        digest = hashlib.sha1()  # a commit id as the hub gives one: 40 hex digits
        for name, data in files.items():
            digest.update(name.encode() + hashlib.sha256(data).digest())
        return cls(files, digest.hexdigest(), set(aliases))


@dataclass
class HubState:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, Range
    authorization: list[str | None] = field(default_factory=list)  # the header of each request
    cut_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before hanging up (once)
    corrupt: set[str] = field(default_factory=set)
    claimed_size: dict[str, int] = field(default_factory=dict)  # file -> size the listing claims
    extra_bytes: dict[str, bytes] = field(default_factory=dict)  # file -> bytes sent beyond its end
    ignore_range: bool = False  # answer every Range request with the whole file (200)
    redirect_to: str | None = None  # send LFS files there (as the hub sends them to its CDN)
    stall_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before pausing (once)
    resume: threading.Event = field(default_factory=threading.Event)  # ends a pause

    def downloads(self) -> list[str]:
        return [path for method, path, _ in self.requests if "/resolve/" in path and method == "GET"]


def _sibling(state: HubState, name: str, data: bytes) -> dict[str, object]:
    size = state.claimed_size.get(name, len(data))
    item: dict[str, object] = {"rfilename": name, "size": size}
    if name.endswith(LFS_SUFFIXES):
        pointer = (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
        )
        item["blobId"] = hashlib.sha1(pointer.encode()).hexdigest()
        item["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": size, "pointerSize": len(pointer)}
    else:
        item["blobId"] = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    return item


def _config_summary(repo: Repo) -> dict[str, object]:
    """What the hub's model info says of config.json: its architectures and model type."""
    try:
        config = json.loads(repo.files.get("config.json", b"{}"))
    except json.JSONDecodeError:
        return {}
    return {k: config[k] for k in ("architectures", "model_type") if isinstance(config, dict) and k in config}


def _handler(state: HubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _repo(self, repo_id: str, revision: str) -> Repo | None:
            repo = state.repos.get(repo_id)
            if repo is None:
                self._send(404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"})
                return None
            if revision not in repo.aliases and revision != repo.commit:
                self._send(404, b'{"error":"Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"})
                return None
            return repo

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def do_GET(self) -> None:  # noqa: N802
            path = unquote(urlsplit(self.path).path)
            state.requests.append((self.command, path, self.headers.get("Range")))
            state.authorization.append(self.headers.get("Authorization"))
            parts = path.strip("/").split("/")
            if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
                repo = self._repo("/".join(parts[2:4]), "/".join(parts[5:]))
                if repo is None:
                    return
                body = {
                    "id": "/".join(parts[2:4]),
                    "sha": repo.commit,
                    "private": False,
                    "siblings": [_sibling(state, n, d) for n, d in repo.files.items()],
                    "config": _config_summary(repo),
                }
                self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
                return
            if len(parts) >= 5 and parts[2] == "resolve":
                repo = self._repo("/".join(parts[:2]), parts[3])
                if repo is None:
                    return
                name = "/".join(parts[4:])
                if name not in repo.files:
                    self._send(404, b"{}", {"X-Error-Code": "EntryNotFound"})
                    return
                self._file(repo, name)
                return
            self._send(404, b"{}")

        def _file(self, repo: Repo, name: str) -> None:
            if state.redirect_to and name.endswith(LFS_SUFFIXES):
                self._send(
                    302, b"", {"Location": state.redirect_to + self.path, "X-Repo-Commit": repo.commit}
                )
                return
            data = repo.files[name]
            if name in state.corrupt:
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            data += state.extra_bytes.get(name, b"")
            start = 0
            spec = self.headers.get("Range")
            if spec and spec.startswith("bytes=") and spec.endswith("-") and not state.ignore_range:
                start = int(spec[len("bytes=") : -1])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{hashlib.sha256(repo.files[name]).hexdigest()}"')
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if self.command == "HEAD":
                return
            stall = state.stall_after.pop(name, None)
            if stall is not None:
                self.wfile.write(body[:stall])
                self.wfile.flush()
                state.resume.wait(timeout=600)  # past any test's own deadline: the stall holds
                body = body[stall:]
            cut = state.cut_after.pop(name, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def fake_hub(state: HubState) -> Iterator[str]:
    """Serve ``state`` on a free loopback port; yields the endpoint URL (for ``HF_ENDPOINT``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        state.resume.set()  # a stalled transfer ends with the test, whatever became of it
        httpd.shutdown()
        httpd.server_close()

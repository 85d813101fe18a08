"""The teacher model of FakeChain, run as a local command (never a network call by default).

For each image the command gets one JSON request on stdin::

    {"image": "/abs/path.png", "label": "fake", "generator": "sd15",
     "measurements": {...}, "measured_traces": [{"category", "text"}], "human_traces": {category: text},
     "allowed_categories": [...],
     "demonstrations": [{"label", "rationale"}], "categories": [...]}

and answers with one JSON object on stdout::

    {"traces": [{"category": "texture", "text": "..."}], "rationale": "..."}

A command that fails, times out or answers malformed JSON raises DatasetError naming the command
and the image: a broken teacher must stop the build, not thin the data set silently.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

from fakescope_cli.errors import DatasetError

DEFAULT_TIMEOUT_S = 120.0
MAX_REPLY_BYTES = 1 << 20
MAX_TEXT = 2000


@dataclass(frozen=True)
class TeacherReply:
    traces: list[tuple[str, str]]  # (category, text), categories unchecked
    rationale: str


def run_teacher(
    command: list[str], request: dict[str, Any], timeout: float = DEFAULT_TIMEOUT_S
) -> TeacherReply:
    """Run ``command`` once with ``request``; the parsed reply."""
    name = shlex.join(command)
    image = request.get("image", "?")
    try:
        done = subprocess.run(
            command,
            input=json.dumps(request).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise DatasetError(f"teacher command {name!r}: program not found") from None
    except PermissionError:
        raise DatasetError(f"teacher command {name!r}: not executable") from None
    except subprocess.TimeoutExpired:
        raise DatasetError(f"teacher command {name!r} timed out after {timeout:g} s on {image}") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise DatasetError(
            f"teacher command {name!r} exited with {done.returncode} on {image}: {tail[0][:300]}"
        )
    if len(done.stdout) > MAX_REPLY_BYTES:
        raise DatasetError(f"teacher command {name!r}: reply over {MAX_REPLY_BYTES} bytes on {image}")
    try:
        reply = json.loads(done.stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DatasetError(f"teacher command {name!r}: reply on {image} is not one JSON object") from None
    return _parse(reply, f"teacher command {name!r} on {image}")


def _parse(reply: Any, where: str) -> TeacherReply:
    if not isinstance(reply, dict) or not isinstance(reply.get("traces", []), list):
        raise DatasetError(f'{where}: expected {{"traces": [...], "rationale": "..."}}')
    rationale = reply.get("rationale", "")
    if not isinstance(rationale, str):
        raise DatasetError(f"{where}: rationale must be text")
    traces = []
    for index, trace in enumerate(reply.get("traces", [])):
        if (
            not isinstance(trace, dict)
            or not isinstance(trace.get("category"), str)
            or not isinstance(trace.get("text"), str)
        ):
            raise DatasetError(f'{where}: traces[{index}] must be {{"category": ..., "text": ...}}')
        if trace["text"].strip():
            traces.append((trace["category"].strip(), trace["text"].strip()[:MAX_TEXT]))
    return TeacherReply(traces, rationale.strip()[:MAX_TEXT])

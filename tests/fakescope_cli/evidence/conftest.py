from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fakescope_cli.evidence.engine import EvidenceOptions, gather_evidence
from fakescope_cli.evidence.items import EvidenceItem, EvidenceReport

Gather = Callable[..., EvidenceReport]


@pytest.fixture()
def gather(tmp_path: Path) -> Gather:
    """Write ``data`` to a file and gather its evidence, as the CLI would."""

    def run(data: bytes, name: str = "image.bin", **options: object) -> EvidenceReport:
        path = tmp_path / name
        path.write_bytes(data)
        return gather_evidence(path, data, None, EvidenceOptions(**options))  # type: ignore[arg-type]

    return run


def only(report: EvidenceReport, item_id: str) -> EvidenceItem:
    matches = [item for item in report.items if item.id == item_id]
    assert len(matches) == 1, [item.id for item in report.items]
    return matches[0]


def ids(report: EvidenceReport) -> set[str]:
    return {item.id for item in report.items}

"""Runs compared from the records ``train eval`` writes (built here by its own report code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from train.data.records import ImageRecord
from train.run.evaluate import EvalReport, backend_report
from train.run.mini.compare_runs import main, run_figures


def _write(
    folder: Path,
    name: str,
    records: list[ImageRecord],
    scores: list[float],
    held: set[str],
    explanations: dict[str, object] | None = None,
) -> None:
    report = EvalReport(records, [backend_report("gguf", records, scores, held)], [], sorted(held))
    report.explanations = explanations or {}
    folder.mkdir(exist_ok=True)
    (folder / f"eval-{name}.json").write_text(json.dumps(report.to_dict()))


def _run(folder: Path, fake_scores: list[float], real_scores: list[float], photos: list[float]) -> Path:
    reals = [ImageRecord(Path(f"r{i}.jpg"), "real", "test") for i in range(len(real_scores))]
    fakes = [
        ImageRecord(Path(f"f{i}.jpg"), "fake", "test", "seen" if i % 2 else "held")
        for i in range(len(fake_scores))
    ]
    _write(folder, "test", reals + fakes, real_scores + fake_scores, {"held"})
    own = [ImageRecord(Path(f"o{i}.jpg"), "real", "test") for i in range(len(photos))]
    _write(folder, "own-size", own, photos, set())
    return folder


def test_figures_and_flags_come_from_the_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a", [0.9, 0.8, 0.7, 0.6], [0.1, 0.65], [0.2, 0.55, 0.7])
    b = _run(tmp_path / "b", [0.9, 0.8, 0.7, 0.6], [0.1, 0.95], [0.1, 0.1, 0.1])
    figures = run_figures(a)
    assert figures["test_auc_all"] == 0.875  # 7 of 8 fake-real pairs in order
    assert figures["test_auc_held_out"] == 1.0 and figures["test_auc_seen"] == 0.75  # 0.6 < 0.65
    assert figures["own-size"] == {"images": 3, "p_fake_at_least_0.5": 2, "likely_ai_0.6": 1}
    assert "camera" not in figures
    out = tmp_path / "summary.json"
    assert main(["--run", f"a={a}", "--run", f"b={b}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 / 1 of 3" in printed and "0 / 0 of 3" in printed
    assert json.loads(out.read_text())["runs"]["b"]["test_auc_all"] == 0.5


def test_a_folder_without_a_test_record_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--run", f"x={tmp_path}"]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert main(["--run", "no-folder"]) == 2


def test_own_family_auc_and_explanation_checks_join_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _run(tmp_path / "a", [0.9, 0.8], [0.1, 0.2], [0.3])
    reals = [ImageRecord(Path(f"r{i}.jpg"), "real", "test") for i in range(2)]
    resynth = [ImageRecord(Path(f"s{i}.jpg"), "fake", "test", "ae-resynth") for i in range(2)]
    _write(a, "own-family", reals + resynth, [0.1, 0.5, 0.3, 0.9], {"ae-resynth"})  # 3 of 4 pairs
    checks = {"agree": 2, "disagree": 1, "unverifiable": 17, "share_agreeing": 2 / 3, "samples": []}
    _write(a, "test", reals + resynth, [0.1, 0.2, 0.9, 0.8], {"ae-resynth"}, checks)
    figures = run_figures(a)
    assert figures["own_family_auc"] == 0.75
    assert figures["explanations"] == {"agree": 2, "disagree": 1, "unverifiable": 17}
    assert main(["--run", f"a={a}"]) == 0
    printed = capsys.readouterr().out
    assert "own_family_auc" in printed and "2 / 1 / 17" in printed

"""Metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from train.run.metrics import average_precision, detection_metrics, expected_calibration_error, roc_auc


@pytest.mark.parametrize(
    ("labels", "scores", "auc"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # ties count half
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),  # one of four pairs misordered
    ],
)
def test_roc_auc(labels, scores, auc) -> None:
    assert roc_auc(labels, scores) == pytest.approx(auc)


def test_auc_needs_both_classes() -> None:
    assert roc_auc([1, 1], [0.2, 0.3]) is None


def test_average_precision() -> None:
    # Ranked: 0.9 (fake), 0.8 (real), 0.7 (fake): AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([1, 1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)


def test_ece() -> None:
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)
    # Everything at 0.8 confidence, half of it fake: |0.5 - 0.8| = 0.3
    assert expected_calibration_error([1, 0, 1, 0], [0.8] * 4) == pytest.approx(0.3)


def test_detection_metrics() -> None:
    metrics = detection_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    assert (metrics.n, metrics.n_fake, metrics.accuracy, metrics.roc_auc) == (4, 2, 0.75, 1.0)

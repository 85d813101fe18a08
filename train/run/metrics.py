"""Detection metrics from p(fake): accuracy, ROC-AUC, average precision, expected calibration error.

numpy only; label 1 = fake. Ties in scores are handled exactly (mid-ranks for AUC, grouped
thresholds for AP), so a constant score gives AUC 0.5, not something order-dependent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

Labels = Sequence[int] | np.ndarray
Scores = Sequence[float] | np.ndarray


def _arrays(labels: Labels, scores: Scores) -> tuple[np.ndarray, np.ndarray]:
    y, s = np.asarray(labels, dtype=np.int64), np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-D and of equal length")
    if not set(np.unique(y)) <= {0, 1}:
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    return y, s


def roc_auc(labels: Labels, scores: Scores) -> float | None:
    """Probability that a random fake scores above a random real (ties count half); None if one class."""
    y, s = _arrays(labels, scores)
    positives, negatives = int(y.sum()), int((1 - y).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_scores = s[order]
    start = 0
    while start < len(s):
        end = start
        while end + 1 < len(s) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(labels: Labels, scores: Scores) -> float | None:
    """Area under the precision-recall curve (step-wise, thresholds at distinct scores)."""
    y, s = _arrays(labels, scores)
    positives = int(y.sum())
    if positives == 0:
        return None
    total = 0.0
    previous_recall = 0.0
    for threshold in np.unique(s)[::-1]:
        predicted = s >= threshold
        true_positive = int((predicted & (y == 1)).sum())
        recall = true_positive / positives
        precision = true_positive / int(predicted.sum())
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return float(total)


def expected_calibration_error(labels: Labels, scores: Scores, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width bins of p(fake), weighted by bin size."""
    y, s = _arrays(labels, scores)
    if len(y) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(s, edges[1:-1], right=False), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(y[members].mean() - s[members].mean())
    return float(error)


@dataclass(frozen=True)
class DetectionMetrics:
    n: int
    n_fake: int
    accuracy: float | None
    roc_auc: float | None
    average_precision: float | None
    ece: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def detection_metrics(labels: Labels, scores: Scores, threshold: float = 0.5) -> DetectionMetrics:
    y, s = _arrays(labels, scores)
    if len(y) == 0:
        return DetectionMetrics(0, 0, None, None, None, None)
    accuracy = float(((s >= threshold).astype(np.int64) == y).mean())
    return DetectionMetrics(
        len(y),
        int(y.sum()),
        accuracy,
        roc_auc(y, s),
        average_precision(y, s),
        expected_calibration_error(y, s),
    )

"""Small numpy statistics for the shortcut check: ROC AUC and a cross-validated logistic regression."""

from __future__ import annotations

import numpy as np

from train.run.metrics import roc_auc


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC of ``scores`` for the boolean ``positive`` (ties count half); None without both
    classes. The evaluation's own :func:`train.run.metrics.roc_auc`, in this module's argument order."""
    return roc_auc(np.asarray(positive, dtype=bool).astype(np.int64), np.asarray(scores, dtype=np.float64))


def separability(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """How well a single threshold on ``scores`` splits the classes, either way round (0.5 to 1)."""
    value = auc(scores, positive)
    return None if value is None else max(value, 1.0 - value)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -30, 30)))
        gradient = design.T @ (p - y) / len(y) + penalty @ weights
        hessian = (design.T * (p * (1 - p))) @ design / len(y) + penalty + np.eye(len(weights)) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return weights


def predict_logistic(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.asarray(np.hstack([x, np.ones((len(x), 1))]) @ weights)


def cross_validated_auc(x: np.ndarray, positive: np.ndarray, folds: int = 5, seed: int = 0) -> float | None:
    """Out-of-fold AUC of the logistic regression (stratified folds, standardised on each train fold)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    folds = min(folds, n_pos, n_neg)
    if folds < 2:
        return None
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(positive), dtype=np.int64)
    for cls in (True, False):
        members = np.flatnonzero(positive == cls)
        rng.shuffle(members)
        assignment[members] = np.arange(len(members)) % folds
    out_of_fold = np.zeros(len(positive))
    y = positive.astype(np.float64)
    for fold in range(folds):
        test = assignment == fold
        train = ~test
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
        std[std == 0] = 1.0
        weights = fit_logistic((x[train] - mean) / std, y[train])
        out_of_fold[test] = predict_logistic(weights, (x[test] - mean) / std)
    return auc(out_of_fold, positive)

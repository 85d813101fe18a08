"""Token-based probability estimation (FakeScope, Li et al. 2025, Eq. for p_j).

At the answer position the model's next-token logits z are read. Each label word j
(``fake`` / ``real``) is spelled by one or more surface variants (case, leading space),
and each variant is a sequence of sub-tokens t. A variant's score is the sum of its
sub-token logits, the later sub-tokens read teacher-forced after the earlier ones:

    s(variant) = sum_{v in t} z_v

The paper's formula, p_j = exp(s_j) / sum_k exp(s_k), is then applied over the two labels.
When a label has several surface variants we pool them with log-sum-exp, which treats the
variants as alternative spellings of one answer; with a single variant per label this
reduces exactly to the paper's formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def variant_score(sub_token_logits: Sequence[float]) -> float:
    """Score of one spelling: the sum of its sub-token logits."""
    if len(sub_token_logits) == 0:
        raise ValueError("a label variant needs at least one sub-token")
    return math.fsum(sub_token_logits)


def logsumexp(values: Sequence[float]) -> float:
    """Numerically stable log(sum(exp(values)))."""
    if len(values) == 0:
        raise ValueError("logsumexp of an empty sequence")
    top = max(values)
    if math.isinf(top):
        return top
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def label_score(variants: Sequence[Sequence[float]]) -> float:
    """Score of a label word: log-sum-exp over its variants' summed logits."""
    if len(variants) == 0:
        raise ValueError("a label needs at least one variant")
    return logsumexp([variant_score(v) for v in variants])


def label_probabilities(labels: Mapping[str, Sequence[Sequence[float]]]) -> dict[str, float]:
    """Softmax over label scores; returns a probability per label name."""
    if len(labels) < 2:
        raise ValueError("need at least two labels to compare")
    scores = {name: label_score(variants) for name, variants in labels.items()}
    top = max(scores.values())
    if math.isinf(top) and top < 0:
        raise ValueError("every label has probability zero")
    weights = {name: math.exp(s - top) for name, s in scores.items()}
    total = math.fsum(weights.values())
    return {name: w / total for name, w in weights.items()}

"""The spelling scores: pooled as the engine pools, and each spelling's own difference."""

from __future__ import annotations

import math

from train.run.mini.variant_check import spelling_scores


def test_a_two_token_spelling_outweighs_the_one_token_answer_in_the_pooled_score() -> None:
    # the trained one-token answer says fake by 3; an upper-case spelling of two sub-tokens says real
    labels = {"fake": [[33.0], [20.0, 18.0]], "real": [[30.0], [24.0, 24.0]]}
    scores = spelling_scores(labels)
    assert scores["form 0"] == 3.0 and scores["form 1"] == -10.0
    lse = lambda a, b: max(a, b) + math.log1p(math.exp(-abs(a - b)))  # noqa: E731
    assert math.isclose(scores["pooled"], lse(33.0, 38.0) - lse(30.0, 48.0), abs_tol=1e-9)
    assert scores["pooled"] < 0 < scores["form 0"]

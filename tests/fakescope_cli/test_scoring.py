import math

import pytest

from fakescope_cli.scoring import label_probabilities, label_score, logsumexp, variant_score


def test_single_token_labels_reduce_to_the_papers_softmax() -> None:
    z_fake, z_real = 2.0, 0.5
    probs = label_probabilities({"fake": [[z_fake]], "real": [[z_real]]})
    expected = math.exp(z_fake) / (math.exp(z_fake) + math.exp(z_real))
    assert probs["fake"] == pytest.approx(expected, abs=1e-12)
    assert probs["fake"] + probs["real"] == pytest.approx(1.0, abs=1e-12)


def test_multi_token_word_sums_its_sub_token_logits() -> None:
    # "fa" + "ke" with logits 1.0 and 0.5 scores as one 1.5 logit.
    assert variant_score([1.0, 0.5]) == pytest.approx(1.5)
    split = label_probabilities({"fake": [[1.0, 0.5]], "real": [[1.0]]})
    whole = label_probabilities({"fake": [[1.5]], "real": [[1.0]]})
    assert split["fake"] == pytest.approx(whole["fake"], abs=1e-12)


def test_variants_pool_by_log_sum_exp() -> None:
    # Two spellings of "fake" ("fake", " Fake") with scores a and b count as log(e^a + e^b).
    assert label_score([[1.0], [2.0]]) == pytest.approx(math.log(math.e + math.e**2))
    probs = label_probabilities({"fake": [[0.0], [0.0]], "real": [[0.0]]})
    assert probs["fake"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("scale", [1e3, 1e5, 1e300])
def test_large_logits_stay_finite(scale: float) -> None:
    probs = label_probabilities({"fake": [[scale, scale]], "real": [[scale]]})
    assert probs["fake"] == pytest.approx(1.0)
    assert probs["real"] >= 0.0
    assert math.isfinite(probs["fake"])
    low = label_probabilities({"fake": [[-scale]], "real": [[-scale]]})
    assert low["fake"] == pytest.approx(0.5)


def test_minus_infinity_is_probability_zero() -> None:
    probs = label_probabilities({"fake": [[-math.inf]], "real": [[0.0]]})
    assert probs == {"fake": 0.0, "real": 1.0}


def test_logsumexp_matches_direct_sum() -> None:
    values = [0.1, -2.0, 3.5]
    assert logsumexp(values) == pytest.approx(math.log(sum(math.exp(v) for v in values)))


@pytest.mark.parametrize(
    "bad", [{}, {"fake": [[1.0]]}, {"fake": [], "real": [[1.0]]}, {"fake": [[]], "real": [[1.0]]}]
)
def test_malformed_inputs_are_rejected(bad) -> None:
    with pytest.raises(ValueError):
        label_probabilities(bad)

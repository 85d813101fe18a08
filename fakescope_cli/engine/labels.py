"""Surface variants of a label word and their token sequences."""

from __future__ import annotations

from collections.abc import Callable


def surface_forms(word: str) -> list[str]:
    """The spellings a model may use for ``word``: case variants, with and without a leading space."""
    base = word.strip()
    cases = dict.fromkeys([base, base.lower(), base.capitalize(), base.upper()])
    return [prefix + case for case in cases for prefix in ("", " ")]


def variant_token_sequences(word: str, tokenize: Callable[[str], list[int]]) -> list[tuple[int, ...]]:
    """Distinct token sequences of the word's surface forms, in a stable order."""
    seen: dict[tuple[int, ...], None] = {}
    for form in surface_forms(word):
        tokens = tuple(tokenize(form))
        if tokens:
            seen.setdefault(tokens, None)
    return list(seen)

"""Prompts scored together: several prompts, and the label continuations after each, in as few
``llama_decode`` calls as the context allows.

Each prompt gets one sequence per continuation (a multi-token label variant less its last
token). The prompt's cells belong to all of its sequences. The continuations are laid out as a
tree: a token that several continuations share at the same place (the leading space of two
variants, say) is one cell, belonging to the sequences of all of them, so each continuation
sees the prompt and its own tokens and nothing of the others or of other prompts. Text that
opens every prompt of a group (the chat template before the image) is decoded once, in the cells
of every sequence. One decode then does what took one decode per text run, image chunk and label
variant, and a small model's cost per decode is mostly reading its weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fakescope_cli.engine.native import NativeModel, Unit
from fakescope_cli.errors import InferenceError

Embedded = tuple[list[Unit], np.ndarray]  # a prompt's units and its input rows


@dataclass(frozen=True)
class PromptLogits:
    """Next-token logits after a prompt, and after each token of each continuation (one row per
    token, as the decode returned them: shared prefixes share rows, nothing is copied)."""

    last: np.ndarray
    forced: Mapping[tuple[int, ...], Sequence[np.ndarray]]


def shared_prefix(prompts: Sequence[Embedded]) -> int:
    """Positions of leading text all prompts share (none for a single prompt; never a whole
    prompt, whose last position is decoded for its own logits)."""
    if len(prompts) < 2:
        return 0
    first = prompts[0][0]
    limit = min(len(units) for units, _ in prompts) - 1
    count = 0
    while count < limit and first[count].kind == "text" and all(u[count] == first[count] for u, _ in prompts):
        count += 1
    return count


@dataclass(frozen=True)
class Node:
    """A continuation prefix: one cell after each prompt, in the sequences of the continuations
    (by index) that start with it."""

    prefix: tuple[int, ...]
    owners: tuple[int, ...]


def continuation_tree(continuations: Sequence[tuple[int, ...]]) -> list[Node]:
    """Every distinct prefix of the continuations, a parent before its children."""
    owners: dict[tuple[int, ...], list[int]] = {}
    for k, continuation in enumerate(continuations):
        for depth in range(1, len(continuation) + 1):
            owners.setdefault(continuation[:depth], []).append(k)
    return [Node(prefix, tuple(ks)) for prefix, ks in owners.items()]


class BatchedScorer:
    """Scores prompts on ``native`` in groups that fit its context and sequence limits."""

    def __init__(self, native: NativeModel, continuations: Iterable[Sequence[int]]):
        if native.embeddings is None:
            raise InferenceError("this model takes its prompts chunk by chunk")
        self.native = native
        self.continuations = [c for c in dict.fromkeys(tuple(int(t) for t in c) for c in continuations) if c]
        self.seqs_per_prompt = max(1, len(self.continuations))
        if self.seqs_per_prompt > native.n_seq_max:
            raise InferenceError(
                f"{self.seqs_per_prompt} label continuations need more sequences than loaded"
            )
        self.tree = continuation_tree(self.continuations)
        self._rows = native.embeddings.rows([n.prefix[-1] for n in self.tree]) if self.tree else None
        self._extra = len(self.tree)

    def cells(self, rows: int) -> int:
        """KV cells one prompt of ``rows`` positions needs with its continuations."""
        return rows + self._extra

    def score(self, prompts: Iterable[Embedded]) -> Iterator[PromptLogits]:
        """PromptLogits for each prompt, in order; prompts are taken (embedded) as groups fill."""
        native = self.native
        group: list[Embedded] = []
        used = 0  # KV cells the group holds
        for prompt in prompts:
            need = self.cells(len(prompt[1]))
            if need > native.n_ctx:
                raise InferenceError(f"prompt needs {need} positions but the context holds {native.n_ctx}")
            if group and (
                used + need > native.n_ctx or (len(group) + 1) * self.seqs_per_prompt > native.n_seq_max
            ):
                yield from self._decode(group)
                group, used = [], 0
            group.append(prompt)
            used += need
        if group:
            yield from self._decode(group)

    def _decode(self, group: list[Embedded]) -> list[PromptLogits]:
        native = self.native
        per = self.seqs_per_prompt
        shared = shared_prefix(group)
        parts: list[np.ndarray] = []
        pos: list[int] = []
        seqs: list[tuple[int, ...]] = []
        wanted: list[bool] = []
        if shared:
            parts.append(group[0][1][:shared])
            pos += range(shared)
            seqs += [tuple(range(len(group) * per))] * shared
            wanted += [False] * shared
        for index, (_, rows) in enumerate(group):
            n = len(rows)
            parts.append(rows[shared:])
            pos += range(shared, n)
            seqs += [tuple(range(index * per, (index + 1) * per))] * (n - shared)
            wanted += [False] * (n - shared - 1) + [True]
            if self._rows is not None:
                parts.append(self._rows)
                pos += [n + len(node.prefix) - 1 for node in self.tree]
                seqs += [tuple(index * per + k for k in node.owners) for node in self.tree]
                wanted += [True] * len(self.tree)
        native.clear()
        try:
            logits = iter(native.decode_embeddings(np.concatenate(parts), pos, seqs, wanted))
        finally:
            native.clear()
        out = []
        for _ in group:
            last = next(logits)
            after = {node.prefix: next(logits) for node in self.tree}
            forced = {
                c: tuple(after[c[:depth]] for depth in range(1, len(c) + 1)) for c in self.continuations
            }
            out.append(PromptLogits(last, forced))
        return out

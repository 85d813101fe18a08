"""A whitened DCT filter bank as the starting patch embedding of an Idefics3 (SigLIP) vision tower.

The decision experiment (``train/experiments/decision/RESULTS.md``) found that a ViT of
FakeScope-mini's shape learns real/fake on native tiles within CPU minutes only when its patch
embedding starts as an orthonormal 2-D DCT of each patch over Y, Cb and Cr, every coefficient
scaled to unit variance on training tiles: otherwise the DC and low frequencies, thousands of times
stronger, drown the single-pixel traces. The result is an ordinary convolution weight and bias,
so the exported projector runs in libmtmd unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# RGB -> (Y, Cb, Cr) as JPEG defines them (offsets dropped): decorrelates the channels first.
YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def dct_basis(patch: int) -> np.ndarray:
    """Orthonormal 2-D DCT-II basis images, (patch², patch, patch), low frequencies first."""
    c = np.array(
        [
            [
                math.sqrt((1 if k == 0 else 2) / patch) * math.cos(math.pi * (2 * n + 1) * k / (2 * patch))
                for n in range(patch)
            ]
            for k in range(patch)
        ]
    )
    pairs = sorted(((u, v) for u in range(patch) for v in range(patch)), key=lambda t: (t[0] + t[1], t[0]))
    return np.stack([np.outer(c[u], c[v]) for u, v in pairs])


def dct_filters(patch: int) -> np.ndarray:
    """(3·patch², 3, patch, patch): each channel of Y, Cb, Cr times each DCT basis image."""
    basis = dct_basis(patch)
    return np.einsum("kyx,cr->ckryx", basis, YCBCR).reshape(3 * patch * patch, 3, patch, patch)


@torch.no_grad()
def whiten_patch_embedding(conv: torch.nn.Conv2d, sample: torch.Tensor, seed: int = 0) -> int:
    """Set ``conv`` (kernel = stride = patch) to the DCT bank, each output scaled to unit variance
    and zero mean on ``sample`` (normalised pixels, (B, 3, H, W)); outputs beyond the bank's size
    keep a small seeded random start. Returns how many outputs are DCT filters."""
    patch = conv.kernel_size[0]
    if conv.bias is None:
        raise ValueError("the patch embedding has no bias to centre the coefficients with")
    bias = conv.bias
    filters = torch.from_numpy(dct_filters(patch)).to(conv.weight.dtype)
    n = min(conv.out_channels, len(filters))
    generator = torch.Generator().manual_seed(seed)
    conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * 0.02)
    conv.weight[:n] = filters[:n]
    bias.zero_()
    out = conv(sample)[:, :n]
    mean, std = out.mean(dim=(0, 2, 3)), out.std(dim=(0, 2, 3)).clamp_min(1e-4)
    conv.weight[:n] /= std[:, None, None, None]
    bias[:n] = -mean / std
    return n

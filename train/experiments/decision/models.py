"""The candidate towers, each in shapes a libmtmd graph can run (see RESULTS.md), each ending in
a mean-pooled linear head for this first classification stage.  Input: (B, 3, H, W), values
normalised as (x/255 - 0.5) / 0.5 (SigLIP's and gemma3n's image mean/std are both 0.5)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ----------------------------------------------------------------------------- (a) Idefics3 ViT
class ViTLayer(nn.Module):
    """Idefics3VisionEncoderLayer: pre-LN, MHA with biased q/k/v/o, MLP fc1-gelu(tanh)-fc2."""

    def __init__(self, d: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.ln1(x)
        q, k, v = (
            t(h).view(b, n, self.heads, d // self.heads).transpose(1, 2) for t in (self.q, self.k, self.v)
        )
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.o(a)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


# The DCT bank the vision stage uses (the same function the experiment ran with).
from train.model.vision.dct import YCBCR as YCC  # noqa: E402
from train.model.vision.dct import dct_basis  # noqa: E402


class IdeficsViT(nn.Module):
    """Conv patch embedding (kernel = stride = patch, with bias), learned position embeddings,
    pre-LN layers, post-LN; then mean pooling + linear head (instead of pixel shuffle + connector)."""

    def __init__(
        self,
        tile: int = 64,
        patch: int = 8,
        d: int = 192,
        layers: int = 4,
        heads: int = 3,
        mlp: int = 768,
        dct: bool = True,
    ) -> None:
        super().__init__()
        self.patch, self.d, self.dct = patch, d, dct
        self.embed = nn.Conv2d(3, d, patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, (tile // patch) ** 2, d) * 0.02)
        self.layers = nn.ModuleList(ViTLayer(d, heads, mlp) for _ in range(layers))
        self.post = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, 1)
        self.n_dct = 0
        if dct:
            basis = dct_basis(patch)  # (p², p, p)
            w = np.einsum("kyx,cr->ckryx", basis, YCC).reshape(3 * patch * patch, 3, patch, patch)
            self.n_dct = min(d, len(w))
            with torch.no_grad():
                self.embed.weight[: self.n_dct] = torch.from_numpy(w[: self.n_dct]).float()
                self.embed.weight[self.n_dct :].normal_(0, 0.02)
                bias = self.embed.bias
                assert bias is not None
                bias.zero_()

    @torch.no_grad()
    def whiten(self, sample: torch.Tensor) -> None:
        """Scale each DCT output to unit variance on training tiles (bias = -mean/std), so high
        frequencies are not drowned by DC and low frequencies."""
        if not self.dct:
            return
        y = self.embed(sample)[:, : self.n_dct]  # (B, n, h, w)
        mean = y.mean(dim=(0, 2, 3))
        std = y.std(dim=(0, 2, 3)).clamp_min(1e-4)
        self.embed.weight[: self.n_dct] /= std[:, None, None, None]
        bias = self.embed.bias
        assert bias is not None
        bias[: self.n_dct] = -mean / std

    def set_embed_trainable(self, on: bool) -> None:
        for p in self.embed.parameters():
            p.requires_grad_(on)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x).flatten(2).transpose(1, 2)
        if x.shape[1] != self.pos.shape[1]:
            raise ValueError("the ViT sees one 64 px tile at a time")
        x = x + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.post(x)  # (B, tokens, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(1)).squeeze(1)


# ----------------------------------------------------------------------------- (b) MobileNetV5
class RMSNorm2d(nn.Module):
    """mobilenetv5.cpp rms_norm_2d: RMS over channels at each position, weight only, eps 1e-6."""

    def __init__(self, c: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps) * self.weight[None, :, None, None]


def pad_same(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """pad_same_2d: TF 'SAME' padding, the extra pixel at the bottom/right."""
    ih, iw = x.shape[-2:]
    ph = max(0, (math.ceil(ih / s) - 1) * s + k - ih)
    pw = max(0, (math.ceil(iw / s) - 1) * s + k - iw)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")  # ggml_gelu


class EdgeResidual(nn.Module):
    """build_edge_residual: conv_exp 3x3 (stride 2: SAME pad) -> bn1 -> GELU -> conv_pwl 1x1 -> bn2
    (+ input when stride 1 and shapes match).  Tensors v.blk.S.B.{conv_exp,bn1,conv_pwl,bn2}."""

    def __init__(self, cin: int, exp: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv_exp = nn.Conv2d(cin, exp, 3, stride=stride, padding=0 if stride == 2 else 1, bias=False)
        self.bn1 = RMSNorm2d(exp)
        self.conv_pwl = nn.Conv2d(exp, cout, 1, bias=False)
        self.bn2 = RMSNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = pad_same(x, 3, 2) if self.stride == 2 else x
        h = self.bn2(self.conv_pwl(gelu(self.bn1(self.conv_exp(h)))))
        return h + x if h.shape == x.shape else h


class UIR(nn.Module):
    """build_inverted_residual: dw_start kxk (stride 1, norm, no act) -> pw_exp 1x1 -> norm ->
    GELU -> dw_mid kxk (the stride; SAME pad when 2) -> norm -> GELU -> pw_proj 1x1 -> norm ->
    layer_scale (+ input when shapes match)."""

    def __init__(self, cin: int, exp: int, cout: int, stride: int, k: int = 3) -> None:
        super().__init__()
        self.stride, self.k = stride, k
        self.dw_start = nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False)
        self.dw_start_bn = RMSNorm2d(cin)
        self.pw_exp = nn.Conv2d(cin, exp, 1, bias=False)
        self.pw_exp_bn = RMSNorm2d(exp)
        self.dw_mid = nn.Conv2d(
            exp, exp, k, stride=stride, padding=0 if stride == 2 else k // 2, groups=exp, bias=False
        )
        self.dw_mid_bn = RMSNorm2d(exp)
        self.pw_proj = nn.Conv2d(exp, cout, 1, bias=False)
        self.pw_proj_bn = RMSNorm2d(cout)
        self.layer_scale = nn.Parameter(torch.full((cout,), 1e-1 if cin == cout and stride == 1 else 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dw_start_bn(self.dw_start(x))
        h = gelu(self.pw_exp_bn(self.pw_exp(h)))
        h = pad_same(h, self.k, 2) if self.stride == 2 else h
        h = gelu(self.dw_mid_bn(self.dw_mid(h)))
        h = self.pw_proj_bn(self.pw_proj(h)) * self.layer_scale[None, :, None, None]
        return h + x if h.shape == x.shape else h


class MobileNetV5Tiny(nn.Module):
    """Stem conv 3x3 stride 2 (bias, norm, GELU) -> stage 0: edge residual blocks -> stages 1, 2:
    UIR blocks (the first block of every stage has stride 2, as in mobilenetv5.cpp) -> MSFA
    (fewer than 4 stages: fed by the last block only; ffn pw_exp/pw_proj 1x1 + norms, avg-pool to
    16x16 only when larger, norm) -> here: mean pool + linear head.  Output stride 16:
    a 128 px crop gives an 8x8 map = 64 tokens."""

    def __init__(self, stem: int = 48, n_embd: int = 128) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, stem, 3, stride=2, padding=0, bias=True)
        self.stem_bn = RMSNorm2d(stem)
        self.blocks = nn.ModuleList(
            [
                EdgeResidual(stem, 192, 64, 2),
                EdgeResidual(64, 256, 64, 1),  # stage 0
                UIR(64, 256, 96, 2),
                UIR(96, 384, 96, 1),  # stage 1
                UIR(96, 384, 128, 2),
                UIR(128, 512, 128, 1),  # stage 2
            ]
        )
        self.msfa_exp = nn.Conv2d(128, 256, 1, bias=False)
        self.msfa_exp_bn = RMSNorm2d(256)
        self.msfa_proj = nn.Conv2d(256, n_embd, 1, bias=False)
        self.msfa_proj_bn = RMSNorm2d(n_embd)
        self.msfa_norm = RMSNorm2d(n_embd)
        self.head = nn.Linear(n_embd, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = gelu(self.stem_bn(self.stem(pad_same(x, 3, 2))))
        for b in self.blocks:
            x = b(x)
        x = gelu(self.msfa_exp_bn(self.msfa_exp(x)))
        x = self.msfa_proj_bn(self.msfa_proj(x))
        if x.shape[-1] > 16:
            s = x.shape[-1] // 16
            x = F.avg_pool2d(x, s)
        return self.msfa_norm(x)  # (B, n_embd, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3))).squeeze(1)


# ----------------------------------------------------------------------------- (c) plain CNN
class SmallCNN(nn.Module):
    """FIELD-NOTES reference: 32, 32 channels of 3x3 at full resolution, then strided."""

    def __init__(self) -> None:
        super().__init__()

        def cbr(cin: int, cout: int, s: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, stride=s, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        self.body = nn.Sequential(
            *cbr(3, 32, 1),
            *cbr(32, 32, 1),
            *cbr(32, 64, 2),
            *cbr(64, 64, 1),
            *cbr(64, 128, 2),
            *cbr(128, 128, 2),
        )
        self.head = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3))).squeeze(1)


def build(name: str) -> nn.Module:
    if name == "vit-dct-p8":
        return IdeficsViT(patch=8, d=192, layers=4, heads=3, mlp=768, dct=True)
    if name == "vit-dct-p4":
        return IdeficsViT(patch=4, d=192, layers=4, heads=3, mlp=768, dct=True)
    if name == "vit-rand-p8":
        return IdeficsViT(patch=8, d=192, layers=4, heads=3, mlp=768, dct=False)
    if name == "mnv5-tiny":
        return MobileNetV5Tiny()
    if name == "cnn-ref":
        return SmallCNN()
    raise KeyError(name)


def count_flops(model: nn.Module, size: int) -> int:
    """Multiply-adds x 2 of convolutions, linears and attention matmuls for one size x size input."""
    total = 0

    def conv_hook(m: nn.Conv2d, _i: tuple, o: torch.Tensor) -> None:
        nonlocal total
        total += 2 * o.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m: nn.Linear, i: tuple, o: torch.Tensor) -> None:
        nonlocal total
        total += 2 * o.numel() * m.in_features

    def attn_hook(m: ViTLayer, i: tuple, _o: torch.Tensor) -> None:
        nonlocal total
        b, n, d = i[0].shape
        total += 2 * 2 * b * n * n * d

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
        elif isinstance(m, ViTLayer):
            hooks.append(m.register_forward_hook(attn_hook))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total

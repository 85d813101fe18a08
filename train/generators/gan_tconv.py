"""``gan-tconv``: a DCGAN-like generator whose every x2 step is a learned transposed convolution
(kernel 4, stride 2), the classic source of checkerboard artefacts."""

from __future__ import annotations

from torch import nn

from train.generators.gan import Gan


def transposed_conv(channels_in: int, channels_out: int) -> nn.Module:
    return nn.ConvTranspose2d(channels_in, channels_out, 4, stride=2, padding=1)


class GanTconv(Gan):
    name = "gan-tconv"
    upsample = staticmethod(transposed_conv)


FAMILY = GanTconv

"""``gan-pixelshuffle``: the same GAN, but each x2 step is a 3x3 convolution to four times the
channels followed by a pixel shuffle (sub-pixel convolution): a 2x2 phase pattern rather than
the overlapping-kernel checkerboard of a transposed convolution. Keep one of the two GANs out of
detector training for the cross-generator test."""

from __future__ import annotations

from torch import nn

from train.generators.gan import Gan


def pixel_shuffle(channels_in: int, channels_out: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(channels_in, 4 * channels_out, 3, padding=1), nn.PixelShuffle(2))


class GanPixelShuffle(Gan):
    name = "gan-pixelshuffle"
    upsample = staticmethod(pixel_shuffle)


FAMILY = GanPixelShuffle

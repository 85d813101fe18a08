"""The generator families by name (no torch here: ``synth-list`` and ``--help`` stay fast)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from fakescope_cli.errors import ConfigError


@dataclass(frozen=True)
class FamilySpec:
    """One family: where its code lives, the trace it leaves and its (untested) H100 defaults."""

    name: str
    module: str
    trace: str
    needs_source: bool
    default_width: int
    default_steps: int
    default_batch: int


# Defaults: sized for a few minutes per family on one H100 at 128x128 (estimates, never run).
FAMILIES: dict[str, FamilySpec] = {
    spec.name: spec
    for spec in (
        FamilySpec(
            "ddpm",
            "train.generators.ddpm",
            "small UNet denoiser (nearest-upsample + conv decoder path), DDIM sampling: "
            "diffusion's smooth low-noise spectrum",
            needs_source=False,
            default_width=64,
            default_steps=6000,
            default_batch=64,
        ),
        FamilySpec(
            "gan-tconv",
            "train.generators.gan_tconv",
            "DCGAN-like generator, every x2 step a learned transposed convolution: checkerboard "
            "peaks at the upsampling periods",
            needs_source=False,
            default_width=64,
            default_steps=8000,
            default_batch=64,
        ),
        FamilySpec(
            "gan-pixelshuffle",
            "train.generators.gan_pixelshuffle",
            "GAN generator upsampling by conv + pixel shuffle (sub-pixel convolution): a 2x2 "
            "phase pattern, not a transposed-conv checkerboard",
            needs_source=False,
            default_width=64,
            default_steps=8000,
            default_batch=64,
        ),
        FamilySpec(
            "ae-resynth",
            "train.generators.ae_resynth",
            "autoencoder with a 1/4-resolution 4-channel latent; real crops re-synthesised by its "
            "decoder: the trace latent-diffusion decoders leave",
            needs_source=True,
            default_width=64,
            default_steps=5000,
            default_batch=32,
        ),
    )
}


def family_spec(name: str) -> FamilySpec:
    """The spec for ``name``; an unknown name is an error listing the known ones."""
    spec = FAMILIES.get(name)
    if spec is None:
        raise ConfigError(f"unknown generator family '{name}'; known: {', '.join(FAMILIES)}")
    return spec


def load_family(name: str) -> Any:
    """The family's class (a ``train.generators.family.Family`` subclass), imported on first use."""
    return importlib.import_module(family_spec(name).module).FAMILY

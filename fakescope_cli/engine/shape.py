"""Projector shapes libmtmd would feed differently from the way the model was trained: refused.

Two are known (both found by running them; see the README's "The view"):

- An Idefics3 projector whose longest edge equals its tile. transformers' processor gives such an
  image as one global image; libmtmd always cuts a grid (here 1 x 1) and adds an overview, so the
  language model would read twice the image tokens in a layout it never saw.
- An Idefics3 vocabulary without single tokens for the text libmtmd looks up by exact piece
  around the image tiles (``"\\n"``, ``"\\n\\n"``, ``<fake_token_around_image>``, ``<global-img>``).
  libmtmd then puts an empty token id into the prompt, and llama.cpp rejects the whole batch
  ("all entries in the batch must have the same content types").

And for a crops-view profile: the crop must reach the vision tower as it is, so its size must be
the size the projector's preprocessing keeps without resizing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fakescope_cli.errors import ModelFileError
from fakescope_cli.gguf_header import read_header
from fakescope_cli.profile import ModelProfile

IDEFICS3 = "idefics3"
IDEFICS3_LOOKUPS = ("\n", "\n\n", "<fake_token_around_image>", "<global-img>")
# Projectors whose preprocessing resizes every image to clip.vision.image_size (a fixed square).
FIXED_SIZE = {"mlp", "gemma3", "gemma3nv"}


def _int(metadata: dict[str, object], key: str) -> int | None:
    value = metadata.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def kept_size(projector: str, metadata: dict[str, object]) -> int | None:
    """The square image size this projector's preprocessing passes on unresized, if there is one."""
    if projector == IDEFICS3:
        return _int(metadata, "clip.vision.preproc_image_size") or _int(metadata, "clip.vision.image_size")
    if projector in FIXED_SIZE:
        return _int(metadata, "clip.vision.image_size")
    return None


def check_vision_shape(mmproj: Path, profile: ModelProfile, tokenize: Callable[..., list[int]]) -> None:
    """Raise :class:`ModelFileError` naming ``mmproj`` when libmtmd cannot run this pair as trained."""
    metadata = read_header(mmproj).metadata
    projector = str(metadata.get("clip.projector_type") or metadata.get("clip.vision.projector_type") or "")
    if projector == IDEFICS3:
        tile = _int(metadata, "clip.vision.image_size")
        longest = _int(metadata, "clip.vision.preproc_image_size")
        if tile is not None and longest is not None and longest <= tile:
            raise ModelFileError(
                f"{mmproj}: this Idefics3 projector's longest edge ({longest} px) is not above its tile "
                f"({tile} px); libmtmd would add a 1x1 grid and an overview that transformers never "
                "showed the model. Export it with a longest edge of at least twice the tile."
            )
        missing = [text for text in IDEFICS3_LOOKUPS if len(tokenize(text, special=True)) != 1]
        if missing:
            raise ModelFileError(
                f"{mmproj}: the tokenizer has no single token for {', '.join(repr(t) for t in missing)}, "
                "which libmtmd's Idefics3 image layout needs; llama.cpp would reject every prompt. "
                "Use a tokenizer that has them (SmolVLM's does)."
            )
    if profile.is_crops:
        size = kept_size(projector, metadata)
        if size is not None and size != profile.crop_size:
            raise ModelFileError(
                f"{mmproj}: the profile's {profile.crop_size} px crops would be resized to {size} px by the "
                f"{projector} projector's preprocessing; export with crop_size = {size}."
            )

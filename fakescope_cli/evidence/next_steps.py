"""What to check next: verification steps that follow from what was measured in one file (the
FakeScope paper's "actionable strategies", grounded in the evidence engine's findings and the
model's score). Written as suggestions for a person, never as conclusions."""

from __future__ import annotations

from collections.abc import Sequence

from fakescope_cli.evidence.c2pa_check import plain_failure
from fakescope_cli.evidence.items import EvidenceItem
from fakescope_cli.evidence.text import short

EARLIEST_COPY = (
    "Look for the earliest copy of the picture (a reverse image search, the first account that "
    "posted it) and compare it with other photographs of the same scene or event."
)


def _value(item: EvidenceItem, key: str) -> object:
    return item.value.get(key) if isinstance(item.value, dict) else None


def next_steps(items: Sequence[EvidenceItem], p_fake: float | None, threshold: float = 0.5) -> list[str]:
    """Steps in order of what they would settle first; at most seven."""
    by_id: dict[str, EvidenceItem] = {}
    for item in items:
        by_id.setdefault(item.id, item)
    steps: list[str] = []
    manifest = by_id.get("c2pa.manifest")
    if manifest is not None:
        failures = _value(manifest, "failures") or []
        signer = str(_value(manifest, "signer") or "unknown signer")
        if failures or _value(manifest, "state") not in ("Valid", "Trusted"):
            codes = [str(c) for c in failures] if isinstance(failures, list) else []
            why = (
                plain_failure(codes) or "the validation failed (" + (", ".join(codes[:3]) or "no code") + ")"
            )
            steps.append(
                f"The Content Credentials do not validate: {why}. Ask the source for the signed "
                "original and compare the two."
            )
        elif not _value(manifest, "trusted"):
            steps.append(
                f"Check who signed the Content Credentials ({short(signer, 80)}): a valid signature "
                "from an unknown signer says only that the file is unchanged since that signer "
                "signed it. Compare the certificate with the publisher's or the camera maker's."
            )
    declared = [i for i in items if i.id == "generator.declared"]
    for item in declared[:2]:
        generator = str(_value(item, "generator") or "a generator")
        steps.append(
            f"Quote the declaration: the file says it was made with {short(generator, 60)} "
            f"({short(item.location or 'metadata', 80)}). Ask the source whether they made it "
            "with that tool; such metadata is easy to add to, or remove from, any file."
        )
    if "c2pa.ai_source" in by_id and not declared:
        steps.append(
            "The signed Content Credentials declare an AI source: quote the manifest's "
            "digitalSourceType and claim generator when reporting."
        )
    if "exif.absent" in by_id:
        steps.append(
            "Ask the source for the original file, as it came off the camera or phone: re-saving, "
            "screenshots and messaging apps strip EXIF and weaken the pixel traces the model reads."
        )
    elif "exif.camera" in by_id:
        steps.append(
            "Compare the camera EXIF (make, model, capture time, place) with what is claimed about "
            "the picture, and ask for other shots from the same camera and moment; EXIF can be "
            "forged or copied from another file."
        )
    if "exif.software_editor" in by_id or "c2pa.edits" in by_id:
        steps.append("The file records editing: ask what was changed, and for the version before the edit.")
    strong = any(i.strength == "strong" for i in items)
    if p_fake is not None and not strong:
        if p_fake >= threshold:
            steps.append(
                "Only the model's score points to generation: treat it as a reason to look closer, "
                "not as a finding. " + EARLIEST_COPY
            )
        else:
            steps.append(
                "A low p(fake) does not show that the picture is authentic: the model knows only "
                "the generators it was trained on. " + EARLIEST_COPY
            )
    elif not steps or EARLIEST_COPY not in " ".join(steps):
        steps.append(EARLIEST_COPY)
    return steps[:7]

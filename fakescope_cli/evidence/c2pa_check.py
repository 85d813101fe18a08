"""C2PA Content Credentials, read and validated with the official c2pa-python bindings.

Reading is offline: remote manifests and OCSP are never fetched. The signer is checked against
trust anchors only when the user supplies them (``--c2pa-trust``); otherwise a good signature
reads as "valid, signer not on a trust list".
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from fakescope_cli.evidence.items import (
    MODERATE,
    NONE,
    POINTS_AI,
    POINTS_CAMERA,
    POINTS_EDITED,
    POINTS_NEUTRAL,
    STRONG,
    WEAK,
    EvidenceItem,
)
from fakescope_cli.evidence.text import clean_text, short

log = logging.getLogger(__name__)

MIME_TYPES = {
    "MPO": "image/jpeg",
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
}
AI_SOURCES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
CAPTURE_SOURCES = ("digitalCapture", "computationalCapture")
EDIT_ACTIONS = (
    "c2pa.edited",
    "c2pa.filtered",
    "c2pa.color_adjustments",
    "c2pa.cropped",
    "c2pa.resized",
    "c2pa.drawing",
    "c2pa.placed",
    "c2pa.removed",
    "c2pa.transcoded",
    "c2pa.converted",
)
LIMITS = (
    "A valid signature proves the manifest and the pixels are unchanged since signing by the holder "
    "of that certificate, not that its statements are true. Most platforms strip Content Credentials."
)


# What a failed validation means, in words a reader of the report needs (c2pa-rs status codes).
PLAIN_FAILURES = {
    "assertion.dataHash.mismatch": "the pixels were changed after this file was signed",
    "assertion.boxesHash.mismatch": "the file was changed after it was signed",
    "assertion.bmffHash.mismatch": "the file was changed after it was signed",
    "claimSignature.mismatch": "the signature does not match the manifest: it was altered",
    "claimSignature.missing": "the manifest carries no signature",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.invalid": "the signing certificate is not valid",
    "assertion.hashedURI.mismatch": "a part of the manifest was changed after signing",
}


def plain_failure(codes: list[str]) -> str | None:
    """The first failure code a person can read as a sentence, if any."""
    for code in codes:
        for known, words in PLAIN_FAILURES.items():
            if known in code:
                return words
    return None


# The manifest store's JUMBF description box: "jumd", then the store's type UUID (c2pa
# 0011-0010-8000-00AA00389B71). Every embedded store starts with it, in any container.
STORE_MARKER = b"jumd" + bytes.fromhex("6332706100110010800000aa00389b71")


def has_store_marker(data: bytes) -> bool:
    """Whether the bytes hold a C2PA manifest store's JUMBF header anywhere."""
    return STORE_MARKER in data


def _context(trust_anchors: str | None) -> Any:
    import c2pa

    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context.from_dict(settings)


def read_manifest_store(
    data: bytes, image_format: str, trust_anchors: str | None = None
) -> dict[str, Any] | None:
    """The manifest store as c2pa-python reports it, None when the file has none.

    Raises ValueError when a store is there but cannot be read."""
    import c2pa

    mime = MIME_TYPES.get(image_format)
    if mime is None:
        return None
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, _context(trust_anchors))
        if reader is None:
            return None
        with reader:
            store: dict[str, Any] = json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise ValueError(clean_text(str(exc), 300)) from None
    return store


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for assertion in manifest.get("assertions", []) or []:
        if isinstance(assertion, dict) and str(assertion.get("label", "")).startswith("c2pa.actions"):
            data = assertion.get("data") or {}
            actions.extend(a for a in data.get("actions", []) if isinstance(a, dict))
    return actions[:200]


def _generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        return clean_text(f"{info[0].get('name', '')} {info[0].get('version', '')}".strip(), 200)
    return clean_text(str(manifest.get("claim_generator", "unknown")), 200)


def c2pa_findings(store: dict[str, Any], trust_list: bool = False) -> list[EvidenceItem]:
    """Findings from a manifest store: signature state, claim generator, actions, ingredients.

    A declared AI source counts as strong under any valid signature (a declaration against the
    signer's interest); a declared camera capture only under a signer on the user's trust list,
    since a capture claim is what a forger would sign."""
    manifests = store.get("manifests") or {}
    active = manifests.get(store.get("active_manifest"), {}) if isinstance(manifests, dict) else {}
    state = str(store.get("validation_state", "Invalid"))
    failures = [
        clean_text(str(status.get("code")), 100)
        for status in store.get("validation_status", []) or []
        if isinstance(status, dict) and status.get("code") != "signingCredential.untrusted"
    ]
    signed_ok = state in ("Valid", "Trusted") and not failures
    trusted = state == "Trusted" and not failures
    signature = active.get("signature_info") or {}
    signer = clean_text(f"{signature.get('common_name', '')} / {signature.get('issuer', '')}", 200)
    generator = _generator(active)
    if trusted:
        state_text = "signature valid, signer on the trust list"
    elif signed_ok:
        where = "the given trust list" if trust_list else "a trust list (none was given)"
        state_text = f"signature valid, signer not on {where}"
    else:
        words = plain_failure(failures)
        state_text = (
            f"{words}; " if words else ""
        ) + f"validation FAILED ({', '.join(failures[:5]) or state})"
    items = [
        EvidenceItem(
            "c2pa.manifest",
            "provenance",
            f"Content Credentials (C2PA) by {short(generator, 80)}: {state_text}",
            {
                "state": state,
                "trusted": trusted,
                "failures": failures,
                "claim_generator": generator,
                "signer": signer,
            },
            points_to=POINTS_NEUTRAL if signed_ok else POINTS_EDITED,
            strength=NONE if signed_ok else MODERATE,
            location="C2PA manifest store (JUMBF)",
            limits=LIMITS,
        )
    ]
    actions = _actions(active)
    sources = [str(a.get("digitalSourceType", "")).rsplit("/", 1)[-1] for a in actions]
    ingredients = [i for i in active.get("ingredients", []) or [] if isinstance(i, dict)][:50]
    # An edited AI image keeps its origin in an ingredient's own manifest.
    for ingredient in ingredients:
        inner = manifests.get(ingredient.get("active_manifest")) if isinstance(manifests, dict) else None
        if isinstance(inner, dict):
            sources += [str(a.get("digitalSourceType", "")).rsplit("/", 1)[-1] for a in _actions(inner)]
    ai = [clean_text(s, 80) for s in dict.fromkeys(sources) if s in AI_SOURCES]
    edits = sorted({str(a.get("action")) for a in actions if a.get("action") in EDIT_ACTIONS})
    if ai:
        items.append(
            EvidenceItem(
                "c2pa.ai_source",
                "provenance",
                f"C2PA actions declare a generative-AI source ({ai[0]})"
                + ("" if signed_ok else "; the signature does not validate"),
                {"digital_source_types": ai, "signature_valid": signed_ok, "claim_generator": generator},
                points_to=POINTS_AI,
                strength=STRONG if signed_ok else MODERATE,
                location="C2PA c2pa.actions assertion",
                limits=LIMITS,
            )
        )
    elif any(s in CAPTURE_SOURCES for s in sources):
        items.append(
            EvidenceItem(
                "c2pa.capture_source",
                "provenance",
                "C2PA actions declare a camera capture"
                + (
                    ", signed by a trusted signer"
                    if trusted
                    else ", validly signed by a signer not on the trust list (anyone can sign such a claim)"
                    if signed_ok
                    else "; the signature does not validate"
                )
                + (f", then edits: {', '.join(edits)}" if edits else ""),
                {
                    "signature_valid": signed_ok,
                    "trusted": trusted,
                    "edits": edits,
                    "claim_generator": generator,
                },
                points_to=POINTS_CAMERA,
                strength=STRONG if trusted and not edits else WEAK,
                location="C2PA c2pa.actions assertion",
                limits=LIMITS,
            )
        )
    if edits:
        items.append(
            EvidenceItem(
                "c2pa.edits",
                "provenance",
                f"C2PA records edits: {', '.join(edits)}",
                edits,
                points_to=POINTS_EDITED,
                strength=MODERATE,
                location="C2PA c2pa.actions assertion",
                limits=LIMITS,
            )
        )
    if ingredients:
        titles = [clean_text(str(i.get("title", "untitled")), 120) for i in ingredients]
        items.append(
            EvidenceItem(
                "c2pa.ingredients",
                "provenance",
                f"{len(titles)} ingredient(s): {short(', '.join(titles))}",
                titles,
                location="C2PA ingredients",
                limits=LIMITS,
            )
        )
    return items


def c2pa_absent() -> EvidenceItem:
    return EvidenceItem(
        "c2pa.absent",
        "provenance",
        "no Content Credentials (C2PA) in the file",
        False,
        location="whole file",
        limits="Most cameras, editors and platforms write or keep none: absence proves nothing.",
    )

"""Generator metadata: what image generators and their front ends leave in the file.

Recognises AUTOMATIC1111 / Forge `parameters`, ComfyUI `prompt` / `workflow`, InvokeAI,
NovelAI, Fooocus and Midjourney text (AUTOMATIC1111's also in a JPEG comment), and generator names
in software fields (EXIF Software, XMP CreatorTool and history). Reports the generator, the model
and seed, and for AUTOMATIC1111 text what an investigator quotes: prompt, negative prompt, steps,
sampler, CFG scale, size and model hash (cleaned and capped; escaped where they are shown). A
value that names an editor (Photoshop with Firefly's Generative Fill, an AI plugin for GIMP) is
read as the editor: its generative features edit part of a picture.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fakescope_cli.evidence.exif import EDITORS
from fakescope_cli.evidence.items import POINTS_AI, STRONG, EvidenceItem
from fakescope_cli.evidence.text import clean_text, short

LIMITS = (
    "Generator metadata is a declaration written by the tool that saved the file; it is trivially "
    "removed, and could be added to any image. Its absence proves nothing."
)

# Generator names as they appear in software-like fields (EXIF Software/Make/Model, XMP CreatorTool,
# history agents, PNG Software). Free-text fields are not searched for names: a prompt that mentions
# "Midjourney" is not a declaration. Names that are also ordinary words or other products need their
# maker or a version: "Firefly 8SE" is an action camera, "Gemini PDA" a phone, "imagen" Spanish.
SOFTWARE_NAMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"midjourney", re.I), "Midjourney"),
    (re.compile(r"\bdall.{0,3}e\b|openai|chatgpt|gpt-4o|gpt-image", re.I), "OpenAI (DALL·E / GPT image)"),
    (re.compile(r"\badobe[\s_-]?firefly\b|\bfirefly[\s_-]image[\s_-]?\d", re.I), "Adobe Firefly"),
    (
        re.compile(
            r"\bgoogle[\s_-]?(gemini|imagen)\b|\b(gemini|imagen)[\s_-]?\d(\.\d+)?\b|made with google ai|"
            r"nano[\s_-]?banana",
            re.I,
        ),
        "Google Imagen / Gemini",
    ),
    (re.compile(r"novelai", re.I), "NovelAI"),
    (
        re.compile(r"stable[\s-]?diffusion|sdxl|automatic1111|stable-diffusion-webui", re.I),
        "Stable Diffusion",
    ),
    (re.compile(r"comfyui", re.I), "ComfyUI"),
    (re.compile(r"invokeai", re.I), "InvokeAI"),
    (re.compile(r"fooocus", re.I), "Fooocus"),
    (re.compile(r"leonardo\.?ai", re.I), "Leonardo.Ai"),
    (re.compile(r"\bideogram\b", re.I), "Ideogram"),
    (re.compile(r"\bflux[.\- ]?1\b|\bflux[.\- ](dev|pro|schnell|kontext)\b|black forest labs", re.I), "FLUX"),
    (re.compile(r"bing image creator|microsoft designer|copilot designer", re.I), "Microsoft Designer"),
    (re.compile(r"\brunwayml\b|\brunway (gen|frames)", re.I), "Runway"),
    (re.compile(r"dreamstudio|stability\.?ai", re.I), "Stability AI"),
]

_A1111_KEYS = re.compile(r"(?:^|, )([A-Za-z][A-Za-z0-9 _]*?): ")
_MIDJOURNEY_JOB = re.compile(r"\bJob ID:\s*[0-9a-f]{8}-", re.I)


@dataclass(frozen=True)
class Declaration:
    generator: str
    location: str
    model: str | None = None
    seed: str | None = None
    detail: str | None = None
    parameters: dict[str, str] | None = None  # prompt, negative prompt, steps ... where written


# AUTOMATIC1111 settings worth quoting, and the names they get in the finding's value.
A1111_SETTINGS = {
    "Steps": "steps",
    "Sampler": "sampler",
    "CFG scale": "cfg_scale",
    "Seed": "seed",
    "Size": "size",
    "Model hash": "model_hash",
    "Model": "model",
}
MAX_PROMPT = 2000  # characters of a prompt kept in the finding (escaped where shown)


def a1111_parameters(text: str) -> dict[str, str]:
    """Prompt, negative prompt and settings of an AUTOMATIC1111-style ``parameters`` text: the
    prompt lines, then ``Negative prompt: ...`` lines, then one ``Steps: 20, Sampler: ...`` line."""
    lines = text.strip().splitlines()
    if not lines:
        return {}
    settings_line = lines[-1] if re.search(r"\bSteps: ", lines[-1]) else ""
    body = lines[:-1] if settings_line else lines
    fields: dict[str, str] = {}
    for part in re.split(r",\s(?=[A-Za-z][A-Za-z0-9 _]*: )", settings_line):
        key, sep, value = part.partition(": ")
        if sep:
            fields[key.strip()] = value.strip()
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].lstrip()
        (negative if in_negative else prompt).append(line)
    out = {"prompt": "\n".join(prompt).strip(), "negative_prompt": "\n".join(negative).strip()}
    out = {k: clean_text(v, MAX_PROMPT * 4)[:MAX_PROMPT] for k, v in out.items() if v}
    for key, name in A1111_SETTINGS.items():
        if fields.get(key):
            out[name] = short(clean_text(fields[key], 400), 200)
    if fields.get("Version"):
        out["version"] = short(clean_text(fields["Version"], 400), 60)
    return out


def _a1111(text: str) -> tuple[str | None, str | None, str, dict[str, str]]:
    """Model, seed, a generator name and the quotable parameters of an AUTOMATIC1111 text."""
    parameters = a1111_parameters(text)
    version = parameters.get("version", "")
    name = "Stable Diffusion (Forge)" if version.startswith("f") else "Stable Diffusion (AUTOMATIC1111)"
    return parameters.get("model"), parameters.get("seed"), name, parameters


def _looks_a1111(text: str) -> bool:
    return "Steps:" in text or "Sampler:" in text or "Seed:" in text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _comfy(graph: Any) -> tuple[str | None, str | None]:
    """Checkpoint name and seed from a ComfyUI prompt graph (node id -> {class_type, inputs})."""
    model = seed = None
    if isinstance(graph, dict):
        for node in list(graph.values())[:2000]:
            if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
                continue
            inputs = node["inputs"]
            if model is None and isinstance(inputs.get("ckpt_name") or inputs.get("unet_name"), str):
                model = inputs.get("ckpt_name") or inputs.get("unet_name")
            for key in ("seed", "noise_seed"):
                if seed is None and isinstance(inputs.get(key), int):
                    seed = str(inputs[key])
    return model, seed


def _from_text_chunk(key: str, text: str, location: str) -> Declaration | None:
    lowered = key.lower()
    if lowered in ("parameters", "usercomment"):
        data = _json(text)
        if isinstance(data, dict):  # Fooocus writes JSON here
            model = data.get("base_model") or data.get("Base Model")
            seed = data.get("seed") or data.get("Seed")
            return Declaration("Fooocus", location, _str(model), _str(seed))
        if _looks_a1111(text):
            model, seed, name, parameters = _a1111(text)
            return Declaration(name, location, _str(model), _str(seed), parameters=parameters)
        return None
    if lowered == "fooocus_scheme":
        return Declaration("Fooocus", location)
    if lowered in ("prompt", "workflow"):
        graph = _json(text)
        if isinstance(graph, dict):
            model, seed = _comfy(graph) if lowered == "prompt" else (None, None)
            return Declaration("ComfyUI", location, _str(model), _str(seed))
        return None
    if lowered in ("invokeai_metadata", "invokeai_graph", "sd-metadata", "dream"):
        data = _json(text)
        model = seed = None
        if isinstance(data, dict):
            raw_model = data.get("model")
            model = _str(raw_model.get("name") if isinstance(raw_model, dict) else raw_model)
            seed = _str(data.get("seed"))
        return Declaration("InvokeAI", location, model, seed)
    if lowered == "comment" and text.lstrip().startswith("{"):
        data = _json(text)
        if isinstance(data, dict) and ("n_samples" in data or "uc" in data) and "seed" in data:
            return Declaration("NovelAI", location, None, _str(data.get("seed")))
    elif lowered == "comment" and re.search(r"\bSteps: \d", text):
        # AUTOMATIC1111's parameters in a JPEG comment (as some front ends and converters save them)
        model, seed, name, parameters = _a1111(text)
        return Declaration(name, location, _str(model), _str(seed), parameters=parameters)
    if _MIDJOURNEY_JOB.search(text):
        return Declaration("Midjourney", location, detail="Midjourney job id in the description")
    return None


def _str(value: Any) -> str | None:
    """A value parsed out of JSON or text: JSON escapes can smuggle control characters back in."""
    return None if value is None else short(clean_text(str(value), 400), 200)


def find_declarations(
    texts: Iterable[tuple[str, str, str]], software: Iterable[tuple[str, str]]
) -> list[Declaration]:
    """``texts``: (key, text, location) of text chunks and comments; ``software``: (value, location)
    of fields that name the program that made the file."""
    found: list[Declaration] = []
    for key, text, location in texts:
        declaration = _from_text_chunk(key, text, location)
        if declaration is None and key.lower() in ("software", "source"):
            declaration = _from_software(text, location)
        if declaration is not None:
            found.append(declaration)
    for value, location in software:
        declaration = _from_software(value, location)
        if declaration is not None:
            found.append(declaration)
    return found


# Editors whose generative features (Photoshop's Generative Fill, which runs Firefly; AI plugins for
# GIMP or Krita) change part of an image: a value naming one is read as that editor, not a generator.
_EDITOR = re.compile(rf"\b(?:{EDITORS.pattern}|illustrator|adobe express)\b", re.I)


def _from_software(value: str, location: str) -> Declaration | None:
    if _EDITOR.search(value):
        return None
    for pattern, name in SOFTWARE_NAMES:
        if pattern.search(value):
            return Declaration(name, location, detail=_str(value))
    return None


def declaration_items(declarations: list[Declaration]) -> list[EvidenceItem]:
    """One finding per generator, naming every place in the file that declared it."""
    by_generator: dict[str, list[Declaration]] = {}
    for declaration in declarations:
        by_generator.setdefault(declaration.generator, []).append(declaration)
    items = []
    for generator, found in by_generator.items():
        model = next((d.model for d in found if d.model), None)
        seed = next((d.seed for d in found if d.seed), None)
        detail = next((d.detail for d in found if d.detail), None)
        parameters = next((d.parameters for d in found if d.parameters), None) or {}
        quoted = [("model", model), ("seed", seed)]
        quoted += [(k, parameters.get(k)) for k in ("steps", "sampler", "cfg_scale", "size")]
        extras = ", ".join(f"{k.replace('_', ' ')} {short(v, 60)}" for k, v in quoted if v)
        if parameters.get("prompt"):
            extras += f"; prompt '{short(parameters['prompt'], 120)}'"
        if not extras and detail:
            extras = f"'{short(detail, 80)}'"
        items.append(
            EvidenceItem(
                "generator.declared",
                "generator",
                f"generator metadata: {generator}" + (f" ({extras})" if extras else ""),
                {
                    "generator": generator,
                    "model": model,
                    "seed": seed,
                    "detail": detail,
                    "parameters": parameters or None,
                },
                points_to=POINTS_AI,
                strength=STRONG,
                location="; ".join(dict.fromkeys(d.location for d in found)),
                limits=LIMITS,
            )
        )
    return items

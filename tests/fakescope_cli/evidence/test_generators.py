"""Generator metadata: positive and negative cases for each front end, in each carrier."""

from __future__ import annotations

import json

import pytest

from fakescope_cli.evidence.items import POINTS_AI, STRONG
from tests.fakescope_cli.evidence.builders import (
    camera_exif,
    insert_jpeg_segment,
    jpeg_bytes,
    jpeg_with_xmp,
    png_bytes,
    xmp_description,
    xmp_packet,
)
from tests.fakescope_cli.evidence.conftest import ids, only

A1111 = (
    "a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly"
)
COMFY_PROMPT = json.dumps(
    {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "3": {"class_type": "KSampler", "inputs": {"seed": 987654, "steps": 20}},
    }
)


@pytest.mark.parametrize(
    ("texts", "generator", "model", "seed"),
    [
        ({"parameters": A1111}, "Stable Diffusion (AUTOMATIC1111)", "v1-5-pruned-emaonly", "1234567"),
        (
            {"parameters": A1111 + ", Version: f2.0.1v1.10.1"},
            "Stable Diffusion (Forge)",
            "v1-5-pruned-emaonly",
            "1234567",
        ),
        ({"prompt": COMFY_PROMPT}, "ComfyUI", "sd_xl_base_1.0.safetensors", "987654"),
        ({"workflow": json.dumps({"nodes": [], "links": []})}, "ComfyUI", None, None),
        (
            {"invokeai_metadata": json.dumps({"model": {"name": "juggernaut"}, "seed": 42})},
            "InvokeAI",
            "juggernaut",
            "42",
        ),
        (
            {"sd-metadata": json.dumps({"model": "stable diffusion", "seed": 7})},
            "InvokeAI",
            "stable diffusion",
            "7",
        ),
        (
            {"Software": "NovelAI", "Comment": json.dumps({"seed": 99, "uc": "lowres", "n_samples": 1})},
            "NovelAI",
            None,
            "99",
        ),
        (
            {"parameters": json.dumps({"base_model": "juggernautXL", "seed": 5})},
            "Fooocus",
            "juggernautXL",
            "5",
        ),
        (
            {"Description": "cat astronaut --ar 3:2 Job ID: 1a2b3c4d-1111-2222-3333-444455556666"},
            "Midjourney",
            None,
            None,
        ),
    ],
)
def test_png_text_declarations(gather, texts, generator, model, seed) -> None:
    report = gather(png_bytes(texts=texts), "gen.png", signals=False)
    declared = [item for item in report.items if item.id == "generator.declared"]
    assert declared, [item.id for item in report.items]
    found = {item.value["generator"]: item for item in declared}
    assert generator in found
    item = found[generator]
    assert item.points_to == POINTS_AI and item.strength == STRONG
    assert item.value["model"] == model and item.value["seed"] == seed
    assert "PNG" in (item.location or "")


@pytest.mark.parametrize("carrier", ["ztxt", "itxt"])
def test_compressed_text_chunks(gather, carrier) -> None:
    data = (
        png_bytes(ztexts={"parameters": A1111})
        if carrier == "ztxt"
        else png_bytes(itexts={"parameters": A1111})
    )
    item = only(gather(data, "c.png", signals=False), "generator.declared")
    assert item.value["seed"] == "1234567"


def test_a1111_in_jpeg_user_comment(gather) -> None:
    data = jpeg_bytes(exif=camera_exif(user_comment=A1111))
    item = only(gather(data, "a.jpg", signals=False), "generator.declared")
    assert item.value["generator"].startswith("Stable Diffusion") and item.location == "EXIF UserComment"


@pytest.mark.parametrize(
    ("software", "generator"),
    [
        ("DALL·E 3", "OpenAI (DALL·E / GPT image)"),
        ("Midjourney v6", "Midjourney"),
        ("Adobe Firefly", "Adobe Firefly"),
    ],
)
def test_generator_named_in_exif_software(gather, software, generator) -> None:
    data = jpeg_bytes(exif=camera_exif(make="", model="", software=software, maker_note=False))
    item = only(gather(data, "s.jpg", signals=False), "generator.declared")
    assert item.value["generator"] == generator and item.location == "EXIF Software"


def test_generator_named_in_xmp_creator_tool(gather) -> None:
    data = jpeg_with_xmp(xmp_packet(xmp_description(creator_tool="Adobe Firefly Image 3")))
    item = only(gather(data, "f.jpg", signals=False), "generator.declared")
    assert item.value["generator"] == "Adobe Firefly"


def test_jpeg_comment_with_comfy_graph_is_not_a_declaration_without_a_key(gather) -> None:
    # A JPEG comment holds free text; only a generator's known pattern counts there.
    data = jpeg_bytes(comment=b"made with love, not with midjourney")
    assert "generator.declared" not in ids(gather(data, "c.jpg", signals=False))


@pytest.mark.parametrize(
    "texts",
    [
        {"Description": "a photo I took; it looks like midjourney but is not"},  # a name in free text
        {"parameters": "just a caption, no generator fields"},
        {"prompt": "not json at all"},
        {"Software": "GIMP 2.10"},
        {"Title": "Seed: 42, Steps: 9"},  # generator-like fields under an unrelated key
    ],
)
def test_negative_cases(gather, texts) -> None:
    assert "generator.declared" not in ids(gather(png_bytes(texts=texts), "n.png", signals=False))


@pytest.mark.parametrize(
    ("field", "value", "generator"),
    [
        ("Software", "Adobe Firefly Image 3", "Adobe Firefly"),
        ("Software", "Google Gemini", "Google Imagen / Gemini"),
        ("Software", "Gemini 2.5 Flash Image", "Google Imagen / Gemini"),
        ("Software", "Imagen 4", "Google Imagen / Gemini"),
        ("Software", "OpenAI gpt-image-1", "OpenAI (DALL·E / GPT image)"),
        ("Software", "ChatGPT", "OpenAI (DALL·E / GPT image)"),
        # An editor's generative features edit part of a picture: the editor, not a generator.
        ("Software", "Adobe Photoshop 25.0 (Firefly)", None),
        ("Software", "Adobe Photoshop 26.1 (Windows) Generative Fill, Firefly Image 3", None),
        ("Software", "GIMP 2.10 OpenAI plugin", None),
        ("Software", "Krita AI Diffusion (Stable Diffusion XL)", None),
        ("Software", "Adobe Express (Adobe Firefly)", None),
        # Other products and plain words that share a generator's name.
        ("Model", "Firefly 8SE", None),  # an action camera
        ("Model", "Gemini PDA", None),  # a phone
        ("Software", "Editor de imagen", None),
        ("Software", "Gemini photo cleaner", None),
    ],
)
def test_software_names_are_read_precisely(gather, field, value, generator) -> None:
    exif = camera_exif(make="Hawkeye" if field == "Model" else "", model="", maker_note=False)
    exif[0x0110 if field == "Model" else 0x0131] = value
    report = gather(jpeg_bytes(exif=exif), "s.jpg", signals=False)
    declared = [item.value["generator"] for item in report.items if item.id == "generator.declared"]
    assert declared == ([generator] if generator else [])


def test_editor_with_generative_fill_in_xmp_is_not_a_generator(gather) -> None:
    tool = "Adobe Photoshop 25.0 (Firefly)"
    data = jpeg_with_xmp(xmp_packet(xmp_description(creator_tool=tool, agents=(tool,))))
    report = gather(data, "fill.jpg", signals=False)
    assert "generator.declared" not in ids(report) and "xmp.history" in ids(report)


A1111_TEXT = (
    "a lighthouse at dusk, oil painting\nwide angle\n"
    "Negative prompt: blurry, text\x1b[2J\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234567, Size: 832x1216, "
    "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.9.4"
)


def test_a1111_parameters_in_a_jpeg_comment_are_read_with_what_an_investigator_quotes(gather) -> None:
    data = insert_jpeg_segment(jpeg_bytes(), 0xFE, A1111_TEXT.encode())
    item = only(gather(data, "comment.jpg", signals=False), "generator.declared")
    value = item.value
    assert value["generator"] == "Stable Diffusion (AUTOMATIC1111)" and "COM" in item.location
    assert (value["model"], value["seed"]) == ("sd_xl_base_1.0", "1234567")
    parameters = value["parameters"]
    assert parameters["prompt"] == "a lighthouse at dusk, oil painting\nwide angle"
    assert (
        parameters["negative_prompt"].startswith("blurry, text")
        and "\x1b" not in parameters["negative_prompt"]
    )
    assert parameters["steps"] == "28" and parameters["sampler"] == "DPM++ 2M Karras"
    assert parameters["cfg_scale"] == "6.5" and parameters["size"] == "832x1216"
    assert parameters["model_hash"] == "31e35c80fc"
    assert "steps 28" in item.summary and "prompt 'a lighthouse at dusk" in item.summary


def test_a_plain_jpeg_comment_is_no_declaration(gather) -> None:
    data = insert_jpeg_segment(jpeg_bytes(), 0xFE, b"Seed: the start of a story, Steps: none")
    assert "generator.declared" not in ids(gather(data, "story.jpg", signals=False))


def test_a_huge_prompt_is_capped(gather) -> None:
    text = "x" * 50_000 + "\nSteps: 20, Sampler: Euler, Seed: 1"
    item = only(
        gather(png_bytes(texts={"parameters": text}), "long.png", signals=False), "generator.declared"
    )
    assert len(item.value["parameters"]["prompt"]) == 2000


def test_comfyui_graph_in_webp_exif_make_and_model(gather) -> None:
    """ComfyUI's WebP saver writes its prompt graph into EXIF Make and its workflow into Model."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "prompt:" + COMFY_PROMPT
    exif[0x0110] = 'workflow:{"nodes": []}'
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, format="WEBP", exif=exif.tobytes())
    item = only(gather(buffer.getvalue(), "comfy.webp", signals=False), "generator.declared")
    assert item.value["generator"] == "ComfyUI"
    assert (item.value["model"], item.value["seed"]) == ("sd_xl_base_1.0.safetensors", "987654")
    assert "EXIF Make (ComfyUI prompt)" in item.location


def _stealth_png(text: str, mode: str, compressed: bool) -> bytes:
    """Hide ``text`` the way the stealth-pnginfo extension does: column by column, in the alpha LSB
    (or R, G, B LSBs), signature + 32-bit bit length + payload (gzip for the 'comp' kinds)."""
    import gzip
    import io

    import numpy as np
    from PIL import Image

    kind = ("png" if mode == "alpha" else "rgb") + ("comp" if compressed else "info")
    payload = gzip.compress(text.encode()) if compressed else text.encode()
    bits = np.unpackbits(np.frombuffer(f"stealth_{kind}".encode(), np.uint8))
    bits = np.concatenate(
        [bits, np.unpackbits(np.frombuffer((len(payload) * 8).to_bytes(4, "big"), np.uint8))]
    )
    bits = np.concatenate([bits, np.unpackbits(np.frombuffer(payload, np.uint8))])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (96, 128, 4), dtype=np.uint8)
    pixels[:, :, 3] = 255
    if mode == "alpha":
        plane = pixels[:, :, 3].T.copy().ravel()  # column-major order
        plane[: len(bits)] = (plane[: len(bits)] & 0xFE) | bits
        pixels[:, :, 3] = plane.reshape(128, 96).T
    else:
        rgb = pixels[:, :, :3].transpose(1, 0, 2).copy().ravel()
        rgb[: len(bits)] = (rgb[: len(bits)] & 0xFE) | bits
        pixels[:, :, :3] = rgb.reshape(128, 96, 3).transpose(1, 0, 2)
    image = Image.fromarray(pixels, "RGBA" if mode == "alpha" else "RGBA").convert(
        "RGBA" if mode == "alpha" else "RGB"
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("mode", "compressed"), [("alpha", False), ("alpha", True), ("rgb", True)])
def test_a1111_parameters_hidden_in_pixel_low_bits(gather, mode: str, compressed: bool) -> None:
    data = _stealth_png(A1111, mode, compressed)
    item = only(gather(data, "stealth.png", signals=False), "generator.declared")
    assert item.value["generator"] == "Stable Diffusion (AUTOMATIC1111)"
    assert item.value["seed"] == "1234567" and "stealth pnginfo" in item.location


def test_random_low_bits_are_no_declaration(gather) -> None:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    noise = np.random.default_rng(3).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    Image.fromarray(noise, "RGBA").save(buffer, format="PNG")
    assert "generator.declared" not in ids(gather(buffer.getvalue(), "noise.png", signals=False))


def test_stealth_bits_are_read_as_stored_when_exif_turns_the_picture(gather) -> None:
    """A viewer rotates a PNG by its EXIF orientation; the hidden bits are in the stored order."""
    import io

    from PIL import Image

    stored = Image.open(io.BytesIO(_stealth_png(A1111, "rgb", True))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    buffer = io.BytesIO()
    stored.save(buffer, format="PNG", exif=exif.tobytes())
    item = only(gather(buffer.getvalue(), "turned.png", signals=False), "generator.declared")
    assert item.value["seed"] == "1234567"

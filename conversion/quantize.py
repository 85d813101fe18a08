"""Quantize a GGUF with llama.cpp's own quantizer (``llama_model_quantize``): text models, and in
this llama.cpp version also mmproj files (q8_0 and bf16 are what the converter offers for
those: the quantizer leaves the patch and position embeddings, norms and 1-D tensors at the
scratch copy's type)."""

from __future__ import annotations

import os
from pathlib import Path

from fakescope_cli.errors import ConversionError

QUANT_TYPES = {
    # bfloat16: 2-D weights as bf16, the rest f32. On CPUs with AVX512_BF16 llama.cpp multiplies
    # it with bf16 dot products, about twice f32's rate (`python -m conversion.bench_types`).
    "bf16": "LLAMA_FTYPE_MOSTLY_BF16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    # 4-bit types llama.cpp's CPU backend repacks for its fastest matrix kernels (measured by
    # `python -m conversion.bench_engine --types`).
    "iq4_nl": "LLAMA_FTYPE_MOSTLY_IQ4_NL",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
}


def quantize_text_gguf(
    source: Path, target: Path, quant: str, threads: int | None = None, atomic: bool = True
) -> Path:
    """Write ``target`` as a ``quant`` copy of ``source``. With ``atomic`` it is written under a
    temporary name first (callers that manage their own temporary names pass ``atomic=False``)."""
    import llama_cpp

    from fakescope_cli.engine.native import route_native_logs

    route_native_logs()
    if quant not in QUANT_TYPES:
        raise ConversionError(f"unsupported quantization {quant!r}; choose from {', '.join(QUANT_TYPES)}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[quant])
    params.nthread = threads or os.cpu_count() or 1
    output = target.with_name(target.name + ".partial") if atomic else target
    try:
        status = llama_cpp.llama_model_quantize(str(source).encode(), str(output).encode(), params)
        if status != 0:
            raise ConversionError(f"llama.cpp could not quantize {source.name} to {quant} (status {status})")
        if atomic:
            os.replace(output, target)
    except BaseException:
        output.unlink(missing_ok=True)
        raise
    finally:
        if atomic:
            output.unlink(missing_ok=True)
    return target

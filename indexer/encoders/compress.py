"""Int8 weights for the OpenVINO graph: every linear layer's and the word-embedding table's fp32 constants become
uint8 per output row with a scale and zero point, in the decompression pattern OpenVINO's CPU plugin runs natively
(uint8 -> f16 -> subtract zero point -> multiply scale -> f32), as NNCF's INT8_ASYM writes it. Done here with plain
numpy so the conversion needs no NNCF. Activations stay in floating point unless the runtime is told to quantise
them dynamically (DYNAMIC_QUANTIZATION_GROUP_SIZE), which the int8 encoder does in groups of 64
(IndexSettings.int8_activation_group).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Embedding tables and weight matrices smaller than this stay fp32 (position and token-type tables, biases).
_MIN_ELEMENTS = 384 * 384


def quantise_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric uint8 per row: zero point and scale per output channel, so rows of very different ranges (the
    reason per-tensor scales lost accuracy) each use all 256 levels."""
    low = np.minimum(weight.min(axis=1, keepdims=True), 0.0)
    high = np.maximum(weight.max(axis=1, keepdims=True), 0.0)
    # The scale is stored in f16 like NNCF's; quantise against the rounded scale so the two agree.
    scale = np.maximum((high - low) / 255.0, 1e-6).astype(np.float16)
    step = scale.astype(np.float32)
    zero = np.clip(np.round(-low / step), 0, 255)
    quantised = np.clip(np.round(weight / step) + zero, 0, 255).astype(np.uint8)
    return quantised, zero.astype(np.uint8), scale


def _decompressed(weight: np.ndarray) -> Any:
    import openvino.opset13 as ops
    from openvino import Type

    quantised, zero, scale = quantise_rows(weight)
    values = ops.convert(ops.constant(quantised), Type.f16)
    shifted = ops.subtract(values, ops.convert(ops.constant(zero), Type.f16))
    scaled = ops.multiply(shifted, ops.constant(scale))
    return ops.convert(scaled, Type.f32)


def compress_weights(model: Any) -> int:
    """Rewrite `model` (an openvino.Model) in place; returns how many constants were compressed."""
    from openvino import Type

    done = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind == "MatMul":
            port = 1
        elif kind == "Gather":
            port = 0
        else:
            continue
        source = op.input_value(port).get_node()
        if source.get_type_name() != "Constant" or source.get_output_element_type(0) != Type.f32:
            continue
        weight = source.get_data()
        if weight.ndim != 2 or weight.size < _MIN_ELEMENTS:
            continue
        if kind == "MatMul" and not op.get_attributes().get("transpose_b", False):
            # Rows must be output channels; the exported linear layers are all x @ W.T.
            continue
        op.input(port).replace_source_output(_decompressed(np.asarray(weight, np.float32)).output(0))
        done += 1
    return done

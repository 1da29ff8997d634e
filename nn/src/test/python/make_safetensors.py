#!/usr/bin/env python3
"""Safetensors reference files for dev.fluxion.nn.io, written and checked with PyTorch, independently of Fluxion.

There is no safetensors package here, so this script implements the format itself from the specification
(https://github.com/huggingface/safetensors#format): 8-byte little-endian unsigned header length N, N bytes of
UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data.

Run with Debian's python3-torch (the pyenv python3 on PATH has no torch):

    /usr/bin/python3 nn/src/test/python/make_safetensors.py
        writes nn/src/test/resources/reference/safetensors/torch_tensors.safetensors, a file in which header order,
        data order and name order all differ (header: insertion order; data: reversed), and torch_tensors.json
        listing every tensor's dtype, shape, values and raw bytes for the Java test to compare against.

    /usr/bin/python3 nn/src/test/python/make_safetensors.py --verify FILE
        reads a file Fluxion wrote (the Java test SafetensorsInteropTest re-saves torch_tensors.safetensors, committed
        as fluxion_written.safetensors) and checks it against the tensors built here: same names, dtypes, shapes and
        bits, same metadata, its fluxion.crc32c recomputed here, and the layout rules of the spec and of Fluxion's
        writer (sorted names, packed offsets, header padded to 8 bytes). Prints "ok" and exits 0, or exits 1 naming the first difference.
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "resources", "reference", "safetensors")

CODES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
DTYPES = {v: k for k, v in CODES.items()}
# For bit-exact comparison and raw bytes: an integer dtype of the same width (numpy has no bfloat16).
BITS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}

METADATA = {"format": "pt", "source": "make_safetensors.py", "note": "h\u00e9llo \u2713 \"quoted\""}


def tensors():
    """Every dtype, with the values a careless reader gets wrong: NaN, infinities, -0.0, subnormals, extremes."""
    inf, nan = math.inf, math.nan
    return {
        "f64": torch.tensor([[1 / 3, -0.0, nan], [inf, -inf, 5e-324]], dtype=torch.float64),
        "f32": torch.tensor([[math.pi, -0.0], [nan, inf], [1e-45, 3.4028234663852886e38]], dtype=torch.float32),
        "f16": torch.tensor([65504.0, 6e-8, -inf, nan, 1 / 3, -2.5], dtype=torch.float16),
        "bf16": torch.tensor([[3.3895313892515355e38, 1e-40], [nan, 1 / 3]], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2 ** 63), 2 ** 63 - 1, 2 ** 53 + 1, -1], dtype=torch.int64),
        "i32": torch.tensor([[-(2 ** 31), 2 ** 31 - 1], [0, -7]], dtype=torch.int32),
        "i8": torch.tensor([-128, 127, 0, -1], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 128, 1], dtype=torch.uint8),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, dtype=torch.float32),
        "empty_3d": torch.zeros(2, 0, 3, dtype=torch.int64),
        "layer.0.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 4) / 8,
        "transposed": torch.arange(6, dtype=torch.float64).reshape(2, 3).t(),   # saved as its contiguous values
    }


def raw(t):
    """The tensor's elements in row-major order as little-endian bytes."""
    t = t.contiguous()
    if t.dtype in BITS:
        t = t.view(BITS[t.dtype])
    return t.numpy().tobytes()


def values(t):
    """JSON-safe values: floats as Python repr strings ('nan', 'inf', '-0.0'), integers and bools as numbers."""
    flat = t.reshape(-1)
    if t.dtype.is_floating_point:
        return [repr(float(v)) for v in flat.double().tolist()]
    return [bool(v) for v in flat.tolist()] if t.dtype == torch.bool else [int(v) for v in flat.tolist()]


def write_reference():
    ts = tensors()
    names = list(ts)                                   # header order: insertion order (not sorted)
    entries, offset, data = {}, 0, []
    for name in reversed(names):                       # data order: reversed
        b = raw(ts[name])
        entries[name] = {"dtype": CODES[ts[name].dtype], "shape": list(ts[name].shape), "data_offsets": [offset, offset + len(b)]}
        data.append(b)
        offset += len(b)
    header = {"__metadata__": METADATA, **{n: entries[n] for n in names}}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(os.path.join(OUT, "torch_tensors.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(data))
    expected = {"metadata": METADATA, "tensors": {
        n: {"dtype": CODES[t.dtype], "shape": list(t.shape), "values": values(t), "bytes": raw(t).hex()} for n, t in ts.items()}}
    with open(os.path.join(OUT, "torch_tensors.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read(path):
    """A reader written from the spec: returns (names in header order, their begin offsets, metadata, {name: tensor})."""
    blob = open(path, "rb").read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        fail(f"header length {n} larger than the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if (8 + n) % 8:
        fail(f"header not padded to a multiple of 8 bytes: 8 + {n}")
    if not blob[8:8 + n].startswith(b"{"):
        fail("header does not start with '{'")
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    out, spans = {}, []
    for name, e in header.items():
        dtype, shape, (b, end) = DTYPES[e["dtype"]], e["shape"], e["data_offsets"]
        numel = math.prod(shape)
        size = numel * torch.empty(0, dtype=dtype).element_size()
        if end - b != size:
            fail(f"{name}: {end - b} bytes for {numel} elements of {e['dtype']}")
        if numel == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            like = BITS.get(dtype, dtype)
            t = torch.frombuffer(bytearray(data[b:end]), dtype=like).reshape(shape)
            t = t.view(dtype) if like != dtype else t
        out[name] = t
        spans.append((b, end, name))
    pos = 0
    for b, end, name in sorted(spans):
        if b != pos:
            fail(f"{name}: begins at {b}, expected {pos} (gap or overlap)")
        pos = end
    if pos != len(data):
        fail(f"tensors cover {pos} of {len(data)} data bytes")
    return list(header), [e["data_offsets"][0] for e in header.values()], metadata, out


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as java.util.zip.CRC32C."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    CRC_TABLE.append(_c)


def check_checksum(path, metadata):
    """Fluxion's "fluxion.crc32c": CRC32C of the canonical header (compact JSON, metadata without the key first, then
    tensors sorted by name with dtype, shape, data_offsets) followed by the data section."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    canonical = {}
    if metadata:
        canonical["__metadata__"] = dict(sorted(metadata.items()))
    for name in sorted(header):
        e = header[name]
        canonical[name] = {"dtype": e["dtype"], "shape": e["shape"], "data_offsets": e["data_offsets"]}
    text = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "%08x" % crc32c(blob[8 + n:], crc32c(text))


def verify(path):
    names, begins, metadata, got = read(path)
    recorded = metadata.pop("fluxion.crc32c", None)
    if recorded is None:
        fail("no fluxion.crc32c in __metadata__")
    if check_checksum(path, metadata) != recorded:
        fail(f"fluxion.crc32c {recorded} but the file hashes to {check_checksum(path, metadata)}")
    want = tensors()
    if names != sorted(names):
        fail(f"header names not sorted: {names}")
    if begins != sorted(begins):
        fail(f"data not laid out in name order: {list(zip(names, begins))}")
    if set(got) != set(want):
        fail(f"names differ: {sorted(got)} vs {sorted(want)}")
    if metadata != METADATA:
        fail(f"metadata differs: {metadata} vs {METADATA}")
    for name, w in want.items():
        g = got[name]
        if g.dtype != w.dtype or list(g.shape) != list(w.shape):
            fail(f"{name}: {g.dtype} {list(g.shape)} vs {w.dtype} {list(w.shape)}")
        if raw(g) != raw(w):
            fail(f"{name}: bits differ: {values(g)} vs {values(w)}")
    print(f"ok: {len(want)} tensors and the metadata of {path} match PyTorch bit for bit")


if __name__ == "__main__":
    assert sys.byteorder == "little"
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    else:
        write_reference()

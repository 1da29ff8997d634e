#!/usr/bin/env python3
"""Expected NF4 bytes (QLoRA, bitsandbytes' quantize_4bit with quant_type="nf4"), computed with NumPy from the
published algorithm, for dev.fluxion.nn.lora.Nf4Test.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_nf4_reference.py

The algorithm (bitsandbytes functional.py quantize_4bit / dequantize_4bit and csrc/kernels.cu):
  * blocks of 64 consecutive elements of the flattened weight; absmax = max |x| of the block (float32);
  * each element is scaled as x * (1 / absmax) in float32 and mapped to a code by the decision tree of
    dQuantizeNF4 (strict ">" against the midpoints between neighbouring codes); a block of zeros gives
    0 * inf = NaN, which fails every comparison and becomes code 0;
  * two codes per byte, the even element in the high nibble; a last odd element is paired with a padding 0
    (scaled like the others, so it becomes code 7, or code 0 in an all-zero block);
  * double quantization: offset = mean(absmax); (absmax - offset) is quantized blockwise (blocks of 256) with
    the signed 8-bit dynamic map: per block absmax2 = max |v|, v * (1 / absmax2), then dQuantize's binary
    search over the sorted map with the midpoint tie rule of the CUDA kernel;
  * dequantize: absmax = code8[q] * absmax2 + offset, weight = NF4[nibble] * absmax (float32 throughout).
The mean is accumulated in float64 and rounded once to float32: torch's float32 reduction order differs between
CPU and CUDA (bitsandbytes itself is not bit-reproducible across devices there), so we fix one exact definition.
The dynamic map is computed with torch.linspace exactly as bitsandbytes' create_dynamic_map does (its
vectorised float32 linspace is what defines the 256 values); everything else is NumPy.

Writes nn/src/test/resources/reference/nf4.safetensors. For each case NAME:
  NAME.weight    the float32 input
  NAME.packed    uint8, the NF4 codes, ceil(n/2) bytes
  NAME.absmax    float32, one per 64-block (plain quantization)
  NAME.qabsmax   uint8, one per 64-block (double quantization)
  NAME.absmax2   float32, one per 256 blocks
  NAME.offset    float32, shape (1)
  NAME.dequant   float32, the double-quantized weight dequantized
  NAME.dequant_plain float32, the plain-quantized weight dequantized (small cases only)
and dynamic_map (float32, 256).
"""
import json
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "nf4.safetensors")
F32 = np.float32
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], dtype=F32)


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1 if signed else total_bits
    for i in range(max_exponent_bits):
        items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data += [0, 1.0]
    data.sort()
    assert len(data) == 256
    return np.array(data, dtype=F32)


def nf4_code(x):
    """dQuantizeNF4: the decision tree over midpoints, thresholds compared in float32."""
    t = lambda v: F32(v)
    if x > t(0.03979014977812767):
        if x > t(0.3893125355243683):
            if x > t(0.6427869200706482):
                return 15 if x > t(0.8614784181118011) else 14
            return 13 if x > t(0.5016634166240692) else 12
        if x > t(0.2035212516784668):
            return 11 if x > t(0.2920137718319893) else 10
        return 9 if x > t(0.1202552504837513) else 8
    if x > t(-0.33967943489551544):
        if x > t(-0.13791173323988914):
            return 7 if x > t(-0.045525018125772476) else 6
        return 5 if x > t(-0.23460740596055984) else 4
    if x > t(-0.6106329262256622):
        return 3 if x > t(-0.4599952697753906) else 2
    return 1 if x > t(-0.8480964004993439) else 0


def dquantize8(code, x):
    """dQuantize<0>: binary search over the sorted 256-entry map, then the nearer of the neighbours by midpoint."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F32(-1.0), F32(1.0)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        return upper_pivot if x > F32((upper + val) * F32(0.5)) else pivot
    return lower_pivot if x < F32((lower + val) * F32(0.5)) else pivot


def blocks(x, size):
    n = x.size
    for start in range(0, n, size):
        yield start, x[start:start + size]


def inverse(absmax):
    with np.errstate(divide="ignore"):
        return F32(1.0) / absmax            # 1/0 = inf, as the kernel


def quantize_nf4(w):
    x = w.reshape(-1).astype(F32)
    n = x.size
    codes = np.zeros(n + (n & 1), dtype=np.uint8)
    absmax = np.zeros((n + 63) // 64, dtype=F32)
    for start, b in blocks(x, 64):
        m = F32(np.max(np.abs(b)))
        absmax[start // 64] = m
        inv = inverse(m)
        padded = np.zeros(len(b) + (len(b) & 1), dtype=F32)
        padded[:len(b)] = b
        with np.errstate(invalid="ignore"):
            scaled = (padded * inv).astype(F32)
        for j, v in enumerate(scaled):
            codes[start + j] = nf4_code(v)
    packed = ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8)
    return packed, absmax


def quantize_blockwise8(v, code):
    q = np.zeros(v.size, dtype=np.uint8)
    absmax2 = np.zeros((v.size + 255) // 256, dtype=F32)
    for start, b in blocks(v, 256):
        m = F32(np.max(np.abs(b)))
        absmax2[start // 256] = m
        inv = inverse(m)
        with np.errstate(invalid="ignore"):
            scaled = (b * inv).astype(F32)
        for j, s in enumerate(scaled):
            q[start + j] = dquantize8(code, s)
    return q, absmax2


def dequantize(packed, absmax, n):
    codes = np.empty(packed.size * 2, dtype=np.uint8)
    codes[0::2], codes[1::2] = packed >> 4, packed & 15
    codes = codes[:n]
    scale = np.repeat(absmax, 64)[:n]
    return (NF4[codes] * scale).astype(F32)


def case(name, w, code, out):
    packed, absmax = quantize_nf4(w)
    offset = F32(np.mean(absmax, dtype=np.float64))
    qabsmax, absmax2 = quantize_blockwise8((absmax - offset).astype(F32), code)
    restored = ((code[qabsmax] * np.repeat(absmax2, 256)[:absmax.size]).astype(F32) + offset).astype(F32)
    out[name + ".weight"] = w.astype(F32)
    out[name + ".packed"] = packed
    out[name + ".absmax"] = absmax
    out[name + ".qabsmax"] = qabsmax
    out[name + ".absmax2"] = absmax2
    out[name + ".offset"] = np.array([offset], dtype=F32)
    out[name + ".dequant"] = dequantize(packed, restored, w.size).reshape(w.shape)
    if w.size < 1000:                                            # keeps the file small
        out[name + ".dequant_plain"] = dequantize(packed, absmax, w.size).reshape(w.shape)


def trained_weight():
    """A weight after real training: a 2-layer MLP fitted to a smooth function with Adam (not Gaussian)."""
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(16, 96), torch.nn.GELU(), torch.nn.Linear(96, 8))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.randn(512, 16)
    y = torch.sin(x[:, :8] * 2) + x[:, 8:] ** 2
    for _ in range(300):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return net[0].weight.detach().numpy().T.copy()       # (16, 96), trained


def write_safetensors(path, tensors):
    kinds = {np.dtype(np.float32): "F32", np.dtype(np.uint8): "U8"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": kinds[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "make_nf4_reference.py"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def main():
    code = create_dynamic_map()
    rng = np.random.default_rng(14)
    out = {"dynamic_map": code}
    case("random", (rng.standard_normal((96, 192)) * 0.02).astype(F32), code, out)   # 288 blocks: 2 double-quant blocks
    zeros = rng.standard_normal(333).astype(F32)                                     # odd size, not a multiple of 64
    zeros[64:128] = 0                                                                # one all-zero block
    zeros[200:210] = 0
    case("zeros_odd", zeros, code, out)
    case("trained", trained_weight(), code, out)
    case("small", rng.uniform(-3, 3, (7, 9)).astype(F32), code, out)                 # 63 elements: one partial block
    write_safetensors(OUT, out)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()

// Copy with conversion between any two dtypes, between any two strided views, and fill.
//   src: any view of n elements (operand 0 of the Iter), dst: any view of the same shape (operand 1)
// Same-dtype contiguous copies never get here: the host uses cuMemcpyDtoDAsync. Fills of contiguous
// 1-, 2- and 4-byte dtypes use cuMemsetD*Async; the rest come here.
#include "common.cuh"

// Generic path: one kernel for all 81 dtype pairs; the dtype switch is uniform across the launch.
// int64 on either side goes through 64-bit integers so large ids stay exact; everything else through double.
extern "C" __global__ void fx_copy(i64 n, int srcType, const void* __restrict__ src, int dstType, void* __restrict__ dst, Iter it, int contiguous) {
    bool viaLong = srcType == FX_I64 || dstType == FX_I64;
    FX_GRID_LOOP(i, n) {
        i64 os = i, od = i;
        if (!contiguous) iter_offset2(it, i, os, od);
        if (viaLong) store_long(dstType, dst, od, load_as_long(srcType, src, os));
        else store_double(dstType, dst, od, load_as_double(srcType, src, os));
    }
}

// Fast casts for mixed precision (contiguous, the hot path of autocast and of optimizer master weights).
template <typename S, typename D>
__device__ void cast_contiguous(i64 n, const S* __restrict__ src, D* __restrict__ dst) {
    const int V = 4;
    if ((((uintptr_t)src) % (V * sizeof(S))) == 0 && (((uintptr_t)dst) % (V * sizeof(D))) == 0) {
        i64 nv = n / V;
        FX_GRID_LOOP(i, nv) {
            alignas(16) S in[V];
            alignas(16) D out[V];
            // vector-width loads: 16 bytes of floats, 8 bytes of halves
            if (sizeof(S) == 4) *(float4*)in = ((const float4*)src)[i]; else *(uint2*)in = ((const uint2*)src)[i];
#pragma unroll
            for (int k = 0; k < V; k++) out[k] = from_acc<D>(to_acc<float>(in[k]));
            if (sizeof(D) == 4) ((float4*)dst)[i] = *(float4*)out; else ((uint2*)dst)[i] = *(uint2*)out;
        }
        FX_GRID_LOOP(i, n - nv * V) { i64 j = nv * V + i; dst[j] = from_acc<D>(to_acc<float>(src[j])); }
    } else {
        FX_GRID_LOOP(i, n) dst[i] = from_acc<D>(to_acc<float>(src[i]));
    }
}

extern "C" __global__ void fx_cast_f32_f16(i64 n, const float* s, __half* d) { cast_contiguous(n, s, d); }
extern "C" __global__ void fx_cast_f32_bf16(i64 n, const float* s, bf16* d) { cast_contiguous(n, s, d); }
extern "C" __global__ void fx_cast_f16_f32(i64 n, const __half* s, float* d) { cast_contiguous(n, s, d); }
extern "C" __global__ void fx_cast_bf16_f32(i64 n, const bf16* s, float* d) { cast_contiguous(n, s, d); }

// dst[...] = value. The host passes the value both as a double and as an exact 64-bit integer.
extern "C" __global__ void fx_fill(i64 n, int type, void* __restrict__ dst, Iter it, int contiguous, double value, i64 longValue) {
    FX_GRID_LOOP(i, n) {
        i64 o = contiguous ? i : iter_offset(it, 0, i);
        if (type == FX_I64) ((i64*)dst)[o] = longValue;
        else store_double(type, dst, o, value);
    }
}

// 8-byte fill of a contiguous range with a bit pattern (float64, int64), vector stores.
extern "C" __global__ void fx_fill_u64(i64 n, unsigned long long* __restrict__ dst, unsigned long long bits) {
    FX_GRID_LOOP(i, n) dst[i] = bits;
}

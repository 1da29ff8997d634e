// Shared definitions for Fluxion's CUDA kernels: dtype codes, the strided iterator every elementwise
// kernel takes, conversions to compute types, grid-stride loops and block reductions.
//
// Every .cu file in this folder is compiled into one fatbin (see build-kernels.sh); the Java side
// (dev.fluxion.cuda.Kernels) loads it with cuModuleLoadData and launches the extern "C" entry points by name.
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;
typedef long long i64;

// Dtype codes; dev.fluxion.cuda.Kernels#code(DType) maps each DType to one of these.
enum FxType { FX_F32 = 0, FX_F64 = 1, FX_F16 = 2, FX_BF16 = 3, FX_I64 = 4, FX_I32 = 5, FX_I8 = 6, FX_U8 = 7, FX_BOOL = 8 };

#define FX_MAX_DIMS 8
#define FX_MAX_OPERANDS 4

// A logical row-major shape walked by up to four operands, each with its own element strides (stride 0 is a
// broadcast dim). The host merges dims that are contiguous for every operand, so most tensors arrive as rank 1.
// Layout mirrors dev.fluxion.cuda.Iter: int rank, int shape[8], int stride[4][8] (164 bytes, 4-byte aligned).
struct Iter {
    int rank;
    int shape[FX_MAX_DIMS];
    int stride[FX_MAX_OPERANDS][FX_MAX_DIMS];
};
static_assert(sizeof(Iter) == 164, "Iter must match dev.fluxion.cuda.Iter.BYTES");

// Element offset of logical element `linear` for operand `op`.
__device__ __forceinline__ i64 iter_offset(const Iter& it, int op, i64 linear) {
    i64 off = 0;
    for (int d = it.rank - 1; d >= 0; d--) {
        int size = it.shape[d];
        i64 q = linear / size;
        off += (linear - q * size) * (i64)it.stride[op][d];
        linear = q;
    }
    return off;
}

// Offsets of two operands at once (one division chain).
__device__ __forceinline__ void iter_offset2(const Iter& it, i64 linear, i64& o0, i64& o1) {
    o0 = 0; o1 = 0;
    for (int d = it.rank - 1; d >= 0; d--) {
        int size = it.shape[d];
        i64 q = linear / size;
        i64 c = linear - q * size;
        o0 += c * it.stride[0][d];
        o1 += c * it.stride[1][d];
        linear = q;
    }
}

__device__ __forceinline__ void iter_offset3(const Iter& it, i64 linear, i64& o0, i64& o1, i64& o2) {
    o0 = 0; o1 = 0; o2 = 0;
    for (int d = it.rank - 1; d >= 0; d--) {
        int size = it.shape[d];
        i64 q = linear / size;
        i64 c = linear - q * size;
        o0 += c * it.stride[0][d];
        o1 += c * it.stride[1][d];
        o2 += c * it.stride[2][d];
        linear = q;
    }
}

#define FX_GRID_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (i64)(n); i += (i64)blockDim.x * gridDim.x)

// ---------------------------------------------------------------- compute types
// 16-bit floats compute in float32; float64 in double; integers in 64-bit integers (exact, wrapping on store).
template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };
template <> struct Acc<i64> { typedef i64 type; };
template <> struct Acc<int> { typedef i64 type; };
template <> struct Acc<int8_t> { typedef i64 type; };
template <> struct Acc<uint8_t> { typedef i64 type; };
template <> struct Acc<bool> { typedef i64 type; };

template <typename C, typename T> __device__ __forceinline__ C to_acc(T v) { return (C)v; }
template <> __device__ __forceinline__ float to_acc<float, __half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_acc<float, bf16>(bf16 v) { return __bfloat162float(v); }

template <typename T, typename C> __device__ __forceinline__ T from_acc(C v) { return (T)v; }
template <> __device__ __forceinline__ __half from_acc<__half, float>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ bf16 from_acc<bf16, float>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ bool from_acc<bool, i64>(i64 v) { return v != 0; }

template <typename C> __device__ __forceinline__ bool is_nan(C v) { return v != v; }
template <> __device__ __forceinline__ bool is_nan<i64>(i64) { return false; }

// ---------------------------------------------------------------- loads and stores by runtime dtype code
// Used where one kernel serves every dtype (copy/cast, fill). The branch is uniform across a launch.

__device__ __forceinline__ double load_as_double(int type, const void* p, i64 i) {
    switch (type) {
        case FX_F32: return ((const float*)p)[i];
        case FX_F64: return ((const double*)p)[i];
        case FX_F16: return __half2float(((const __half*)p)[i]);
        case FX_BF16: return __bfloat162float(((const bf16*)p)[i]);
        case FX_I64: return (double)((const i64*)p)[i];
        case FX_I32: return ((const int*)p)[i];
        case FX_I8: return ((const int8_t*)p)[i];
        default: return ((const uint8_t*)p)[i];          // uint8, bool
    }
}

__device__ __forceinline__ i64 load_as_long(int type, const void* p, i64 i) {
    switch (type) {
        case FX_I64: return ((const i64*)p)[i];
        case FX_I32: return ((const int*)p)[i];
        case FX_I8: return ((const int8_t*)p)[i];
        case FX_U8: case FX_BOOL: return ((const uint8_t*)p)[i];
        default: return (i64)load_as_double(type, p, i);   // floats truncate toward zero; NaN -> 0 (as Java)
    }
}

// Stores with PyTorch's (and the CPU backend's) rules: floats truncate toward zero into integers, narrower
// integers keep the low bits, bool is v != 0, 16-bit floats round to nearest even via float32.
__device__ __forceinline__ void store_double(int type, void* p, i64 i, double v) {
    switch (type) {
        case FX_F32: ((float*)p)[i] = (float)v; break;
        case FX_F64: ((double*)p)[i] = v; break;
        case FX_F16: ((__half*)p)[i] = __float2half_rn((float)v); break;
        case FX_BF16: ((bf16*)p)[i] = __float2bfloat16_rn((float)v); break;
        case FX_I64: ((i64*)p)[i] = (i64)v; break;
        case FX_I32: ((int*)p)[i] = (int)(i64)v; break;
        case FX_I8: ((int8_t*)p)[i] = (int8_t)(i64)v; break;
        case FX_U8: ((uint8_t*)p)[i] = (uint8_t)(i64)v; break;
        default: ((uint8_t*)p)[i] = v != 0 ? 1 : 0; break;  // bool (NaN is true, as in Java)
    }
}

__device__ __forceinline__ void store_long(int type, void* p, i64 i, i64 v) {
    switch (type) {
        case FX_I64: ((i64*)p)[i] = v; break;
        case FX_I32: ((int*)p)[i] = (int)v; break;
        case FX_I8: ((int8_t*)p)[i] = (int8_t)v; break;
        case FX_U8: ((uint8_t*)p)[i] = (uint8_t)v; break;
        case FX_BOOL: ((uint8_t*)p)[i] = v != 0 ? 1 : 0; break;
        default: store_double(type, p, i, (double)v); break;
    }
}

// ---------------------------------------------------------------- vectorized access
// 16-byte packets: 4 floats, 8 halves, 2 doubles, 16 bytes. Used when every pointer of a contiguous launch
// is 16-byte aligned (checked in the kernel; the pool returns 256-byte aligned blocks).
template <typename T> struct Packet {
    static const int N = 16 / sizeof(T);
    struct alignas(16) type { T v[16 / sizeof(T)]; };
};

__device__ __forceinline__ bool aligned16(const void* p) { return ((uintptr_t)p & 15) == 0; }

// ---------------------------------------------------------------- block reductions

template <typename C> __device__ __forceinline__ C warp_sum(C v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename C> __device__ __forceinline__ C warp_max(C v) {
    for (int o = 16; o > 0; o >>= 1) { C w = __shfl_xor_sync(0xffffffffu, v, o); v = w > v ? w : v; }
    return v;
}

// Sum over the block; every thread gets the result. `scratch` holds 32 values of shared memory.
template <typename C> __device__ C block_sum(C v, C* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();                    // scratch may still be read from a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : (C)0;
    return warp_sum(v);
}

template <typename C> __device__ C block_max(C v, C* scratch, C lowest) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : lowest;
    return warp_max(v);
}

// ---------------------------------------------------------------- deferred errors
// Kernels cannot throw. A kernel that meets a bad index records it here (a small device block, first error
// wins) and skips the element; the host copies the record back at its next synchronisation and throws there.
struct ErrorRecord {
    int code;       // 0 = none; otherwise an FX_ERR_* value
    int dim;
    i64 value;      // the offending index
    i64 size;       // the size it had to be below
};
static_assert(sizeof(ErrorRecord) == 24, "ErrorRecord must match dev.fluxion.cuda.DeviceErrors");

enum { FX_ERR_NONE = 0, FX_ERR_INDEX_SELECT = 1, FX_ERR_GATHER = 2, FX_ERR_SCATTER_ADD = 3, FX_ERR_EMBEDDING = 4, FX_ERR_CROSS_ENTROPY = 5 };

__device__ __forceinline__ void report_index_error(ErrorRecord* err, int code, int dim, i64 value, i64 size) {
    if (err != nullptr && atomicCAS(&err->code, 0, -1) == 0) {
        err->dim = dim;
        err->value = value;
        err->size = size;
        __threadfence();
        atomicExch(&err->code, code);
    }
}

// Range-checks an index into [0, size); returns it, or -1 after recording the error. A negative index is an
// error, as in PyTorch's index_select, gather and embedding (wrapping it would silently read the last rows).
__device__ __forceinline__ i64 checked_index(i64 v, i64 size, ErrorRecord* err, int code, int dim) {
    if (v < 0 || v >= size) { report_index_error(err, code, dim, v, size); return -1; }
    return v;
}

__device__ __forceinline__ i64 load_index(const void* idx, int idxIs64, i64 i) {
    return idxIs64 ? ((const i64*)idx)[i] : (i64)((const int*)idx)[i];
}

// Launch-shape helpers used by every file: 256 threads, grid capped so that grid-stride loops do the rest.
#define FX_THREADS 256

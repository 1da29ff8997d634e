// Reductions sum / max / min / argmax / argmin over any set of dims of a strided tensor.
//   The host views x as [rows (kept dims), inner (reduced dims)]: `outer` walks the kept dims, `red` the
//   reduced ones (each an Iter with the input strides as operand 0). Output: rows elements, contiguous.
//   Large reductions are split: pass 1 writes rows x splits partials (value + index), pass 2 combines them.
// max/min propagate NaN; argmax/argmin return the first NaN, else the first extreme (as the CPU backend).
#include "common.cuh"
#include <float.h>
#include <limits.h>

enum ReduceCode { R_SUM = 0, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN };

template <typename C> struct Red { C v; i64 i; };

template <typename C> __device__ __forceinline__ C lowest();
template <> __device__ __forceinline__ float lowest<float>() { return -INFINITY; }
template <> __device__ __forceinline__ double lowest<double>() { return -INFINITY; }
template <> __device__ __forceinline__ i64 lowest<i64>() { return LLONG_MIN; }
template <typename C> __device__ __forceinline__ C highest();
template <> __device__ __forceinline__ float highest<float>() { return INFINITY; }
template <> __device__ __forceinline__ double highest<double>() { return INFINITY; }
template <> __device__ __forceinline__ i64 highest<i64>() { return LLONG_MAX; }

template <typename C> __device__ __forceinline__ Red<C> red_identity(int op) {
    Red<C> r;
    r.i = LLONG_MAX;
    r.v = op == R_SUM ? (C)0 : (op == R_MAX || op == R_ARGMAX) ? lowest<C>() : highest<C>();
    return r;
}

// b replaces a when it is "better": NaN first, then larger (smaller), then the lower index.
template <typename C> __device__ __forceinline__ Red<C> red_combine(int op, Red<C> a, Red<C> b) {
    if (op == R_SUM) { a.v += b.v; return a; }
    bool an = is_nan(a.v), bn = is_nan(b.v);
    bool take;
    if (an || bn) take = bn && (!an || b.i < a.i);
    else if (op == R_MAX || op == R_ARGMAX) take = b.v > a.v || (b.v == a.v && b.i < a.i);
    else take = b.v < a.v || (b.v == a.v && b.i < a.i);
    return take ? b : a;
}

template <typename C> __device__ __forceinline__ Red<C> warp_reduce(int op, Red<C> r) {
    for (int o = 16; o > 0; o >>= 1) {
        Red<C> s;
        s.v = __shfl_xor_sync(0xffffffffu, r.v, o);
        s.i = __shfl_xor_sync(0xffffffffu, r.i, o);
        r = red_combine(op, r, s);
    }
    return r;
}

template <typename C> __device__ Red<C> block_reduce(int op, Red<C> r) {
    __shared__ C sv[32];
    __shared__ i64 si[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    r = warp_reduce(op, r);
    __syncthreads();
    if (lane == 0) { sv[warp] = r.v; si[warp] = r.i; }
    __syncthreads();
    if (lane < nwarps) { r.v = sv[lane]; r.i = si[lane]; } else r = red_identity<C>(op);
    return warp_reduce(op, r);
}

// Writes one result: the final value (T) or index (int64), or a partial (C value, int64 index).
template <typename T, typename C>
__device__ __forceinline__ void red_store(int op, Red<C> r, i64 at, void* out, C* partV, i64* partI) {
    if (partV != nullptr) { partV[at] = r.v; partI[at] = r.i; return; }
    if (op == R_ARGMAX || op == R_ARGMIN) ((i64*)out)[at] = r.i;
    else ((T*)out)[at] = from_acc<T>(r.v);
}

// One block per (row, split): threads stride over the split's share of the row. Best when the reduced
// elements are adjacent in memory (redContig: red is rank 1 with stride 1).
template <typename T>
__device__ void reduce_rows(int op, i64 rows, i64 inner, int splits, const T* __restrict__ x, Iter outer, Iter red, int redContig,
                            void* out, typename Acc<T>::type* partV, i64* partI) {
    typedef typename Acc<T>::type C;
    i64 chunk = (inner + splits - 1) / splits;
    for (i64 task = blockIdx.x; task < rows * splits; task += gridDim.x) {
        i64 row = task / splits, split = task - row * splits;
        i64 base = iter_offset(outer, 0, row);
        i64 lo = split * chunk, hi = min(inner, lo + chunk);
        Red<C> r = red_identity<C>(op);
        for (i64 j = lo + threadIdx.x; j < hi; j += blockDim.x) {
            i64 off = base + (redContig ? j : iter_offset(red, 0, j));
            Red<C> e;
            e.v = to_acc<C>(x[off]);
            e.i = j;
            r = red_combine(op, r, e);
        }
        r = block_reduce(op, r);
        if (threadIdx.x == 0) red_store<T, C>(op, r, task, out, partV, partI);
    }
}

// One thread per (row, split), blockIdx.y = split: neighbouring threads read neighbouring rows, which is
// coalesced when the kept dims are the fastest-varying ones (e.g. summing a [batch, features] over batch).
template <typename T>
__device__ void reduce_cols(int op, i64 rows, i64 inner, const T* __restrict__ x, Iter outer, Iter red,
                            void* out, typename Acc<T>::type* partV, i64* partI) {
    typedef typename Acc<T>::type C;
    int splits = gridDim.y, split = blockIdx.y;
    i64 chunk = (inner + splits - 1) / splits;
    i64 lo = split * chunk, hi = min(inner, lo + chunk);
    for (i64 row = (i64)blockIdx.x * blockDim.x + threadIdx.x; row < rows; row += (i64)blockDim.x * gridDim.x) {
        i64 base = iter_offset(outer, 0, row);
        Red<C> r = red_identity<C>(op);
        for (i64 j = lo; j < hi; j++) {
            Red<C> e;
            e.v = to_acc<C>(x[base + iter_offset(red, 0, j)]);
            e.i = j;
            r = red_combine(op, r, e);
        }
        red_store<T, C>(op, r, splits > 1 ? row * splits + split : row, out, partV, partI);
    }
}

// Pass 2: partials [rows, splits] -> out [rows].
template <typename T>
__device__ void reduce_final(int op, i64 rows, int splits, const typename Acc<T>::type* __restrict__ partV, const i64* __restrict__ partI, void* out) {
    typedef typename Acc<T>::type C;
    FX_GRID_LOOP(row, rows) {
        Red<C> r = red_identity<C>(op);
        for (int s = 0; s < splits; s++) {
            Red<C> e;
            e.v = partV[row * splits + s];
            e.i = partI[row * splits + s];
            r = red_combine(op, r, e);
        }
        red_store<T, C>(op, r, row, out, (C*)nullptr, (i64*)nullptr);
    }
}

#define FX_REDUCE(name, T) \
    extern "C" __global__ void fx_reduce_rows_##name(int op, i64 rows, i64 inner, int splits, const T* x, Iter outer, Iter red, int redContig, \
                                                     void* out, Acc<T>::type* partV, i64* partI) { \
        reduce_rows<T>(op, rows, inner, splits, x, outer, red, redContig, out, partV, partI); } \
    extern "C" __global__ void fx_reduce_cols_##name(int op, i64 rows, i64 inner, const T* x, Iter outer, Iter red, \
                                                     void* out, Acc<T>::type* partV, i64* partI) { \
        reduce_cols<T>(op, rows, inner, x, outer, red, out, partV, partI); } \
    extern "C" __global__ void fx_reduce_final_##name(int op, i64 rows, int splits, const Acc<T>::type* partV, const i64* partI, void* out) { \
        reduce_final<T>(op, rows, splits, partV, partI, out); }

FX_REDUCE(f32, float) FX_REDUCE(f64, double) FX_REDUCE(f16, __half) FX_REDUCE(bf16, bf16)
FX_REDUCE(i64, i64) FX_REDUCE(i32, int) FX_REDUCE(i8, int8_t) FX_REDUCE(u8, uint8_t) FX_REDUCE(bool, bool)

// Fused softmax and log-softmax along the last dim, forward and backward, one block per row.
//   x, y, dy, dx: [rows, cols] contiguous (the host moves the softmax dim last and copies when needed)
#include "rowstats.cuh"

template <typename T>
__device__ void softmax_fwd(i64 rows, i64 cols, const T* __restrict__ x, T* __restrict__ y, int log) {
    typedef typename Acc<T>::type C;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        MaxSum<C> st = row_maxsum(xr, cols);
        C m = st.m == -INFINITY ? (C)0 : st.m;
        if (log) {
            C lse = m + ::log(st.s);
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = from_acc<T>(to_acc<C>(xr[j]) - lse);
        } else {
            C inv = (C)1 / st.s;
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = from_acc<T>(exp(to_acc<C>(xr[j]) - m) * inv);
        }
    }
}

// softmax:     dx = y * (dy - sum(dy * y))
// log-softmax: dx = dy - exp(y) * sum(dy)
template <typename T>
__device__ void softmax_bwd(i64 rows, i64 cols, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx, int log) {
    typedef typename Acc<T>::type C;
    __shared__ C scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* yr = y + r * cols;
        const T* gr = dy + r * cols;
        T* dr = dx + r * cols;
        C acc = 0;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x)
            acc += log ? to_acc<C>(gr[j]) : to_acc<C>(gr[j]) * to_acc<C>(yr[j]);
        C dot = block_sum(acc, scratch);
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            C yv = to_acc<C>(yr[j]), g = to_acc<C>(gr[j]);
            dr[j] = from_acc<T>(log ? g - exp(yv) * dot : yv * (g - dot));
        }
    }
}

#define FX_SOFTMAX(name, T) \
    extern "C" __global__ void fx_softmax_##name(i64 rows, i64 cols, const T* x, T* y, int log) { softmax_fwd<T>(rows, cols, x, y, log); } \
    extern "C" __global__ void fx_softmax_bwd_##name(i64 rows, i64 cols, const T* y, const T* dy, T* dx, int log) { softmax_bwd<T>(rows, cols, y, dy, dx, log); }

FX_SOFTMAX(f32, float) FX_SOFTMAX(f64, double) FX_SOFTMAX(f16, __half) FX_SOFTMAX(bf16, bf16)

// Row statistics for softmax-like kernels: the running (max, sum of exp(x - max)) of one row, one block
// per row. Shared by softmax.cu and cross_entropy.cu.
#pragma once
#include "common.cuh"

template <typename C> struct MaxSum { C m; C s; };

// Merges two partial (max, sum) pairs; an all -inf part contributes nothing. A NaN element makes the whole row
// NaN: it is kept in the max (m = NaN), since a part with only NaN elements (a lane of a row shorter than a warp)
// has no finite max to carry it, and the merge's comparison would drop it.
template <typename C> __device__ __forceinline__ MaxSum<C> maxsum_merge(MaxSum<C> a, MaxSum<C> b) {
    MaxSum<C> r;
    if (a.m != a.m || b.m != b.m) { r.m = NAN; r.s = NAN; return r; }
    C m = a.m > b.m ? a.m : b.m;
    r.m = m;
    r.s = (a.m == -INFINITY ? (C)0 : a.s * exp(a.m - m)) + (b.m == -INFINITY ? (C)0 : b.s * exp(b.m - m));
    return r;
}

template <typename C> __device__ __forceinline__ MaxSum<C> maxsum_add(MaxSum<C> a, C v) {
    if (v != v || a.m != a.m) { a.m = NAN; a.s = NAN; return a; }
    if (v > a.m) { a.s = (a.m == -INFINITY ? (C)0 : a.s * exp(a.m - v)) + (C)1; a.m = v; }
    else if (v != -INFINITY) a.s += exp(v - a.m);
    return a;
}

// (max, sum) of row[0..cols) over the block; every thread gets the result. With an all -inf row max is
// -inf and sum 0, so softmax gives 0/0 = NaN, as the CPU backend and PyTorch do.
template <typename T> __device__ MaxSum<typename Acc<T>::type> row_maxsum(const T* __restrict__ row, i64 cols) {
    typedef typename Acc<T>::type C;
    __shared__ C sm[32], ss[32];
    MaxSum<C> r;
    r.m = -INFINITY;
    r.s = 0;
    for (i64 j = threadIdx.x; j < cols; j += blockDim.x) r = maxsum_add(r, to_acc<C>(row[j]));
    for (int o = 16; o > 0; o >>= 1) {
        MaxSum<C> t;
        t.m = __shfl_xor_sync(0xffffffffu, r.m, o);
        t.s = __shfl_xor_sync(0xffffffffu, r.s, o);
        r = maxsum_merge(r, t);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) { sm[warp] = r.m; ss[warp] = r.s; }
    __syncthreads();
    if (lane < nwarps) { r.m = sm[lane]; r.s = ss[lane]; } else { r.m = -INFINITY; r.s = 0; }
    for (int o = 16; o > 0; o >>= 1) {
        MaxSum<C> t;
        t.m = __shfl_xor_sync(0xffffffffu, r.m, o);
        t.s = __shfl_xor_sync(0xffffffffu, r.s, o);
        r = maxsum_merge(r, t);
    }
    return r;
}

// LayerNorm and RMSNorm over the last dim, forward and backward, one block per row.
//   x, y, dy, dx:   [rows, cols] contiguous
//   weight, bias:   [cols] (either may be null: no affine part)
//   mean, rstd:     [rows] saved by forward (Acc type: float32, or float64 for float64 inputs)
//   dwPart, dbPart: [gridDim.x, cols] per-block partial sums of the parameter gradients; fx_sum_partials_*
//                   folds them into dweight / dbias (two kernels, no atomics: deterministic)
#include "common.cuh"

template <typename T>
__device__ void layernorm_fwd(i64 rows, i64 cols, const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                              T* __restrict__ y, typename Acc<T>::type* mean, typename Acc<T>::type* rstd, float eps, int rms) {
    typedef typename Acc<T>::type C;
    __shared__ C scratch[32];
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        T* yr = y + r * cols;
        C mu = 0;
        if (!rms) {
            C s = 0;
            for (i64 j = threadIdx.x; j < cols; j += blockDim.x) s += to_acc<C>(xr[j]);
            mu = block_sum(s, scratch) / (C)cols;
        }
        C q = 0;                                       // second pass over the row: exact variance
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) { C d = to_acc<C>(xr[j]) - mu; q += d * d; }
        C rs = (C)1 / sqrt(block_sum(q, scratch) / (C)cols + (C)eps);
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            C v = (to_acc<C>(xr[j]) - mu) * rs;
            if (w != nullptr) v *= to_acc<C>(w[j]);
            if (b != nullptr) v += to_acc<C>(b[j]);
            yr[j] = from_acc<T>(v);
        }
        if (threadIdx.x == 0) { if (mean != nullptr) mean[r] = mu; rstd[r] = rs; }
    }
}

// LayerNorm: xhat = (x - mean) * rstd, g = dy * w,  dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
// RMSNorm:   xhat = x * rstd,          g = dy * w,  dx = rstd * (g - xhat * mean(g * xhat))
// dw += dy * xhat, db += dy (per block, into its row of the partial buffers)
template <typename T>
__device__ void layernorm_bwd(i64 rows, i64 cols, const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ w,
                              const typename Acc<T>::type* __restrict__ mean, const typename Acc<T>::type* __restrict__ rstd,
                              T* __restrict__ dx, typename Acc<T>::type* dwPart, typename Acc<T>::type* dbPart, int rms) {
    typedef typename Acc<T>::type C;
    __shared__ C scratch[32];
    C* dwp = dwPart != nullptr ? dwPart + (i64)blockIdx.x * cols : nullptr;
    C* dbp = dbPart != nullptr ? dbPart + (i64)blockIdx.x * cols : nullptr;
    for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
        if (dwp != nullptr) dwp[j] = 0;
        if (dbp != nullptr) dbp[j] = 0;
    }
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = x + r * cols;
        const T* gr = dy + r * cols;
        T* dr = dx + r * cols;
        C mu = rms ? (C)0 : mean[r], rs = rstd[r];
        C sg = 0, sgx = 0;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            C xh = (to_acc<C>(xr[j]) - mu) * rs;
            C g = to_acc<C>(gr[j]) * (w != nullptr ? to_acc<C>(w[j]) : (C)1);
            sg += g;
            sgx += g * xh;
        }
        C meanG = rms ? (C)0 : block_sum(sg, scratch) / (C)cols;
        C meanGX = block_sum(sgx, scratch) / (C)cols;
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            C xh = (to_acc<C>(xr[j]) - mu) * rs;
            C d = to_acc<C>(gr[j]);
            C g = d * (w != nullptr ? to_acc<C>(w[j]) : (C)1);
            dr[j] = from_acc<T>(rs * (g - meanG - xh * meanGX));
            if (dwp != nullptr) dwp[j] += d * xh;      // this thread owns column j of its block's partial row
            if (dbp != nullptr) dbp[j] += d;
        }
    }
}

// out[j] = sum over p of part[p * cols + j], converted to T.
template <typename T>
__device__ void sum_partials(int parts, i64 cols, const typename Acc<T>::type* __restrict__ part, T* __restrict__ out) {
    typedef typename Acc<T>::type C;
    FX_GRID_LOOP(j, cols) {
        C s = 0;
        for (int p = 0; p < parts; p++) s += part[(i64)p * cols + j];
        out[j] = from_acc<T>(s);
    }
}

#define FX_NORM(name, T) \
    extern "C" __global__ void fx_norm_fwd_##name(i64 rows, i64 cols, const T* x, const T* w, const T* b, T* y, \
                                                  Acc<T>::type* mean, Acc<T>::type* rstd, float eps, int rms) { \
        layernorm_fwd<T>(rows, cols, x, w, b, y, mean, rstd, eps, rms); } \
    extern "C" __global__ void fx_norm_bwd_##name(i64 rows, i64 cols, const T* dy, const T* x, const T* w, const Acc<T>::type* mean, \
                                                  const Acc<T>::type* rstd, T* dx, Acc<T>::type* dwPart, Acc<T>::type* dbPart, int rms) { \
        layernorm_bwd<T>(rows, cols, dy, x, w, mean, rstd, dx, dwPart, dbPart, rms); } \
    extern "C" __global__ void fx_sum_partials_##name(int parts, i64 cols, const Acc<T>::type* part, T* out) { \
        sum_partials<T>(parts, cols, part, out); }

FX_NORM(f32, float) FX_NORM(f64, double) FX_NORM(f16, __half) FX_NORM(bf16, bf16)

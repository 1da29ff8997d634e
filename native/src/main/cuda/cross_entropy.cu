// Fused cross-entropy over class logits, forward and backward, one block per row.
//   logits:  [rows, classes] contiguous, float32 / float16 / bfloat16 / float64
//   targets: [rows] int64 or int32 class ids; rows whose target equals ignoreIndex get loss 0 and gradient 0
//   loss:    [rows] float32 (or float64 for float64 logits), lse: [rows] the log-sum-exp saved for backward
//   dlogits: [rows, classes] = (softmax(logits) - onehot(target)) * dloss[row * dlossStride]
#include "rowstats.cuh"

template <typename T>
__device__ void ce_fwd(i64 rows, i64 cols, const T* __restrict__ logits, const void* __restrict__ targets, int tgt64, i64 ignoreIndex,
                       typename Acc<T>::type* __restrict__ loss, typename Acc<T>::type* __restrict__ lse, ErrorRecord* err) {
    typedef typename Acc<T>::type C;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = logits + r * cols;
        MaxSum<C> st = row_maxsum(xr, cols);
        if (threadIdx.x == 0) {
            C m = st.m == -INFINITY ? (C)0 : st.m;
            C l = m + ::log(st.s);
            i64 t = load_index(targets, tgt64, r);
            C out = 0;
            if (t != ignoreIndex) {
                if (t < 0 || t >= cols) report_index_error(err, FX_ERR_CROSS_ENTROPY, 1, t, cols);
                else out = l - to_acc<C>(xr[t]);
            }
            loss[r] = out;
            lse[r] = l;
        }
    }
}

template <typename T>
__device__ void ce_bwd(i64 rows, i64 cols, const T* __restrict__ logits, const void* __restrict__ targets, int tgt64, i64 ignoreIndex,
                       const typename Acc<T>::type* __restrict__ lse, const typename Acc<T>::type* __restrict__ dloss, i64 dlossStride,
                       T* __restrict__ dlogits) {
    typedef typename Acc<T>::type C;
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* xr = logits + r * cols;
        T* dr = dlogits + r * cols;
        i64 t = load_index(targets, tgt64, r);
        bool ignored = t == ignoreIndex || t < 0 || t >= cols;
        C g = ignored ? (C)0 : dloss[r * dlossStride], l = lse[r];
        for (i64 j = threadIdx.x; j < cols; j += blockDim.x) {
            C p = exp(to_acc<C>(xr[j]) - l);
            dr[j] = from_acc<T>((p - (j == t ? (C)1 : (C)0)) * g);
        }
    }
}

#define FX_CE(name, T) \
    extern "C" __global__ void fx_cross_entropy_fwd_##name(i64 rows, i64 cols, const T* logits, const void* targets, int tgt64, i64 ignoreIndex, \
                                                           Acc<T>::type* loss, Acc<T>::type* lse, ErrorRecord* err) { \
        ce_fwd<T>(rows, cols, logits, targets, tgt64, ignoreIndex, loss, lse, err); } \
    extern "C" __global__ void fx_cross_entropy_bwd_##name(i64 rows, i64 cols, const T* logits, const void* targets, int tgt64, i64 ignoreIndex, \
                                                           const Acc<T>::type* lse, const Acc<T>::type* dloss, i64 dlossStride, T* dlogits) { \
        ce_bwd<T>(rows, cols, logits, targets, tgt64, ignoreIndex, lse, dloss, dlossStride, dlogits); }

FX_CE(f32, float) FX_CE(f64, double) FX_CE(f16, __half) FX_CE(bf16, bf16)

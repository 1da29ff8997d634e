// Embedding backward: dweight[ids[i], :] += dout[i, :], accumulated in float32 (float64 for float64) with
// atomics; the host converts the accumulator to the weight's dtype. With hasPadding, rows whose id equals
// paddingIdx get nothing; without it every id must be in range (a separate flag, not a sentinel such as -1,
// so that an invalid id of -1 is still reported).
//   ids:  [n] int64 or int32, each in [0, vocab)
//   dout: [n, dim] contiguous
//   dw:   [vocab, dim] accumulator, zeroed by the host
#include "atomics.cuh"

template <typename T>
__device__ void embedding_bwd(i64 n, i64 dim, const void* __restrict__ ids, int ids64, i64 vocab, int hasPadding, i64 paddingIdx,
                              const T* __restrict__ dout, typename Acc<T>::type* __restrict__ dw, ErrorRecord* err) {
    FX_GRID_LOOP(i, n * dim) {
        i64 row = i / dim, j = i - row * dim;
        i64 id = load_index(ids, ids64, row);
        if (hasPadding && id == paddingIdx) continue;
        if (id < 0 || id >= vocab) {
            if (j == 0) report_index_error(err, FX_ERR_EMBEDDING, 0, id, vocab);
            continue;
        }
        atomic_add(dw + id * dim + j, to_acc<typename Acc<T>::type>(dout[i]));
    }
}

#define FX_EMB(name, T) \
    extern "C" __global__ void fx_embedding_bwd_##name(i64 n, i64 dim, const void* ids, int ids64, i64 vocab, int hasPadding, i64 paddingIdx, \
                                                       const T* dout, Acc<T>::type* dw, ErrorRecord* err) { \
        embedding_bwd<T>(n, dim, ids, ids64, vocab, hasPadding, paddingIdx, dout, dw, err); }

FX_EMB(f32, float) FX_EMB(f64, double) FX_EMB(f16, __half) FX_EMB(bf16, bf16)

// indexSelect, gather and scatterAdd along one dim, for every dtype. Indices are int64 or int32 (idx64),
// may be negative (counted from the end), and are range-checked on the device: a bad one is recorded in
// the ErrorRecord (thrown by the host at its next synchronisation) and its element is skipped (zero).
//   it: an uncollapsed Iter over the output (indexSelect) or index (gather, scatterAdd) shape
//     indexSelect: stride[0] = x strides
//     gather:      stride[0] = x strides, stride[1] = index strides
//     scatterAdd:  stride[0] = out strides, stride[1] = index strides, stride[2] = src strides
#include "atomics.cuh"

// y = x.indexSelect(dim, index): y's coordinate c along dim reads x at index[c].
template <typename S>
__device__ void index_select(i64 n, const S* __restrict__ x, S* __restrict__ y, Iter it, int dim, const void* __restrict__ index,
                             int idx64, i64 idxStride, i64 dimSize, ErrorRecord* err) {
    FX_GRID_LOOP(i, n) {
        i64 linear = i, off = 0;
        bool ok = true;
        for (int d = it.rank - 1; d >= 0; d--) {
            i64 q = linear / it.shape[d], c = linear - q * it.shape[d];
            linear = q;
            if (d == dim) {
                i64 v = checked_index(load_index(index, idx64, c * idxStride), dimSize, err, FX_ERR_INDEX_SELECT, dim);
                if (v < 0) { ok = false; break; }
                c = v;
            }
            off += c * it.stride[0][d];
        }
        y[i] = ok ? x[off] : S();
    }
}

// y[m] = x[m with coordinate dim replaced by index[m]]; y has index's shape.
template <typename S>
__device__ void gather(i64 n, const S* __restrict__ x, S* __restrict__ y, Iter it, int dim, const void* __restrict__ index,
                       int idx64, i64 dimSize, ErrorRecord* err) {
    FX_GRID_LOOP(i, n) {
        i64 linear = i, xo = 0, io = 0;
        for (int d = it.rank - 1; d >= 0; d--) {
            i64 q = linear / it.shape[d], c = linear - q * it.shape[d];
            linear = q;
            if (d != dim) xo += c * it.stride[0][d];
            io += c * it.stride[1][d];
        }
        i64 v = checked_index(load_index(index, idx64, io), dimSize, err, FX_ERR_GATHER, dim);
        y[i] = v < 0 ? S() : x[xo + v * it.stride[0][dim]];
    }
}

// out[m with coordinate dim replaced by index[m]] += src[m]; out already holds a copy of x.
template <typename T>
__device__ void scatter_add(i64 n, T* __restrict__ out, Iter it, int dim, const void* __restrict__ index, int idx64,
                            const T* __restrict__ src, i64 dimSize, ErrorRecord* err) {
    FX_GRID_LOOP(i, n) {
        i64 linear = i, oo = 0, io = 0, so = 0;
        for (int d = it.rank - 1; d >= 0; d--) {
            i64 q = linear / it.shape[d], c = linear - q * it.shape[d];
            linear = q;
            if (d != dim) oo += c * it.stride[0][d];
            io += c * it.stride[1][d];
            so += c * it.stride[2][d];
        }
        i64 v = checked_index(load_index(index, idx64, io), dimSize, err, FX_ERR_SCATTER_ADD, dim);
        if (v >= 0) atomic_add(out + oo + v * it.stride[0][dim], src[so]);
    }
}

#define FX_BY_SIZE(bytes, S) \
    extern "C" __global__ void fx_index_select_##bytes(i64 n, const S* x, S* y, Iter it, int dim, const void* index, int idx64, i64 idxStride, \
                                                        i64 dimSize, ErrorRecord* err) { \
        index_select<S>(n, x, y, it, dim, index, idx64, idxStride, dimSize, err); } \
    extern "C" __global__ void fx_gather_##bytes(i64 n, const S* x, S* y, Iter it, int dim, const void* index, int idx64, i64 dimSize, \
                                                 ErrorRecord* err) { \
        gather<S>(n, x, y, it, dim, index, idx64, dimSize, err); }

FX_BY_SIZE(1, uint8_t) FX_BY_SIZE(2, uint16_t) FX_BY_SIZE(4, uint32_t) FX_BY_SIZE(8, unsigned long long)

#define FX_SCATTER(name, T) \
    extern "C" __global__ void fx_scatter_add_##name(i64 n, T* out, Iter it, int dim, const void* index, int idx64, const T* src, \
                                                     i64 dimSize, ErrorRecord* err) { \
        scatter_add<T>(n, out, it, dim, index, idx64, src, dimSize, err); }

FX_SCATTER(f32, float) FX_SCATTER(f64, double) FX_SCATTER(f16, __half) FX_SCATTER(bf16, bf16)
FX_SCATTER(i64, i64) FX_SCATTER(i32, int) FX_SCATTER(i8, int8_t) FX_SCATTER(u8, uint8_t) FX_SCATTER(bool, bool)

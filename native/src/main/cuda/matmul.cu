// Fallback batched GEMM, used only when cuBLAS cannot be loaded (the host says so once). It is a plain
// shared-memory tiled kernel: correct for every layout, far slower than cuBLAS.
//   A: [batch, M, K] with strides (sAb, sAm, sAk); B: [batch, K, N] with strides (sBb, sBk, sBn)
//   C: [batch, M, N] contiguous; accumulation in float32 (float64 for float64)
#include "common.cuh"

#define TILE 16

template <typename T>
__device__ void gemm_tiled(int batch, int M, int N, int K, const T* __restrict__ A, i64 sAb, i64 sAm, i64 sAk,
                           const T* __restrict__ B, i64 sBb, i64 sBk, i64 sBn, T* __restrict__ Cm) {
    typedef typename Acc<T>::type C;
    __shared__ C As[TILE][TILE + 1], Bs[TILE][TILE + 1];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
    for (int b = blockIdx.z; b < batch; b += gridDim.z) {
        const T* a = A + b * sAb;
        const T* bb = B + b * sBb;
        C acc = 0;
        for (int k0 = 0; k0 < K; k0 += TILE) {
            As[ty][tx] = (row < M && k0 + tx < K) ? to_acc<C>(a[row * sAm + (k0 + tx) * sAk]) : (C)0;
            Bs[ty][tx] = (k0 + ty < K && col < N) ? to_acc<C>(bb[(k0 + ty) * sBk + col * sBn]) : (C)0;
            __syncthreads();
#pragma unroll
            for (int k = 0; k < TILE; k++) acc += As[ty][k] * Bs[k][tx];
            __syncthreads();
        }
        if (row < M && col < N) Cm[(i64)b * M * N + (i64)row * N + col] = from_acc<T>(acc);
    }
}

#define FX_GEMM(name, T) \
    extern "C" __global__ void fx_gemm_##name(int batch, int M, int N, int K, const T* A, i64 sAb, i64 sAm, i64 sAk, \
                                              const T* B, i64 sBb, i64 sBk, i64 sBn, T* C) { \
        gemm_tiled<T>(batch, M, N, K, A, sAb, sAm, sAk, B, sBb, sBk, sBn, C); }

FX_GEMM(f32, float) FX_GEMM(f64, double) FX_GEMM(f16, __half) FX_GEMM(bf16, bf16)

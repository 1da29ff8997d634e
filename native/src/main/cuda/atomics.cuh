// atomic_add for every dtype, for scatterAdd and embedding backward. Sub-word types (int8, uint8, bool)
// update their byte inside an aligned 32-bit word with compare-and-swap.
#pragma once
#include "common.cuh"

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(__half* p, __half v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(bf16* p, bf16 v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(i64* p, i64 v) { atomicAdd((unsigned long long*)p, (unsigned long long)v); }
__device__ __forceinline__ void atomic_add(int* p, int v) { atomicAdd(p, v); }

// bool: old + v != 0, i.e. old | v
__device__ __forceinline__ void atomic_add_byte(uint8_t* p, uint8_t v, bool isBool) {
    unsigned int* word = (unsigned int*)((uintptr_t)p & ~(uintptr_t)3);
    unsigned int shift = ((uintptr_t)p & 3) * 8;
    unsigned int old = *word, assumed;
    do {
        assumed = old;
        unsigned int byte = (assumed >> shift) & 0xffu;
        unsigned int next = isBool ? ((byte | v) != 0 ? 1u : 0u) : ((byte + v) & 0xffu);
        old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (next << shift));
    } while (old != assumed);
}

__device__ __forceinline__ void atomic_add(int8_t* p, int8_t v) { atomic_add_byte((uint8_t*)p, (uint8_t)v, false); }
__device__ __forceinline__ void atomic_add(uint8_t* p, uint8_t v) { atomic_add_byte(p, v, false); }
__device__ __forceinline__ void atomic_add(bool* p, bool v) { atomic_add_byte((uint8_t*)p, v ? 1 : 0, true); }

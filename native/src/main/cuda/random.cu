// Random numbers drawn on the device, and arange.
//   Philox 4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11; the
//   generator of Random123, cuRAND and PyTorch's CUDA ops): a counter-based generator, so element i of a draw
//   is a pure function of (key, i). Every launch plan, thread order and GPU gives the same values for one key,
//   and no state lives on the device. The host takes each draw's 64-bit key from a dev.fluxion.tensor.Generator
//   (one value of its stream per draw), so a seed reproduces every draw and nothing is copied to the device.
//   Counter of element group g: {low 32 bits of g, high 32 bits of g, 0, 0}; key: {low, high} of the 64-bit key.
#include "common.cuh"

struct Philox4 { unsigned v[4]; };

// One Philox 4x32 call, 10 rounds. The 32x32 -> 64-bit product stands for __umulhi/mul.lo (one mul.wide.u32).
__device__ __forceinline__ Philox4 philox4x32_10(Philox4 c, unsigned k0, unsigned k1) {
    const unsigned M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
#pragma unroll
    for (int r = 0; r < 10; r++) {
        unsigned long long p0 = (unsigned long long)M0 * c.v[0], p1 = (unsigned long long)M1 * c.v[2];
        unsigned hi0 = (unsigned)(p0 >> 32), lo0 = (unsigned)p0, hi1 = (unsigned)(p1 >> 32), lo1 = (unsigned)p1;
        Philox4 n;
        n.v[0] = hi1 ^ c.v[1] ^ k0;
        n.v[1] = lo1;
        n.v[2] = hi0 ^ c.v[3] ^ k1;
        n.v[3] = lo0;
        c = n;
        k0 += W0;
        k1 += W1;
    }
    return c;
}

__device__ __forceinline__ Philox4 philox_group(i64 g, i64 key) {
    Philox4 c = {{(unsigned)g, (unsigned)((unsigned long long)g >> 32), 0u, 0u}};
    return philox4x32_10(c, (unsigned)key, (unsigned)((unsigned long long)key >> 32));
}

// Uniform on [0, 1) with as many random bits as dtype's significand holds (24 for float32, 11 float16, 8
// bfloat16), so that rounding to the dtype can never give 1.0; float64 takes 53 bits from two words.
__device__ __forceinline__ double uniform_for(int type, unsigned w, unsigned w2) {
    switch (type) {
        case FX_F64: return (double)(((unsigned long long)w << 21) ^ (w2 >> 11)) * 0x1.0p-53;
        case FX_F16: return (double)(w >> 21) * 0x1.0p-11;
        case FX_BF16: return (double)(w >> 24) * 0x1.0p-8;
        default: return (double)(w >> 8) * 0x1.0p-24;
    }
}

// dst (contiguous, n elements of a float dtype) = uniform [0, 1) (normal == 0) or standard normal (normal == 1).
// Element i takes word i % 4 of group i / 4 (float64 uniforms: words 2(i % 2), 2(i % 2) + 1 of group i / 2).
// Normals: Box-Muller on the word pairs (0, 1) and (2, 3) of a group, elements 4g, 4g+1 and 4g+2, 4g+3, in
// double (24-bit uniforms: |z| <= 5.8).
extern "C" __global__ void fx_random(i64 n, int type, void* __restrict__ dst, int normal, i64 key) {
    int perGroup = type == FX_F64 && !normal ? 2 : 4;
    i64 groups = (n + perGroup - 1) / perGroup;
    FX_GRID_LOOP(g, groups) {
        Philox4 r = philox_group(g, key);
        i64 base = g * perGroup;
        if (normal) {
            for (int pair = 0; pair < 2; pair++) {
                double u1 = ((r.v[2 * pair] >> 8) + 1.0) * 0x1.0p-24;       // (0, 1]: the log is finite
                double u2 = (r.v[2 * pair + 1] >> 8) * 0x1.0p-24;
                double rad = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
                if (base + 2 * pair < n) store_double(type, dst, base + 2 * pair, rad * cos(t));
                if (base + 2 * pair + 1 < n) store_double(type, dst, base + 2 * pair + 1, rad * sin(t));
            }
        } else if (perGroup == 2) {
            for (int k = 0; k < 2 && base + k < n; k++) store_double(type, dst, base + k, uniform_for(type, r.v[2 * k], r.v[2 * k + 1]));
        } else {
            for (int k = 0; k < 4 && base + k < n; k++) store_double(type, dst, base + k, uniform_for(type, r.v[k], 0));
        }
    }
}

// dst (contiguous, n elements of any dtype) = start + i * step computed in double, then stored with the
// conversion rules of store_double: the values of the CPU's arange (double values cast to the dtype).
extern "C" __global__ void fx_arange(i64 n, int type, void* __restrict__ dst, double start, double step) {
    FX_GRID_LOOP(i, n) store_double(type, dst, i, start + (double)i * step);
}

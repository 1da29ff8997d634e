// Random numbers drawn on the device (uniform, normal, randint), fused dropout, and arange.
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

// ---------------------------------------------------------------- fused dropout
// One pass instead of rand -> ge -> mul -> where. The uniforms are fx_random's float32 draw for the same key
// (element i: word i % 4 of group i / 4, (w >> 8) * 2^-24, exact in float), and keep = u >= p with p rounded to
// float32 on the host, as the composed path's ge(p) against a float32 scalar: the fused and the composed paths
// keep the same elements. y = keep ? x * scale : 0 with scale rounded to x's dtype and the product taken in the
// compute type (the composed path's mul by a scalar of x's dtype), so y matches the composed path bit for bit.

// v rounded to T as a fill of T stores it (common.cuh store_double: 16-bit floats via float32).
template <typename T> __device__ __forceinline__ T round_to(double v) { return from_acc<T>((typename Acc<T>::type)v); }

// The four elements of one Philox group, moved as one load or store when the addresses allow.
template <typename T> struct alignas(4 * sizeof(T)) Quad { T v[4]; };
struct alignas(4) MaskQuad { bool v[4]; };

// x (n logical elements, walked by operand 0 of it unless contiguous) -> y (n, contiguous), mask (n, bool, contiguous).
// A thread takes one Philox group (4 elements): whole groups of a contiguous x whose addresses are aligned to the group
// (uniform over the launch: group g starts at element 4g) move as one 8/16/32-byte load and store and a 4-byte mask store.
template <typename T>
__device__ __forceinline__ void dropout_fwd(i64 n, const T* __restrict__ x, Iter it, int contiguous, T* __restrict__ y,
                                            bool* __restrict__ mask, float p, double scale, i64 key) {
    typedef typename Acc<T>::type C;
    const C s = to_acc<C>(round_to<T>(scale));
    const T zero = from_acc<T>((C)0);
    const bool vec = contiguous && (uintptr_t)x % sizeof(Quad<T>) == 0 && (uintptr_t)y % sizeof(Quad<T>) == 0 && (uintptr_t)mask % 4 == 0;
    i64 groups = (n + 3) / 4;
    FX_GRID_LOOP(g, groups) {
        Philox4 r = philox_group(g, key);
        i64 base = g * 4;
        if (vec && base + 4 <= n) {
            Quad<T> in = *(const Quad<T>*)(x + base), out;
            MaskQuad m;
            for (int k = 0; k < 4; k++) {
                m.v[k] = (float)(r.v[k] >> 8) * 0x1.0p-24f >= p;
                out.v[k] = m.v[k] ? from_acc<T>(to_acc<C>(in.v[k]) * s) : zero;
            }
            *(Quad<T>*)(y + base) = out;
            *(MaskQuad*)(mask + base) = m;
            continue;
        }
        for (int k = 0; k < 4 && base + k < n; k++) {
            i64 i = base + k;
            bool keep = (float)(r.v[k] >> 8) * 0x1.0p-24f >= p;
            T v = x[contiguous ? i : iter_offset(it, 0, i)];
            y[i] = keep ? from_acc<T>(to_acc<C>(v) * s) : zero;   // a dropped NaN or inf gives 0, as where() does
            mask[i] = keep;
        }
    }
}

// g (n logical elements, operand 0 of it unless contiguous), mask (n, bool, contiguous) -> dx (n, contiguous) = mask ? g * scale : 0.
template <typename T>
__device__ __forceinline__ void dropout_bwd(i64 n, const T* __restrict__ g, Iter it, int contiguous, const bool* __restrict__ mask,
                                            T* __restrict__ dx, double scale) {
    typedef typename Acc<T>::type C;
    const C s = to_acc<C>(round_to<T>(scale));
    const T zero = from_acc<T>((C)0);
    FX_GRID_LOOP(i, n) dx[i] = mask[i] ? from_acc<T>(to_acc<C>(g[contiguous ? i : iter_offset(it, 0, i)]) * s) : zero;
}

#define FX_DROPOUT(name, T)                                                                                                  \
    extern "C" __global__ void fx_dropout_fwd_##name(i64 n, const T* x, Iter it, int contiguous, T* y, bool* mask, float p, \
                                                     double scale, i64 key) { dropout_fwd<T>(n, x, it, contiguous, y, mask, p, scale, key); } \
    extern "C" __global__ void fx_dropout_bwd_##name(i64 n, const T* g, Iter it, int contiguous, const bool* mask, T* dx,  \
                                                     double scale) { dropout_bwd<T>(n, g, it, contiguous, mask, dx, scale); }
FX_DROPOUT(f32, float) FX_DROPOUT(f64, double) FX_DROPOUT(f16, __half) FX_DROPOUT(bf16, bf16)

// ---------------------------------------------------------------- randint
// dst (contiguous int64, n elements) = low + floor(w * range / 2^64): the high 64 bits of the 64x64-bit product of
// a 64-bit random word w and range = high - low (taken as unsigned: 1 .. 2^64 - 1, so any low < high fits and the
// sum wraps back into [low, high)). Element i takes w = word 2(i % 2) << 32 | word 2(i % 2) + 1 of group i / 2
// (the float64 uniform's words). Bias: the 2^64 values of w split into range runs of floor(2^64 / range) or one
// more, so each result's probability is within 1 / 2^64 of 1 / range: a relative bias of at most range / 2^64
// (2.3e-10 for a range of 2^32, 1.1e-13 for a vocabulary of 2^21), far below what a test or a training run can see.
extern "C" __global__ void fx_randint(i64 n, i64* __restrict__ dst, i64 low, unsigned long long range, i64 key) {
    i64 groups = (n + 1) / 2;
    FX_GRID_LOOP(g, groups) {
        Philox4 r = philox_group(g, key);
        for (int k = 0; k < 2 && g * 2 + k < n; k++) {
            unsigned long long w = ((unsigned long long)r.v[2 * k] << 32) | r.v[2 * k + 1];
            dst[g * 2 + k] = (i64)((unsigned long long)low + __umul64hi(w, range));
        }
    }
}

// dst (contiguous, n elements of any dtype) = start + i * step computed in double, then stored with the
// conversion rules of store_double: the values of the CPU's arange (double values cast to the dtype).
extern "C" __global__ void fx_arange(i64 n, int type, void* __restrict__ dst, double start, double step) {
    FX_GRID_LOOP(i, n) store_double(type, dst, i, start + (double)i * step);
}

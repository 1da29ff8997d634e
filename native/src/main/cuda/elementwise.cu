// Elementwise unary and binary ops and where(), for every dtype, with broadcasting through strides.
//   x, a, b, cond: any strided view (stride 0 = broadcast dim), walked through an Iter
//   y:             a new contiguous tensor of the logical shape (n elements)
// Op codes mirror dev.fluxion.cuda.Kernels#code(UnaryOp) / #code(BinaryOp).
#include "common.cuh"

enum UnaryCode {
    U_NEG = 0, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_SIGN, U_SIN, U_COS, U_TANH, U_SIGMOID, U_RELU,
    U_GELU, U_GELU_TANH, U_SILU, U_GELU_GRAD, U_GELU_TANH_GRAD, U_SILU_GRAD
};

enum BinaryCode { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE };

// Launch modes chosen by the host (uniform per launch).
enum { MODE_STRIDED = 0, MODE_CONTIGUOUS = 1, MODE_B_SCALAR = 2, MODE_A_SCALAR = 3 };

#define SQRT_2_OVER_PI 0.7978845608028654
#define INV_SQRT_2PI 0.3989422804014327

// ---------------------------------------------------------------- scalar functions

__device__ __forceinline__ float fx_exp(float x) { return expf(x); }
__device__ __forceinline__ double fx_exp(double x) { return exp(x); }
__device__ __forceinline__ float fx_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double fx_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float fx_normcdf(float x) { return normcdff(x); }
__device__ __forceinline__ double fx_normcdf(double x) { return normcdf(x); }

template <typename C> __device__ __forceinline__ C unary_fp(int op, C x) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return fx_exp(x);
        case U_LOG: return log(x);
        case U_SQRT: return sqrt(x);
        case U_RSQRT: return (C)1 / sqrt(x);
        case U_ABS: return fabs(x);
        case U_SIGN: return x > 0 ? (C)1 : (x < 0 ? (C)-1 : x);   // keeps -0 and NaN, as Math.signum
        case U_SIN: return sin(x);
        case U_COS: return cos(x);
        case U_TANH: return fx_tanh(x);
        case U_SIGMOID: return (C)1 / ((C)1 + fx_exp(-x));
        case U_RELU: return x > 0 ? x : (x == x ? (C)0 : x);
        case U_GELU: return x * fx_normcdf(x);
        case U_GELU_TANH: return (C)0.5 * x * ((C)1 + fx_tanh((C)SQRT_2_OVER_PI * (x + (C)0.044715 * x * x * x)));
        case U_SILU: return x / ((C)1 + fx_exp(-x));
        case U_GELU_GRAD: return fx_normcdf(x) + x * (C)INV_SQRT_2PI * fx_exp((C)-0.5 * x * x);
        case U_GELU_TANH_GRAD: {
            C t = fx_tanh((C)SQRT_2_OVER_PI * (x + (C)0.044715 * x * x * x));
            return (C)0.5 * ((C)1 + t) + (C)0.5 * x * ((C)1 - t * t) * (C)SQRT_2_OVER_PI * ((C)1 + (C)(3 * 0.044715) * x * x);
        }
        case U_SILU_GRAD: {
            C s = (C)1 / ((C)1 + fx_exp(-x));
            return s * ((C)1 + x * ((C)1 - s));
        }
        default: return x;
    }
}

__device__ __forceinline__ float unary_op(int op, float x) { return unary_fp<float>(op, x); }
__device__ __forceinline__ double unary_op(int op, double x) { return unary_fp<double>(op, x); }
__device__ __forceinline__ i64 unary_op(int op, i64 x) {      // integers: only the ops the tensor API allows
    switch (op) {
        case U_NEG: return -x;
        case U_ABS: return x < 0 ? -x : x;
        case U_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : 0);
        case U_RELU: return x > 0 ? x : 0;
        default: return x;
    }
}

template <typename C> __device__ __forceinline__ C binary_fp(int op, C a, C b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_POW: return pow(a, b);
        case B_MAXIMUM: return (a != a || b != b) ? a + b : (a > b ? a : b);   // NaN propagates
        case B_MINIMUM: return (a != a || b != b) ? a + b : (a < b ? a : b);
        default: return a;
    }
}

__device__ __forceinline__ float binary_op(int op, float a, float b) { return binary_fp<float>(op, a, b); }
__device__ __forceinline__ double binary_op(int op, double a, double b) { return binary_fp<double>(op, a, b); }
__device__ __forceinline__ i64 binary_op(int op, i64 a, i64 b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_MAXIMUM: return a > b ? a : b;
        case B_MINIMUM: return a < b ? a : b;
        default: return a;                                 // DIV and POW are refused for integers by the API
    }
}

template <typename C> __device__ __forceinline__ bool compare_op(int op, C a, C b) {
    switch (op) {
        case B_EQ: return a == b;
        case B_NE: return a != b;
        case B_LT: return a < b;
        case B_LE: return a <= b;
        case B_GT: return a > b;
        default: return a >= b;
    }
}

// ---------------------------------------------------------------- kernels

template <typename T>
__device__ void unary_kernel(int op, i64 n, const T* __restrict__ x, T* __restrict__ y, Iter it, int mode) {
    typedef typename Acc<T>::type C;
    typedef Packet<T> P;
    if (mode == MODE_CONTIGUOUS && aligned16(x) && aligned16(y)) {
        i64 nv = n / P::N;
        const typename P::type* xv = (const typename P::type*)x;
        typename P::type* yv = (typename P::type*)y;
        FX_GRID_LOOP(i, nv) {
            typename P::type p = xv[i];
#pragma unroll
            for (int k = 0; k < P::N; k++) p.v[k] = from_acc<T>(unary_op(op, to_acc<C>(p.v[k])));
            yv[i] = p;
        }
        FX_GRID_LOOP(i, n - nv * P::N) { i64 j = nv * P::N + i; y[j] = from_acc<T>(unary_op(op, to_acc<C>(x[j]))); }
    } else if (mode == MODE_CONTIGUOUS) {
        FX_GRID_LOOP(i, n) y[i] = from_acc<T>(unary_op(op, to_acc<C>(x[i])));
    } else {
        FX_GRID_LOOP(i, n) y[i] = from_acc<T>(unary_op(op, to_acc<C>(x[iter_offset(it, 0, i)])));
    }
}

// out = op(a, b): arithmetic (O = T) or comparison (O = bool).
template <typename T, typename O, bool CMP>
__device__ __forceinline__ O apply_binary(int op, T a, T b) {
    typedef typename Acc<T>::type C;
    if constexpr (CMP) return compare_op<C>(op, to_acc<C>(a), to_acc<C>(b));
    else return from_acc<O>(binary_op(op, to_acc<C>(a), to_acc<C>(b)));
}

template <typename T, typename O, bool CMP>
__device__ void binary_kernel(int op, i64 n, const T* __restrict__ a, const T* __restrict__ b, O* __restrict__ y, Iter it, int mode) {
    typedef Packet<T> P;
    if (mode == MODE_STRIDED) {
        FX_GRID_LOOP(i, n) {
            i64 oa, ob;
            iter_offset2(it, i, oa, ob);
            y[i] = apply_binary<T, O, CMP>(op, a[oa], b[ob]);
        }
        return;
    }
    // contiguous operands, or one of them a single broadcast element
    bool vec = !CMP && aligned16(y) && (mode == MODE_A_SCALAR || aligned16(a)) && (mode == MODE_B_SCALAR || aligned16(b));
    i64 done = 0;
    if constexpr (!CMP) if (vec) {
        i64 nv = n / P::N;
        T sa = mode == MODE_A_SCALAR ? a[0] : T(), sb = mode == MODE_B_SCALAR ? b[0] : T();
        FX_GRID_LOOP(i, nv) {
            typename P::type pa, pb, py;
            if (mode == MODE_A_SCALAR) { for (int k = 0; k < P::N; k++) pa.v[k] = sa; } else pa = ((const typename P::type*)a)[i];
            if (mode == MODE_B_SCALAR) { for (int k = 0; k < P::N; k++) pb.v[k] = sb; } else pb = ((const typename P::type*)b)[i];
#pragma unroll
            for (int k = 0; k < P::N; k++) py.v[k] = apply_binary<T, T, false>(op, pa.v[k], pb.v[k]);
            ((typename P::type*)y)[i] = py;
        }
        done = nv * P::N;
    }
    FX_GRID_LOOP(i, n - done) {
        i64 j = done + i;
        y[j] = apply_binary<T, O, CMP>(op, a[mode == MODE_A_SCALAR ? 0 : j], b[mode == MODE_B_SCALAR ? 0 : j]);
    }
}

// y = cond ? a : b; only the element size matters.
template <typename S>
__device__ void where_kernel(i64 n, const bool* __restrict__ cond, const S* __restrict__ a, const S* __restrict__ b, S* __restrict__ y, Iter it) {
    FX_GRID_LOOP(i, n) {
        i64 oc, oa, ob;
        iter_offset3(it, i, oc, oa, ob);
        y[i] = cond[oc] ? a[oa] : b[ob];
    }
}

// ---------------------------------------------------------------- entry points

#define FX_UNARY(name, T) \
    extern "C" __global__ void fx_unary_##name(int op, i64 n, const T* x, T* y, Iter it, int mode) { unary_kernel<T>(op, n, x, y, it, mode); }
#define FX_BINARY(name, T) \
    extern "C" __global__ void fx_binary_##name(int op, i64 n, const T* a, const T* b, T* y, Iter it, int mode) { binary_kernel<T, T, false>(op, n, a, b, y, it, mode); }
#define FX_COMPARE(name, T) \
    extern "C" __global__ void fx_compare_##name(int op, i64 n, const T* a, const T* b, bool* y, Iter it, int mode) { binary_kernel<T, bool, true>(op, n, a, b, y, it, mode); }

FX_UNARY(f32, float) FX_UNARY(f64, double) FX_UNARY(f16, __half) FX_UNARY(bf16, bf16)
FX_UNARY(i64, i64) FX_UNARY(i32, int) FX_UNARY(i8, int8_t) FX_UNARY(u8, uint8_t)

FX_BINARY(f32, float) FX_BINARY(f64, double) FX_BINARY(f16, __half) FX_BINARY(bf16, bf16)
FX_BINARY(i64, i64) FX_BINARY(i32, int) FX_BINARY(i8, int8_t) FX_BINARY(u8, uint8_t)

FX_COMPARE(f32, float) FX_COMPARE(f64, double) FX_COMPARE(f16, __half) FX_COMPARE(bf16, bf16)
FX_COMPARE(i64, i64) FX_COMPARE(i32, int) FX_COMPARE(i8, int8_t) FX_COMPARE(u8, uint8_t) FX_COMPARE(bool, bool)

extern "C" __global__ void fx_where_1(i64 n, const bool* c, const uint8_t* a, const uint8_t* b, uint8_t* y, Iter it) { where_kernel(n, c, a, b, y, it); }
extern "C" __global__ void fx_where_2(i64 n, const bool* c, const uint16_t* a, const uint16_t* b, uint16_t* y, Iter it) { where_kernel(n, c, a, b, y, it); }
extern "C" __global__ void fx_where_4(i64 n, const bool* c, const uint32_t* a, const uint32_t* b, uint32_t* y, Iter it) { where_kernel(n, c, a, b, y, it); }
extern "C" __global__ void fx_where_8(i64 n, const bool* c, const uint64_t* a, const uint64_t* b, uint64_t* y, Iter it) { where_kernel(n, c, a, b, y, it); }

// ---------------------------------------------------------------- fused activation backward
// The kernels of the tensor module's ReluBackwardOp and ActivationBackwardOp: dx from the gradient and x in one pass,
// where the composed paths write a mask or derivative tensor and run a second kernel over it. act: ACT_RELU (x is
// ReLU's output: x <= 0 ? +0 : grad, so a NaN output passes the gradient, as PyTorch's threshold_backward), ACT_GELU,
// ACT_GELU_TANH, ACT_SILU (grad * act'(x), the derivative rounded to T before the product, as the composed path's
// derivative tensor is: the same bits). grad and x: operands 0 and 1 of it, read in place when contiguous != 0 (both
// contiguous); dx: contiguous.
enum { ACT_RELU = 0, ACT_GELU, ACT_GELU_TANH, ACT_SILU };

template <typename T>
__device__ void act_backward_kernel(int act, i64 n, const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ dx, Iter it, int contiguous) {
    typedef typename Acc<T>::type C;
    const int derivative = act == ACT_GELU ? U_GELU_GRAD : act == ACT_GELU_TANH ? U_GELU_TANH_GRAD : U_SILU_GRAD;
    FX_GRID_LOOP(i, n) {
        i64 og = i, ox = i;
        if (!contiguous) iter_offset2(it, i, og, ox);
        C xc = to_acc<C>(x[ox]);
        if (act == ACT_RELU) dx[i] = xc <= (C)0 ? from_acc<T>((C)0) : g[og];
        else dx[i] = from_acc<T>(to_acc<C>(g[og]) * to_acc<C>(from_acc<T>(unary_op(derivative, xc))));
    }
}

#define FX_ACT_BWD(name, T)                                                                                               \
    extern "C" __global__ void fx_act_bwd_##name(int act, i64 n, const T* g, const T* x, T* dx, Iter it, int contiguous) { \
        act_backward_kernel<T>(act, n, g, x, dx, it, contiguous);                                                        \
    }
FX_ACT_BWD(f32, float) FX_ACT_BWD(f64, double) FX_ACT_BWD(f16, __half) FX_ACT_BWD(bf16, bf16)

/*
 * Fluxion's hot float32 CPU kernels, for the JVM through JNI (dev.fluxion.tensor.cpu.NativeKernels).
 *
 * Why native: on JDK 17 C2 compiles the Vector API bodies of these kernels to SIMD only when the profiles and
 * inlining decisions of a run happen to line up. In a run where other vector code got hot first, the same body
 * boxes every vector (VectorSupport.store "missing constant: vclass=DecodeN"), allocating hundreds of MB per
 * GPT step and running 5-20x slower, and no JVM flag a library can set changes that. gcc's auto-vectorised
 * loops below are the same on every run.
 *
 * Every function computes each element with the same IEEE float operations in the same order as the scalar
 * Java loops (FloatKernels.lane, ScalarMath, CpuAdam's tail), so the results are bitwise equal to the Java
 * path: compiled with -ffp-contract=off (no fused multiply-add unless written as fmaf, as Math.fma is in Java)
 * and without -ffast-math. Each kernel is built three times (AVX-512, AVX2+FMA, baseline x86-64) and the
 * loader picks the one the CPU runs (target_clones); all three give the same bits.
 */
#define _POSIX_C_SOURCE 200112L   /* setenv */
#include <jni.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* Op codes, as NativeKernels numbers them. */
enum { U_NEG, U_ABS, U_SQRT, U_RSQRT, U_EXP, U_LOG, U_TANH, U_RELU, U_GELU, U_SIGMOID, U_SILU, U_GELU_TANH,
       U_GELU_GRAD, U_GELU_TANH_GRAD, U_SILU_GRAD };
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE };

#define SUM_LANES 16

/* gcc vector extension: two of these hold the 16 lanes of a sum or max (gcc does not vectorise those loops over a float[16]) */
typedef float vf8 __attribute__((vector_size(32)));
typedef int vi8 __attribute__((vector_size(32)));
#define BLOCK 2048   /* elements per block of the whole-range entry points: a few arrays of it stay in L1/L2 */

static const double INV_SQRT2 = 0.7071067811865476, INV_SQRT_2PI = 0.3989422804014327,
                    SQRT_2_OVER_PI = 0.7978845608028654;
static const float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float EXP_HI = 88.7228394f, EXP_LO = -87.3365479f, MAGIC = 12582912.0f;
static const uint32_t MAGIC_BITS = 0x4B400000u;
static const float SQRTHF = 0.707106781186547524f;

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* ScalarMath.exp for an x that is not NaN and not above EXP_HI, as x - max of a row with a finite max (<= 0, or
 * -inf). fx_exp below adds the upper clamp and the +inf and NaN selects; without them (such an x cannot reach
 * them) the softmax exp is about 30% cheaper (0.43 -> 0.31 ns per element on AVX-512). */
static inline float fx_exp_capped(float x) {
    float xc = x > EXP_LO ? x : EXP_LO;
    float shifted = xc * LOG2E + MAGIC;
    float n = shifted - MAGIC;
    float r = xc - n * LN2_HI - n * LN2_LO;
    float r2 = r * r;
    float p = ((((r * 1.9875691500e-4f + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f)
               * r + 1.6666665459e-1f) * r + 5.0000001201e-1f;
    float y = p * r2 + r + 1.0f;
    float out = y * float_of((bits_of(shifted) - (MAGIC_BITS - 127u)) << 23);
    return x < EXP_LO ? 0.0f : out;
}

/* ScalarMath.exp: x clamped to [EXP_LO, EXP_HI] (high end first here, the same value), infinity above the range,
 * NaN kept. */
static inline float fx_exp(float x) {
    float out = fx_exp_capped(x < EXP_HI ? x : EXP_HI);     /* NaN becomes EXP_HI here and is put back below */
    out = x > EXP_HI ? INFINITY : out;
    return x != x ? x : out;
}

/* ScalarMath.log. Inputs outside the normal range take libm's double log where Java takes Math.log: both exact
 * on 0, negatives, infinities and NaN; on a denormal the two doubles could differ in the last bit, which changes
 * the float only when it falls on a rounding boundary (none seen; NativeKernelsTest covers denormals). */
static inline float fx_log(float x) {
    if (!(x >= 1.17549435e-38f && x < INFINITY)) return (float) log((double) x);
    uint32_t b = bits_of(x);
    int32_t e = (int32_t) (b >> 23) - 126;
    float m = float_of((b & 0x807fffffu) | 0x3f000000u);
    float ef = float_of((uint32_t) e + MAGIC_BITS) - MAGIC;
    if (m < SQRTHF) { ef = ef - 1.0f; m = m + m - 1.0f; } else m = m - 1.0f;
    float z = m * m;
    float y = ((((((((m * 7.0376836292e-2f + -1.1514610310e-1f) * m + 1.1676998740e-1f) * m + -1.2420140846e-1f)
               * m + 1.4249322787e-1f) * m + -1.6668057665e-1f) * m + 2.0000714765e-1f) * m + -2.4999993993e-1f)
               * m + 3.3333331174e-1f) * m * z;
    y = y + ef * LN2_LO - z * 0.5f;
    return m + y + ef * LN2_HI;
}

/* ScalarMath.tanh, branch-free so the loop vectorises: both halves computed, one kept. */
static inline float fx_tanh(float x) {
    float ax = fabsf(x);
    float z = x * x;
    float p = (((z * -5.70498872745e-3f + 2.06390887954e-2f) * z + -5.37397155531e-2f) * z + 1.33314422036e-1f)
              * z + -3.33332819422e-1f;
    float small = p * z * x + x;
    float a2 = ax * 2.0f;
    float e = fx_exp(a2 < EXP_HI ? a2 : EXP_HI);
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0.0f ? -big : big;
    float out = ax < 0.625f ? small : big;
    return (x != x || x == 0.0f) ? x : out;
}

/* ScalarMath.normalCdf */
static inline float fx_normal_cdf(float x) {
    float z = fabsf(x) * (float) INV_SQRT2;
    float t = 1.0f / (z * 0.5f + 1.0f);
    float poly = ((((((((t * 0.17087277f + -0.82215223f) * t + 1.48851587f) * t + -1.13520398f) * t + 0.27886807f)
                  * t + -0.18628806f) * t + 0.09678418f) * t + 0.37409196f) * t + 1.00002368f) * t + -1.26551223f;
    float r = t * fx_exp(-(z * z) + poly);
    float half = r * 0.5f;
    return x < 0.0f ? half : 1.0f - half;
}

/* Java's Math.max(v, 0f): NaN stays NaN, -0 becomes +0. */
static inline float fx_relu(float v) { return v != v ? v : (v > 0.0f ? v : 0.0f); }

/* One loop per op, so each vectorises on its own; ivdep, not restrict: x and y may be the same array (in place). */
#define MAP(body) _Pragma("GCC ivdep") for (int i = 0; i < n; i++) { float v = x[i]; y[i] = (body); } return n
CLONES static int unary_kernel(int op, const float *x, float *y, int n) {   /* x == y allowed (in place) */
    switch (op) {
        case U_NEG: MAP(-v);
        case U_ABS: MAP(fabsf(v));
        case U_SQRT: MAP(sqrtf(v));
        case U_RSQRT: MAP(1.0f / sqrtf(v));
        case U_EXP: MAP(fx_exp(v));
        case U_LOG: MAP(fx_log(v));
        case U_TANH: MAP(fx_tanh(v));
        case U_RELU: MAP(fx_relu(v));
        case U_GELU: MAP(v * fx_normal_cdf(v));
        case U_SIGMOID: MAP(1.0f / (fx_exp(-v) + 1.0f));
        case U_SILU: MAP(v / (fx_exp(-v) + 1.0f));
        case U_GELU_TANH: {
            _Pragma("GCC ivdep") for (int i = 0; i < n; i++) {
                float v = x[i];
                float twoU = (v * v * 0.044715f + 1.0f) * v * (float) (2 * SQRT_2_OVER_PI);
                y[i] = v / (fx_exp(-twoU) + 1.0f);
            }
            return n;
        }
        case U_GELU_GRAD: MAP(fx_normal_cdf(v) + v * (fx_exp(v * v * -0.5f) * (float) INV_SQRT_2PI));
        case U_GELU_TANH_GRAD: {
            _Pragma("GCC ivdep") for (int i = 0; i < n; i++) {
                float v = x[i], v2 = v * v;
                float twoU = (v2 * 0.044715f + 1.0f) * v * (float) (2 * SQRT_2_OVER_PI);
                float sg = 1.0f / (fx_exp(-twoU) + 1.0f);
                float du = (v2 * (3 * 0.044715f) + 1.0f) * (float) SQRT_2_OVER_PI;
                y[i] = sg + v * 2.0f * sg * (1.0f - sg) * du;
            }
            return n;
        }
        case U_SILU_GRAD: {
            _Pragma("GCC ivdep") for (int i = 0; i < n; i++) {
                float v = x[i], sg = 1.0f / (fx_exp(-v) + 1.0f);
                y[i] = sg * (v * (1.0f - sg) + 1.0f);
            }
            return n;
        }
        default: return 0;
    }
}
#undef MAP

/* ivdep, not restrict: y may be a or b (in place). */
#define ZIP(body) _Pragma("GCC ivdep") for (int i = 0; i < n; i++) { float p = a[i], q = b[i]; y[i] = (body); } return n
CLONES static int binary_kernel(int op, const float *a, const float *b, float *y, int n) {
    switch (op) {
        case B_ADD: ZIP(p + q);
        case B_SUB: ZIP(p - q);
        case B_MUL: ZIP(p * q);
        case B_DIV: ZIP(p / q);
        case B_EQ: ZIP(p == q ? 1.0f : 0.0f);
        case B_NE: ZIP(p != q ? 1.0f : 0.0f);
        case B_LT: ZIP(p < q ? 1.0f : 0.0f);
        case B_LE: ZIP(p <= q ? 1.0f : 0.0f);
        case B_GT: ZIP(p > q ? 1.0f : 0.0f);
        case B_GE: ZIP(p >= q ? 1.0f : 0.0f);
        default: return 0;
    }
}
#undef ZIP

/* FloatKernels.sum: element i into float accumulator i % 16, the accumulators added in order in double, then the tail. */
CLONES static double sum_kernel(const float *restrict x, int n) {
    vf8 a0 = {0}, a1 = {0};                                    /* accumulators 0..7 and 8..15 */
    int i = 0, bound = n - n % SUM_LANES;
    for (; i < bound; i += SUM_LANES) {
        vf8 v0, v1;
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + 8, sizeof v1);
        a0 += v0;
        a1 += v1;
    }
    double s = 0;
    for (int j = 0; j < 8; j++) s += a0[j];
    for (int j = 0; j < 8; j++) s += a1[j];
    for (; i < n; i++) s += x[i];
    return s;
}

/* FloatKernels.dot: 16 float fma chains, added in order in double, then the tail in double. */
CLONES static double dot_kernel(const float *restrict a, const float *restrict b, int n) {
    float acc[SUM_LANES] = {0};
    int i = 0, bound = n - n % SUM_LANES;
    for (; i < bound; i += SUM_LANES)
        for (int j = 0; j < SUM_LANES; j++) acc[j] = fmaf(a[i + j], b[i + j], acc[j]);
    double s = 0;
    for (int j = 0; j < SUM_LANES; j++) s += acc[j];
    for (; i < n; i++) s += (double) a[i] * b[i];
    return s;
}

/* Java's max over floats: any NaN gives NaN, and +0 beats -0. Sixteen running maxima side by side in two vectors
 * of gcc's vector extension (gcc does not vectorise the same loop over a float[16], 8x slower), the selects as bit
 * masks and the NaNs counted apart; the order does not change a max. */
static inline float java_max(float a, float b) { return a != a || b != b ? NAN : (a > b ? a : b); }

CLONES static float max_kernel(const float *restrict x, int n) {
    vf8 a0, a1;
    vi8 nan0 = {0}, nan1 = {0};
    for (int j = 0; j < 8; j++) { a0[j] = -INFINITY; a1[j] = -INFINITY; }
    int i = 0, bound = n - n % SUM_LANES;
    for (; i < bound; i += SUM_LANES) {
        vf8 v0, v1;
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + 8, sizeof v1);
        vi8 g0 = v0 > a0, g1 = v1 > a1;
        a0 = (vf8) (((vi8) v0 & g0) | ((vi8) a0 & ~g0));
        a1 = (vf8) (((vi8) v1 & g1) | ((vi8) a1 & ~g1));
        nan0 |= v0 != v0;
        nan1 |= v1 != v1;
    }
    float m = -INFINITY;
    int anyNan = 0;
    for (int j = 0; j < 8; j++) { m = java_max(m, a0[j]); m = java_max(m, a1[j]); anyNan |= nan0[j] | nan1[j]; }
    for (; i < n; i++) m = java_max(m, x[i]);
    if (anyNan) return NAN;
    if (m == 0.0f)                                             /* a -0 kept over a +0 that came later */
        for (i = 0; i < n; i++) if (bits_of(x[i]) == 0u) return 0.0f;
    return m;
}

/* softmax of row x written to y (the same row, in place, or other memory): the row max (0 when all are -inf),
 * exp(x - max), and the sum as sum_kernel adds it, returned; y is scaled by 1/sum. FloatKernels.softmaxRow's
 * operations per element, and CpuReduce.softmax's buffer-to-buffer rows, the copy folded into the exp pass. */
CLONES static double softmax_row_into(const float *x, float *y, int n) {
    float max = max_kernel(x, n);
    if (max == -INFINITY) max = 0.0f;
    if (max - max != 0.0f) {                             /* NaN or +inf in the row: x - max may be NaN; the general exp */
        _Pragma("GCC ivdep") for (int i = 0; i < n; i++) y[i] = x[i] - max;
        unary_kernel(U_EXP, y, y, n);
    } else {
        _Pragma("GCC ivdep") for (int i = 0; i < n; i++) y[i] = fx_exp_capped(x[i] - max);
    }
    double sum = sum_kernel(y, n);
    float inv = (float) (1 / sum);
    for (int i = 0; i < n; i++) y[i] *= inv;
    return sum;
}

/* FloatKernels.softmaxRow, or the first part of logSoftmaxRow, in one call. log-softmax leaves v = x - max and
 * the exps in tmp, and returns their sum: Java takes the log of it (Math.log, whose last bit may differ from
 * libm's) and subtracts it. */
CLONES static double softmax_row_kernel(float *restrict v, int n, int log_softmax, float *restrict tmp) {
    if (!log_softmax) return softmax_row_into(v, v, n);
    float max = max_kernel(v, n);
    if (max == -INFINITY) max = 0.0f;
    for (int i = 0; i < n; i++) v[i] -= max;
    if (max - max != 0.0f) unary_kernel(U_EXP, v, tmp, n);       /* NaN or +inf in the row: the general exp */
    else for (int i = 0; i < n; i++) tmp[i] = fx_exp_capped(v[i]);
    return sum_kernel(tmp, n);
}

CLONES static void select_kernel(const float *restrict c, const float *restrict a, const float *restrict b,
                                 float *restrict y, int n) {
    for (int i = 0; i < n; i++) y[i] = c[i] != 0.0f ? a[i] : b[i];
}

CLONES static void relu_backward_kernel(const float *restrict g, const float *restrict out, float *restrict y, int n) {
    for (int i = 0; i < n; i++) y[i] = out[i] <= 0.0f ? 0.0f : g[i];
}

CLONES static void accumulate_kernel(const float *restrict x, float *restrict y, int n) {
    for (int i = 0; i < n; i++) y[i] += x[i];
}

/* CpuAdam's loop, in place over the tensors' own memory: the same float ops as its scalar tail. */
CLONES static void adam_kernel(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                               float *restrict vmax, long n, float b1, float omb1, float b2, float omb2, float eps,
                               float wd, float decay, int l2, int decoupled, float negStep, float bc2) {
    for (long i = 0; i < n; i++) {
        float pv = p[i], gv = l2 ? g[i] + pv * wd : g[i];
        float base = decoupled ? pv * decay : pv;
        float mv = m[i] * b1 + gv * omb1, vv = v[i] * b2 + gv * omb2 * gv;
        float sel = vv;
        if (vmax) { float old = vmax[i]; sel = (old != old || vv != vv) ? NAN : (old > vv ? old : vv); vmax[i] = sel; }
        float denom = sqrtf(sel) / bc2 + eps;
        p[i] = base + mv * negStep / denom;
        m[i] = mv;
        v[i] = vv;
    }
}

/* CpuSgd's loop, in place: the float ops of SgdUpdate.compose in its order (m: momentum buffer or NULL). */
CLONES static void sgd_kernel(float *restrict p, const float *restrict g, float *restrict m, long n, float wd, float mom,
                              float omd, float negLr, int decay, int damp, int first, int nesterov) {
    for (long i = 0; i < n; i++) {
        float d = decay ? g[i] + p[i] * wd : g[i];
        if (m) {
            float next = first ? d : m[i] * mom + (damp ? d * omd : d);
            m[i] = next;
            d = nesterov ? d + next * mom : next;
        }
        p[i] = p[i] + d * negLr;
    }
}

/* ---- JNI entry points: float[] arrays are pinned for the call (chunks of at most a few thousand floats). ---- */

#define JNIFN(ret, name) JNIEXPORT ret JNICALL Java_dev_fluxion_tensor_cpu_NativeKernels_##name
#define PIN(arr) (float *) (*env)->GetPrimitiveArrayCritical(env, arr, NULL)
#define UNPIN(arr, ptr, mode) (*env)->ReleasePrimitiveArrayCritical(env, arr, ptr, mode)

JNIFN(jint, unary)(JNIEnv *env, jclass c, jint op, jfloatArray xa, jfloatArray ya, jint n) {
    float *x = PIN(xa), *y = xa == ya ? x : PIN(ya);
    int done = unary_kernel(op, x, y, n);
    if (ya != xa) UNPIN(ya, y, 0);
    UNPIN(xa, x, 0);
    return done;
}

JNIFN(jint, binary)(JNIEnv *env, jclass c, jint op, jfloatArray aa, jfloatArray ba, jfloatArray ya, jint n) {
    float *a = PIN(aa), *b = PIN(ba), *y = PIN(ya);
    int done = binary_kernel(op, a, b, y, n);
    UNPIN(ya, y, 0); UNPIN(ba, b, JNI_ABORT); UNPIN(aa, a, JNI_ABORT);
    return done;
}

JNIFN(jdouble, sum)(JNIEnv *env, jclass c, jfloatArray xa, jint n) {
    float *x = PIN(xa);
    double s = sum_kernel(x, n);
    UNPIN(xa, x, JNI_ABORT);
    return s;
}

JNIFN(jdouble, dot)(JNIEnv *env, jclass c, jfloatArray aa, jfloatArray ba, jint n) {
    float *a = PIN(aa), *b = PIN(ba);
    double s = dot_kernel(a, b, n);
    UNPIN(ba, b, JNI_ABORT); UNPIN(aa, a, JNI_ABORT);
    return s;
}

JNIFN(jfloat, max)(JNIEnv *env, jclass c, jfloatArray xa, jint n) {
    float *x = PIN(xa);
    float m = max_kernel(x, n);
    UNPIN(xa, x, JNI_ABORT);
    return m;
}

JNIFN(jdouble, softmaxRow)(JNIEnv *env, jclass c, jfloatArray va, jint n, jboolean logSoftmax, jfloatArray ta) {
    float *v = PIN(va), *t = ta == NULL ? NULL : PIN(ta);
    double sum = softmax_row_kernel(v, n, logSoftmax, t);
    if (t != NULL) UNPIN(ta, t, JNI_ABORT);
    UNPIN(va, v, 0);
    return sum;
}

JNIFN(void, select)(JNIEnv *env, jclass c, jfloatArray ca, jfloatArray aa, jfloatArray ba, jfloatArray ya, jint n) {
    float *cd = PIN(ca), *a = PIN(aa), *b = PIN(ba), *y = PIN(ya);
    select_kernel(cd, a, b, y, n);
    UNPIN(ya, y, 0); UNPIN(ba, b, JNI_ABORT); UNPIN(aa, a, JNI_ABORT); UNPIN(ca, cd, JNI_ABORT);
}

JNIFN(void, accumulate)(JNIEnv *env, jclass c, jfloatArray xa, jfloatArray ya, jint n) {
    float *x = PIN(xa), *y = PIN(ya);
    accumulate_kernel(x, y, n);
    UNPIN(ya, y, 0); UNPIN(xa, x, JNI_ABORT);
}

/* Direct buffers, element offsets: Adam steps elements [lo, hi) of each tensor where it lives. */
static float *floats_at(JNIEnv *env, jobject buf, jlong off) {
    return buf == NULL ? NULL : (float *) (*env)->GetDirectBufferAddress(env, buf) + off;
}

JNIFN(void, adam)(JNIEnv *env, jclass c, jobject pb, jlong po, jobject gb, jlong go, jobject mb, jlong mo, jobject vb,
                  jlong vo, jobject xb, jlong xo, jlong n, jfloat b1, jfloat omb1, jfloat b2, jfloat omb2, jfloat eps,
                  jfloat wd, jfloat decay, jboolean l2, jboolean decoupled, jfloat negStep, jfloat bc2) {
    adam_kernel(floats_at(env, pb, po), floats_at(env, gb, go), floats_at(env, mb, mo), floats_at(env, vb, vo),
                floats_at(env, xb, xo), n, b1, omb1, b2, omb2, eps, wd, decay, l2, decoupled, negStep, bc2);
}

JNIFN(void, sgd)(JNIEnv *env, jclass c, jobject pb, jlong po, jobject gb, jlong go, jobject mb, jlong mo, jlong n, jfloat wd,
                 jfloat mom, jfloat omd, jfloat negLr, jboolean decay, jboolean damp, jboolean first, jboolean nesterov) {
    sgd_kernel(floats_at(env, pb, po), floats_at(env, gb, go), floats_at(env, mb, mo), n, wd, mom, omd, negLr, decay, damp,
               first, nesterov);
}

/* Whole contiguous ranges in the tensors' own direct buffers (element offsets), no copies through Java arrays. */

JNIFN(jlong, unaryAt)(JNIEnv *env, jclass c, jint op, jobject xb, jlong xo, jobject yb, jlong yo, jlong n) {
    float *x = floats_at(env, xb, xo), *y = floats_at(env, yb, yo);
    for (jlong at = 0; at < n; at += BLOCK) {
        int len = (int) (n - at < BLOCK ? n - at : BLOCK);
        if (unary_kernel(op, x + at, y + at, len) == 0) return 0;
    }
    return n;
}

JNIFN(jlong, binaryAt)(JNIEnv *env, jclass c, jint op, jobject ab, jlong ao, jobject bb, jlong bo, jobject yb, jlong yo, jlong n) {
    float *a = floats_at(env, ab, ao), *b = floats_at(env, bb, bo), *y = floats_at(env, yb, yo);
    for (jlong at = 0; at < n; at += BLOCK) {
        int len = (int) (n - at < BLOCK ? n - at : BLOCK);
        if (binary_kernel(op, a + at, b + at, y + at, len) == 0) return 0;
    }
    return n;
}

/* ActivationBackwardOp: y = g * derivative(x), block by block so the derivative is still in cache for the product. */
JNIFN(void, gradTimesDerivativeAt)(JNIEnv *env, jclass c, jint op, jobject gb, jlong go, jobject xb, jlong xo, jobject yb, jlong yo, jlong n) {
    float *g = floats_at(env, gb, go), *x = floats_at(env, xb, xo), *y = floats_at(env, yb, yo);
    for (jlong at = 0; at < n; at += BLOCK) {
        int len = (int) (n - at < BLOCK ? n - at : BLOCK);
        unary_kernel(op, x + at, y + at, len);
        binary_kernel(B_MUL, g + at, y + at, y + at, len);
    }
}

JNIFN(void, reluBackwardAt)(JNIEnv *env, jclass c, jobject gb, jlong go, jobject ob, jlong oo, jobject yb, jlong yo, jlong n) {
    relu_backward_kernel(floats_at(env, gb, go), floats_at(env, ob, oo), floats_at(env, yb, yo), (int) n);
}

/* CpuReduce.sumLeading for float32: columns [c0, c0 + m) of a rows x cols matrix summed over the rows into y, the
 * float partial sums widened to double every 64 rows, in chunks of 2048 columns, as the Java loop does. */
CLONES static void sum_leading_kernel(const float *x, long rows, long cols, long c0, long m, float *y) {
    float acc[BLOCK];
    double wide[BLOCK];
    for (long at = c0; at < c0 + m; at += BLOCK) {
        int len = (int) (c0 + m - at < BLOCK ? c0 + m - at : BLOCK);
        for (int i = 0; i < len; i++) { acc[i] = 0.0f; wide[i] = 0.0; }
        for (long r = 0; r < rows; r++) {
            accumulate_kernel(x + r * cols + at, acc, len);
            if ((r & 63) == 63) {
                for (int i = 0; i < len; i++) { wide[i] += acc[i]; acc[i] = 0.0f; }
            }
        }
        for (int i = 0; i < len; i++) y[at + i] = (float) (wide[i] + acc[i]);
    }
}

JNIFN(void, sumLeadingAt)(JNIEnv *env, jclass c, jobject xb, jlong xo, jlong rows, jlong cols, jlong c0, jlong m, jobject yb, jlong yo) {
    sum_leading_kernel(floats_at(env, xb, xo), rows, cols, c0, m, floats_at(env, yb, yo));
}

/* CpuLayerNorm.forward over rows [from, to) of c floats: mean (the row sum in double / c, to float), centred row,
 * rstd = 1 / sqrt(dot(centred, centred) / c + eps) in double, y = centred rstd w + b; the Java row steps, same bits. */
CLONES static void layer_norm_forward_rows(const float *x, const float *w, const float *b, float *y, float *means, float *rstds,
                                           long from, long to, int c, double eps) {
    for (long r = from; r < to; r++) {
        const float *xr = x + r * c;
        float *yr = y + r * c;
        float mean = (float) (sum_kernel(xr, c) / c);
        for (int i = 0; i < c; i++) yr[i] = xr[i] - mean;
        float rstd = (float) (1 / sqrt(dot_kernel(yr, yr, c) / c + eps));
        means[r] = mean;
        rstds[r] = rstd;
        for (int i = 0; i < c; i++) yr[i] = yr[i] * rstd * w[i] + b[i];
    }
}

JNIFN(void, layerNormForwardRows)(JNIEnv *env, jclass c_, jobject xb, jlong xo, jfloatArray wa, jfloatArray ba, jobject yb, jlong yo,
                                  jobject mb, jlong mo, jobject rb, jlong ro, jlong from, jlong to, jint c, jdouble eps) {
    float *x = floats_at(env, xb, xo), *y = floats_at(env, yb, yo), *means = floats_at(env, mb, mo), *rstds = floats_at(env, rb, ro);
    float *w = PIN(wa), *b = PIN(ba);
    layer_norm_forward_rows(x, w, b, y, means, rstds, from, to, c, eps);
    UNPIN(ba, b, JNI_ABORT);
    UNPIN(wa, w, JNI_ABORT);
}

/* The rows of layerNormBackwardRows below; xhat and gw: c floats of scratch each. */
CLONES static void layer_norm_backward_rows(const float *x, const float *g, const float *w, const float *means, const float *rstds,
                                            float *dx, long from, long to, int c, float *restrict dw, float *restrict dbias,
                                            float *restrict xhat, float *restrict gw) {
    int bound = c - c % SUM_LANES;
    for (long r = from; r < to; r++) {
        const float *xr = x + r * c, *gr = g + r * c;
        float *dxr = dx + r * c, mean = means[r], rstd = rstds[r];
        /* One pass for xhat, g w, the dw and db sums and sum(g w) (sum_kernel's lanes: 0..7 and 8..15, in float,
         * then added in double, then the tail): the four loops and the sum of the Java row, fused, so a row is
         * read three times instead of seven (0.38 -> 0.33 ns per element with the rows in cache; each element gets
         * the same operations). */
        vf8 a0 = {0}, a1 = {0};
        for (int i = 0; i < bound; i += SUM_LANES) {
            for (int h = 0; h < SUM_LANES; h += 8) {
                vf8 xv, gv, wv, dwv, dbv;
                memcpy(&xv, xr + i + h, sizeof xv);
                memcpy(&gv, gr + i + h, sizeof gv);
                memcpy(&wv, w + i + h, sizeof wv);
                memcpy(&dwv, dw + i + h, sizeof dwv);
                memcpy(&dbv, dbias + i + h, sizeof dbv);
                vf8 xh = (xv - mean) * rstd, gwv = gv * wv;
                dwv += gv * xh;
                dbv += gv;
                memcpy(xhat + i + h, &xh, sizeof xh);
                memcpy(gw + i + h, &gwv, sizeof gwv);
                memcpy(dw + i + h, &dwv, sizeof dwv);
                memcpy(dbias + i + h, &dbv, sizeof dbv);
                if (h == 0) a0 += gwv; else a1 += gwv;
            }
        }
        double sum = 0;
        for (int j = 0; j < 8; j++) sum += a0[j];
        for (int j = 0; j < 8; j++) sum += a1[j];
        for (int i = bound; i < c; i++) {
            xhat[i] = (xr[i] - mean) * rstd;
            gw[i] = gr[i] * w[i];
            dw[i] += gr[i] * xhat[i];
            dbias[i] += gr[i];
            sum += gw[i];
        }
        float m1 = (float) (sum / c), m2 = (float) (dot_kernel(gw, xhat, c) / c);
        for (int i = 0; i < c; i++) dxr[i] = (gw[i] - m1 - xhat[i] * m2) * rstd;
    }
}

/* CpuLayerNorm.backwardRow over rows [from, to): dw += g xhat and db += g into this piece's partial sums, and
 * dx = (g w - mean(g w) - xhat mean(g w xhat)) rstd; the Java row steps, same bits. */
JNIFN(void, layerNormBackwardRows)(JNIEnv *env, jclass c_, jobject xb, jlong xo, jobject gb, jlong go, jfloatArray wa,
                                   jobject mb, jlong mo, jobject rb, jlong ro, jobject db, jlong dxo, jlong from, jlong to,
                                   jint c, jfloatArray dwa, jfloatArray dba) {
    float *x = floats_at(env, xb, xo), *g = floats_at(env, gb, go), *means = floats_at(env, mb, mo), *rstds = floats_at(env, rb, ro);
    float *dx = floats_at(env, db, dxo);
    float *scratch = malloc(2 * (size_t) c * sizeof(float));
    if (scratch == NULL) { (*env)->ThrowNew(env, (*env)->FindClass(env, "java/lang/OutOfMemoryError"), "layer_norm backward scratch"); return; }
    float *w = PIN(wa), *dw = PIN(dwa), *dbias = PIN(dba);
    layer_norm_backward_rows(x, g, w, means, rstds, dx, from, to, c, dw, dbias, scratch, scratch + c);
    UNPIN(dba, dbias, 0);
    UNPIN(dwa, dw, 0);
    UNPIN(wa, w, JNI_ABORT);
    free(scratch);
}

/* lanes of a where mask is 0, of b where it is all ones (a comparison's result); the casts reinterpret the bits */
#define SELECT8(mask, b, a) ((vf8) ((((vi8) (b)) & (mask)) | (((vi8) (a)) & ~(mask))))

/* CpuWindows.max2x2At for q in [0, n - n % 8): m[q], the max of x[q], x[q+1], x[q+w], x[q+w+1], and which[q] in 0..3,
 * the first holding it (a NaN wins); left against right, then top against bottom, as the Java rule. In gcc's vector
 * extension with the selects as bit masks (gcc left the ?: form scalar). Returns where it stopped. */
CLONES static int max2x2_kernel(const float *x, int w, float *m, float *which, int n) {
    int q = 0, bound = n - n % 8;
    const vi8 one = {1, 1, 1, 1, 1, 1, 1, 1}, two = {2, 2, 2, 2, 2, 2, 2, 2};
    for (; q < bound; q += 8) {
        vf8 a, b, c, d;
        memcpy(&a, x + q, sizeof a);
        memcpy(&b, x + q + 1, sizeof b);
        memcpy(&c, x + q + w, sizeof c);
        memcpy(&d, x + q + w + 1, sizeof d);
        vi8 tb = (b > a) | ((b != b) & (a == a));               /* takes(b, a): greater, or NaN over a number */
        vi8 td = (d > c) | ((d != d) & (c == c));
        vf8 top = SELECT8(tb, b, a), bottom = SELECT8(td, d, c);
        vi8 tv = (bottom > top) | ((bottom != bottom) & (top == top));
        vf8 best = SELECT8(tv, bottom, top);
        vi8 place = (tv & (two + (td & one))) | (~tv & (tb & one));
        vf8 placef = __builtin_convertvector(place, vf8);
        memcpy(m + q, &best, sizeof best);
        memcpy(which + q, &placef, sizeof placef);
    }
    return q;
}

JNIFN(jint, max2x2)(JNIEnv *env, jclass c, jfloatArray xa, jint w, jfloatArray ma, jfloatArray wa, jint n) {
    float *x = PIN(xa), *m = PIN(ma), *which = PIN(wa);
    int q = max2x2_kernel(x, w, m, which, n);
    UNPIN(wa, which, 0); UNPIN(ma, m, 0); UNPIN(xa, x, JNI_ABORT);
    return q;
}

/* CpuWindows.maxPoolBackward: planes of dx zeroed, then each gradient added at its window's argmax, in output order
 * (the Java loop's order, so the same sums). Returns -1, or the first output whose index lies outside its plane
 * (nothing written then). */
static long max_pool_backward_planes(const float *g, const int64_t *idx, long planes, int out_plane, int plane, float *dx) {
    for (long p = 0; p < planes; p++)
        for (int q = 0; q < out_plane; q++) {
            int64_t at = idx[p * out_plane + q];
            if (at < 0 || at >= plane) return p * out_plane + q;
        }
    memset(dx, 0, sizeof(float) * (size_t) planes * (size_t) plane);
    for (long p = 0; p < planes; p++) {
        float *dp = dx + p * plane;
        const float *gp = g + p * out_plane;
        const int64_t *ip = idx + p * out_plane;
        for (int q = 0; q < out_plane; q++) dp[ip[q]] += gp[q];
    }
    return -1;
}

static int64_t *longs_at(JNIEnv *env, jobject buf, jlong off) {
    return (int64_t *) (*env)->GetDirectBufferAddress(env, buf) + off;
}

JNIFN(jlong, maxPoolBackwardAt)(JNIEnv *env, jclass c, jobject gb, jlong go, jobject ib, jlong io, jlong planes, jint outPlane,
                                jint plane, jobject db, jlong dbo) {
    return max_pool_backward_planes(floats_at(env, gb, go), longs_at(env, ib, io), planes, outPlane, plane, floats_at(env, db, dbo));
}

/* y[yOff + t] += x[xOff + t] for t in [0, len): col2im's runs (x and y are different arrays). */
JNIFN(void, addInto)(JNIEnv *env, jclass c, jfloatArray xa, jint xOff, jfloatArray ya, jint yOff, jint len) {
    float *x = PIN(xa), *y = PIN(ya);
    accumulate_kernel(x + xOff, y + yOff, len);
    UNPIN(ya, y, 0); UNPIN(xa, x, JNI_ABORT);
}

/* CpuReduce.softmax over contiguous rows of direct buffers (x and y do not overlap), row by row. */
JNIFN(void, softmaxRowsAt)(JNIEnv *env, jclass c, jobject xb, jlong xo, jobject yb, jlong yo, jlong rows, jint n) {
    float *x = floats_at(env, xb, xo), *y = floats_at(env, yb, yo);
    for (jlong r = 0; r < rows; r++) softmax_row_into(x + r * n, y + r * n, n);
}

/* row[j] = exp(row[j] - shift) for a finite shift at least the row's max (the row has no NaN or +inf then). */
CLONES static void exp_minus_capped(float *restrict row, int n, float shift) {
    for (int j = 0; j < n; j++) row[j] = fx_exp_capped(row[j] - shift);
}

/* CpuAttention's row work on a block of scores (rows x n, row-major, in a direct buffer). Row i is query t0 + i; it
 * sees keys [0, keys) with keys = min(t0 + i + 1, s) when causal, else s (no mask: masked blocks stay in Java). */
static inline int attn_keys(int causal, int t, int s) { return causal ? (t + 1 < s ? t + 1 : s) : s; }

/* Forward: each row's softmax over its keys, zeros after them; the row max and sum of exps go back to Java
 * (lse = max + (float) Math.log(sum) there). A row whose max is -inf becomes NaN and its sum NaN. */
CLONES static void attention_softmax_rows(float *sc, int rows, int n, int t0, int causal, int s, float *maxes, double *sums) {
    for (int i = 0; i < rows; i++) {
        float *row = sc + (long) i * n;
        int ni = attn_keys(causal, t0 + i, s);
        float max = max_kernel(row, ni);
        maxes[i] = max;
        if (max == -INFINITY) {
            for (int j = 0; j < n; j++) row[j] = NAN;
            sums[i] = NAN;
            continue;
        }
        if (max - max == 0.0f) exp_minus_capped(row, ni, max);
        else {                                                        /* +inf or NaN in the row */
            for (int j = 0; j < ni; j++) row[j] -= max;
            unary_kernel(U_EXP, row, row, ni);
        }
        double sum = sum_kernel(row, ni);
        float inv = (float) (1 / sum);
        for (int j = 0; j < ni; j++) row[j] *= inv;
        for (int j = ni; j < n; j++) row[j] = 0.0f;
        sums[i] = sum;
    }
}

JNIFN(void, attentionSoftmaxRows)(JNIEnv *env, jclass c, jobject sb, jint rows, jint n, jint t0, jboolean causal, jint s,
                                  jfloatArray maxOut, jdoubleArray sumOut) {
    float *sc = floats_at(env, sb, 0);
    float *maxes = (float *) (*env)->GetPrimitiveArrayCritical(env, maxOut, NULL);
    double *sums = (double *) (*env)->GetPrimitiveArrayCritical(env, sumOut, NULL);
    attention_softmax_rows(sc, rows, n, t0, causal, s, maxes, sums);
    (*env)->ReleasePrimitiveArrayCritical(env, sumOut, sums, 0);
    (*env)->ReleasePrimitiveArrayCritical(env, maxOut, maxes, 0);
}

/* Backward: each row's weights again, p = exp(score - lse) over its keys, zeros after; a NaN lse (the row attended
 * nothing) gives a row of zeros. lse: the block's rows, from element offset lo of a direct buffer. */
CLONES static void attention_weight_rows(float *sc, int rows, int n, int t0, int causal, int s, const float *lse) {
    for (int i = 0; i < rows; i++) {
        float *row = sc + (long) i * n, l = lse[i];
        int ni = l != l ? 0 : attn_keys(causal, t0 + i, s);
        if (l - l == 0.0f) exp_minus_capped(row, ni, l);           /* lse >= the row max: every score - lse <= 0 */
        else {
            for (int j = 0; j < ni; j++) row[j] -= l;
            unary_kernel(U_EXP, row, row, ni);
        }
        for (int j = ni; j < n; j++) row[j] = 0.0f;
    }
}

JNIFN(void, attentionWeightRows)(JNIEnv *env, jclass c, jobject sb, jint rows, jint n, jint t0, jboolean causal, jint s,
                                 jobject lb, jlong lo) {
    attention_weight_rows(floats_at(env, sb, 0), rows, n, t0, causal, s, floats_at(env, lb, lo));
}

/* Backward: dS = P (dP - rowsum(P dP)) scale, row by row, in place over dP (rowsum as FloatKernels.dot adds it). */
CLONES static void attention_score_grad_rows(const float *p, float *d, int rows, int n, float scale) {
    for (int i = 0; i < rows; i++) {
        const float *pr = p + (long) i * n;
        float *dr = d + (long) i * n;
        float pdp = (float) dot_kernel(pr, dr, n);
        for (int j = 0; j < n; j++) dr[j] = pr[j] * (dr[j] - pdp) * scale;
    }
}

JNIFN(void, attentionScoreGradRows)(JNIEnv *env, jclass c, jobject pb, jobject db, jint rows, jint n, jfloat scale) {
    attention_score_grad_rows(floats_at(env, pb, 0), floats_at(env, db, 0), rows, n, scale);
}

/* setenv(name, value) unless name is set already (true when it set it): OpenBlasCore names OpenBLAS's kernels in
 * OPENBLAS_CORETYPE before OpenBLAS loads and reads it. */
JNIFN(jboolean, setEnvIfUnset)(JNIEnv *env, jclass c, jstring name, jstring value) {
    const char *n = (*env)->GetStringUTFChars(env, name, NULL), *v = (*env)->GetStringUTFChars(env, value, NULL);
    jboolean set = JNI_FALSE;
    if (n != NULL && v != NULL && getenv(n) == NULL) set = setenv(n, v, 0) == 0;
    if (v != NULL) (*env)->ReleaseStringUTFChars(env, value, v);
    if (n != NULL) (*env)->ReleaseStringUTFChars(env, name, n);
    return set;
}

/* The string a C function of no arguments returns (openblas_get_corename, found by JavaCPP's Loader.addressof). */
JNIFN(jstring, callStringFunction)(JNIEnv *env, jclass c, jlong fn) {
    const char *(*f)(void) = (const char *(*)(void)) (intptr_t) fn;
    const char *s = f();
    return s == NULL ? NULL : (*env)->NewStringUTF(env, s);
}

/* The SHA-256 of the sources this library was built from (build-cpu-kernels.sh passes it), so a stale build is refused. */
JNIFN(jstring, sourcesHash)(JNIEnv *env, jclass c) { return (*env)->NewStringUTF(env, FLUXION_SOURCES_HASH); }

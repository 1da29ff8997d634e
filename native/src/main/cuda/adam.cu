// Fused multi-tensor Adam / AdamW step: one launch updates many parameters.
// The host splits each tensor into chunks of at most 65536 elements and uploads a table of AdamChunk
// records; block b processes chunks b, b + gridDim.x, ... Parameters, m and v are contiguous; m and v are
// float32; parameters float32 / float16 / bfloat16; gradients float32 / float16 / bfloat16.
//
// Per element, the float32 operations of dev.fluxion.tensor.AdamUpdate in the same order, each rounded once
// (the __f*_rn intrinsics keep nvcc from contracting them into FMAs), so float32 parameters get the bits of
// the op-by-op path and of the CPU kernel. The scalars come from AdamHyper on the host:
//   g    = grad * gradScale                           (gradScale: optional device scalar, e.g. 1 / loss scale)
//   g    = g + p * l2WeightDecay                      (Adam's L2 term; skipped when 0)
//   base = p * decoupledDecay                         (AdamW's 1 - lr * wd; skipped when 1)
//   m    = m * beta1 + g * oneMinusBeta1,   v = v * beta2 + (g * oneMinusBeta2) * g
//   vmax = max(vmax, v)                                (amsgrad: chunks with a vmax address; NaN propagates)
//   p    = base + (m * negStepSize) / (sqrt(amsgrad ? vmax : v) / biasCorrection2Sqrt + eps)
// skipFlag: optional device float; when it is non-zero (or NaN: a gradient overflowed) nothing changes, so a
// GradScaler can skip the step without the host reading anything back.
// stepCount: optional device int64, the updates done so far. When given, the update number is stepCount + 1 and
// negStepSize / biasCorrection2Sqrt are computed here from lr, beta1, beta2 in double and rounded to float once,
// as AdamHyper does on the host; fx_adam_count, launched after fx_adam on the same stream, then advances the
// count unless the step was skipped, so a skipped step does not advance the bias correction either.
#include "common.cuh"

struct AdamChunk {           // 48 bytes; mirrors dev.fluxion.cuda.FusedAdam
    i64 param, grad, m, v;   // device addresses of this chunk's first element
    i64 vmax;                // amsgrad's running max of v (float32), or 0 without amsgrad
    int n;                   // elements in the chunk
    short paramType, gradType;
};
static_assert(sizeof(AdamChunk) == 48, "AdamChunk must match dev.fluxion.cuda.FusedAdam.RECORD_BYTES");

__device__ __forceinline__ bool adam_skipped(const float* skipFlag) { return skipFlag != nullptr && *skipFlag != 0.0f; }   // NaN != 0 too

__device__ __forceinline__ float load_f(int type, i64 addr, i64 i) {
    if (type == FX_F16) return __half2float(((const __half*)addr)[i]);
    if (type == FX_BF16) return __bfloat162float(((const bf16*)addr)[i]);
    return ((const float*)addr)[i];
}

__device__ __forceinline__ void store_f(int type, i64 addr, i64 i, float v) {
    if (type == FX_F16) ((__half*)addr)[i] = __float2half_rn(v);
    else if (type == FX_BF16) ((bf16*)addr)[i] = __float2bfloat16_rn(v);
    else ((float*)addr)[i] = v;
}

extern "C" __global__ void fx_adam(const AdamChunk* __restrict__ chunks, int nChunks, float beta1, float oneMinusBeta1,
                                   float beta2, float oneMinusBeta2, float eps, float l2WeightDecay, float decoupledDecay,
                                   float negStepSize, float biasCorrection2Sqrt,
                                   const float* __restrict__ gradScale, const float* __restrict__ skipFlag,
                                   const i64* __restrict__ stepCount, double lr, double beta1d, double beta2d) {
    if (adam_skipped(skipFlag)) return;
    if (stepCount != nullptr) {
        double t = (double)(*stepCount + 1);
        negStepSize = (float)-(lr / (1.0 - pow(beta1d, t)));
        biasCorrection2Sqrt = (float)sqrt(1.0 - pow(beta2d, t));
    }
    const float* scale = gradScale;                           // null: gradients as they are (no multiply, no rounding)
    bool l2 = l2WeightDecay != 0.0f, decoupled = decoupledDecay != 1.0f;
    for (int c = blockIdx.x; c < nChunks; c += gridDim.x) {
        AdamChunk ch = chunks[c];
        float* m = (float*)ch.m;                              // (n)
        float* v = (float*)ch.v;                              // (n)
        float* vmax = (float*)ch.vmax;                        // (n) or null
        for (int i = threadIdx.x; i < ch.n; i += blockDim.x) {
            float p = load_f(ch.paramType, ch.param, i);
            float g = load_f(ch.gradType, ch.grad, i);
            if (scale != nullptr) g = __fmul_rn(g, *scale);
            if (l2) g = __fadd_rn(g, __fmul_rn(p, l2WeightDecay));
            float base = decoupled ? __fmul_rn(p, decoupledDecay) : p;
            float mi = __fadd_rn(__fmul_rn(m[i], beta1), __fmul_rn(g, oneMinusBeta1));
            float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(g, oneMinusBeta2), g));
            m[i] = mi;
            v[i] = vi;
            if (vmax != nullptr) {
                float old = vmax[i];
                vi = (old != old || vi != vi) ? NAN : (old > vi ? old : vi);
                vmax[i] = vi;
            }
            float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), biasCorrection2Sqrt), eps);
            store_f(ch.paramType, ch.param, i, __fadd_rn(base, __fdiv_rn(__fmul_rn(mi, negStepSize), denom)));
        }
    }
}

// After fx_adam on the same stream: one more update done, unless it was skipped.
extern "C" __global__ void fx_adam_count(i64* stepCount, const float* __restrict__ skipFlag) {
    if (blockIdx.x == 0 && threadIdx.x == 0 && !adam_skipped(skipFlag)) *stepCount += 1;
}

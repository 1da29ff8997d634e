// Fused multi-tensor Adam / AdamW step: one launch updates every parameter of a model.
// The host splits each tensor into chunks of at most 65536 elements and uploads a table of AdamChunk
// records; block b processes chunks b, b + gridDim.x, ... Parameters, m and v are contiguous; m and v are
// float32; parameters float32 / float16 / bfloat16; gradients float32 / float16 / bfloat16.
//
// Per element (PyTorch's torch.optim.Adam / AdamW, amsgrad=False, maximize=False):
//   g = grad * gradScale                      (gradScale: optional device scalar, e.g. 1 / loss scale)
//   Adam:  g += weightDecay * p               AdamW: p *= 1 - lr * weightDecay
//   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc_i = 1 - beta_i^step
// skipFlag: optional device float; when it is non-zero (or NaN: a gradient overflowed) nothing changes, so a
// GradScaler can skip the step without the host reading anything back.
#include "common.cuh"

struct AdamChunk {           // 40 bytes; mirrors dev.fluxion.cuda.FusedAdam
    i64 param, grad, m, v;   // device addresses of this chunk's first element
    int n;                   // elements in the chunk
    short paramType, gradType;
};
static_assert(sizeof(AdamChunk) == 40, "AdamChunk must match dev.fluxion.cuda.FusedAdam.RECORD_BYTES");

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

extern "C" __global__ void fx_adam(const AdamChunk* __restrict__ chunks, int nChunks, float lr, float beta1, float beta2, float eps,
                                   float weightDecay, int decoupled, float bc1, float bc2,
                                   const float* __restrict__ gradScale, const float* __restrict__ skipFlag) {
    if (skipFlag != nullptr && *skipFlag != 0.0f) return;     // NaN != 0 is true as well
    float scale = gradScale != nullptr ? *gradScale : 1.0f;
    float stepSize = lr / bc1, invSqrtBc2 = rsqrtf(bc2);
    for (int c = blockIdx.x; c < nChunks; c += gridDim.x) {
        AdamChunk ch = chunks[c];
        float* m = (float*)ch.m;
        float* v = (float*)ch.v;
        for (int i = threadIdx.x; i < ch.n; i += blockDim.x) {
            float p = load_f(ch.paramType, ch.param, i);
            float g = load_f(ch.gradType, ch.grad, i) * scale;
            if (decoupled) p *= 1.0f - lr * weightDecay;
            else if (weightDecay != 0.0f) g += weightDecay * p;
            float mi = beta1 * m[i] + (1.0f - beta1) * g;
            float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            p -= stepSize * mi / (sqrtf(vi) * invSqrtBc2 + eps);
            store_f(ch.paramType, ch.param, i, p);
        }
    }
}

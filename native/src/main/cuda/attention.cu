// Fused scaled dot-product attention, FlashAttention-2's forward: out = softmax(q k^T scale [causal]) v and the row
// log-sum-exp of the scaled scores, without the (T, S) weights ever reaching memory. One block per (batch*head, tile
// of query rows) loops over tiles of keys with the online softmax: a running max m and sum l per row, and an
// accumulator rescaled by exp(m_old - m_new) whenever the max grows. Causal is top-left aligned (query t sees keys
// s <= t, as PyTorch's is_causal) and stops at the diagonal tile. dev.fluxion.tensor.AttentionOp's backward
// recomputes the weights from lse (dev.fluxion.cuda.CudaAttention launches these).
//   q (BH, T, D), k (BH, S, D), v (BH, S, D), out (BH, T, D): element (b, h, row, col) at b*xB + h*xH + row*xT + col
//   with bh = b*H + h (the (B, H, T, D) views of a fused qkv projection are read in place; the last dim contiguous)
//   lse (BH, T): contiguous, in Acc<T> (float32; float64 for float64)
// Non-finite values as the composed softmax: a NaN score makes its row NaN (out and lse); a row whose scores are all
// -inf, or one with +inf, is NaN. Keys past S and past the diagonal are skipped, never scored as -inf.
//
// Two paths. float16/bfloat16: tensor cores through nvcuda::wmma (m16n16k16, float32 accumulators), 64 query rows
// by 64 keys per tile, 4 warps of 16 rows; the scores and each 16-column chunk of P v pass through the warp's shared
// scratch because a fragment's element layout is unspecified. float32/float64: plain FMA tiles of 16 x 16 (the
// correctness path). The head dim D is a template parameter: 16, 32, 64 or 128, one entry point each.
#include "common.cuh"
#include <mma.h>

#define FX_ATTN_LAYOUT(x) i64 x##B, i64 x##H, i64 x##T
#define FX_ATTN_ARGS(T, C) int heads, int t, int s, const T* __restrict__ q, FX_ATTN_LAYOUT(q), \
    const T* __restrict__ k, FX_ATTN_LAYOUT(k), const T* __restrict__ v, FX_ATTN_LAYOUT(v), \
    T* __restrict__ out, FX_ATTN_LAYOUT(o), C* __restrict__ lse, double scale, int causal

// Where matrix bh of a tensor starts.
__device__ __forceinline__ i64 attn_base(int bh, int heads, i64 sB, i64 sH) { return (i64)(bh / heads) * sB + (i64)(bh % heads) * sH; }

// The query tile of this block: the grid's y runs the diagonal-heavy (last) tiles first, so that causal blocks,
// whose work grows with the tile index, do not leave a long tail.
__device__ __forceinline__ int attn_tile() { return (int)(gridDim.y - 1 - blockIdx.y); }

// One step of a row's online softmax over a tile whose largest valid score is mt (NaN scores are dropped from the
// max and make the row NaN through the sum). Returns the factor that rescales what was accumulated under the old
// max (0 while nothing was: the old max still -inf) and updates m; *ms is the max to subtract in the exponents
// (0 while every score is -inf, so that exp(-inf - 0) = 0 and not exp(NaN)).
template <typename C> __device__ __forceinline__ C attn_online(C& m, C mt, C* ms) {
    C mNew = mt > m ? mt : m;
    C alpha = m == -INFINITY ? (C)0 : exp(m - mNew);
    m = mNew;
    *ms = mNew == -INFINITY ? (C)0 : mNew;
    return alpha;
}

// The row's log-sum-exp; NaN when the row attended only -inf scores (l = 0) or met a NaN or +inf (l NaN).
template <typename C> __device__ __forceinline__ C attn_lse(C m, C l) { return m == -INFINITY || !(l > 0) ? (C)NAN : m + log(l); }

__device__ __forceinline__ bool attn_valid(int key, int query, int s, int causal) { return key < s && (!causal || key <= query); }

// ---------------------------------------------------------------- float16 / bfloat16: tensor cores (wmma)

// 64 query rows x 64 keys per tile, 128 threads: warp w owns rows 16w..16w+15 of the tile. Static shared memory:
// K and V tiles (64 x LD each) and per warp a 16 x 64 float scratch: 32 KiB for D = 64 (GPT-2), 48 KiB for D = 128.
#define FX_ATTN_TC_BR 64
#define FX_ATTN_TC_BC 64
#define FX_ATTN_TC_THREADS 128

// Rows [r0, r0 + N) of a (rows, D) matrix into an (N, LD) tile, 16 bytes per load, zeros past `rows`.
template <typename T, int D, int LD, int N> __device__ __forceinline__ void attn_load_rows_tc(T* tile, const T* m, i64 rowStride, int r0, int rows) {
    constexpr int PACKETS = D / 8;
    for (int i = threadIdx.x; i < N * PACKETS; i += FX_ATTN_TC_THREADS) {
        int r = i / PACKETS, c = i - r * PACKETS;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (r0 + r < rows) val = *(const uint4*)(m + (i64)(r0 + r) * rowStride + c * 8);
        *(uint4*)(tile + r * LD + c * 8) = val;
    }
}

// The warp's 16 rows of a staged (rows, LD) tile as KD matrix_a fragments (16 x 16 each), to keep in registers.
template <typename T, int KD, int LD, typename AFrag>
__device__ __forceinline__ void attn_warp_rows(AFrag (&a)[KD], const T* tile, int warp) {
#pragma unroll
    for (int kk = 0; kk < KD; kk++) nvcuda::wmma::load_matrix_sync(a[kk], tile + warp * 16 * LD + kk * 16, LD);
}

// out (16 x 16N floats, row pitch `pitch`) = A B^T for the warp: A its KD fragments (16 x 16KD), B the first 16N rows
// of a staged (rows, LD) tile, read as col_major matrix_b fragments (B^T without a transpose).
template <typename T, int KD, int N, int LD, typename AFrag>
__device__ __forceinline__ void attn_warp_abt(const AFrag (&a)[KD], const T* b, float* out, int pitch) {
    using namespace nvcuda;
#pragma unroll
    for (int n = 0; n < N; n++) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.0f);
#pragma unroll
        for (int kk = 0; kk < KD; kk++) {
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bf;
            wmma::load_matrix_sync(bf, b + n * 16 * LD + kk * 16, LD);
            wmma::mma_sync(acc, a[kk], bf, acc);
        }
        wmma::store_matrix_sync(out + n * 16, acc, pitch, wmma::mem_row_major);
    }
}

template <typename T, int D> __device__ void attention_fwd_tc(FX_ATTN_ARGS(T, float)) {
    using namespace nvcuda;
    constexpr int BR = FX_ATTN_TC_BR, BC = FX_ATTN_TC_BC;
    constexpr int LD = D == 128 ? D : D + 8;            // tile row pitch: 16 bytes of padding against bank conflicts where 48 KiB allow
    constexpr int KD = D / 16, KC = BC / 16;            // 16-wide steps over D and over the keys
    __shared__ __align__(32) T sK[BC * LD];             // keys; first the block's queries
    __shared__ __align__(32) T sV[BC * LD];
    __shared__ __align__(32) float sW[4][16 * BC];      // per warp: the scores (float), then P (T, first half) and a P v chunk (float, second half)
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    int q0 = attn_tile() * BR, b = blockIdx.x, row = q0 + warp * 16 + r;
    const T* qb = q + attn_base(b, heads, qB, qH);
    const T* kb = k + attn_base(b, heads, kB, kH);
    const T* vb = v + attn_base(b, heads, vB, vH);
    float sc = (float)scale;

    // the warp's 16 query rows as matrix_a fragments, kept in registers for every key tile (staged through sK)
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qa[KD];
    attn_load_rows_tc<T, D, LD, FX_ATTN_TC_BC>(sK, qb, qT, q0, t);
    __syncthreads();
    attn_warp_rows<T, KD, LD>(qa, sK, warp);
    __syncthreads();

    // this lane: row r of the warp's 16; its i-th score of a tile is column half*32 + (i + lane) % 32, its i-th value
    // of each 16-column output chunk column half*8 + (i + oRot) % 8: rotated per lane so that the lanes' reads of the
    // scratch (rows 64 or 16 floats apart, a multiple of the 32 banks) fall in 32 different banks
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0;
    float m = -INFINITY, l = 0;
    int oRot = lane >> 2;
    float* scratch = sW[warp];
    T* pw = (T*)scratch;                                // P: 16 x BC values of T
    float* chunk = scratch + 16 * BC / 2;               // a 16 x 16 float chunk of P v, behind P
    int kEnd = causal ? min(s, q0 + BR) : s;
    for (int k0 = 0; k0 < kEnd; k0 += BC) {
        attn_load_rows_tc<T, D, LD, FX_ATTN_TC_BC>(sK, kb, kT, k0, s);
        attn_load_rows_tc<T, D, LD, FX_ATTN_TC_BC>(sV, vb, vT, k0, s);
        __syncthreads();
        // scores of the warp's rows: S = Q K^T, K^T read as a col_major matrix_b straight from the K tile
        attn_warp_abt<T, KD, KC, LD>(qa, sK, scratch, BC);
        __syncwarp();
        float p[32], mt = -INFINITY;
#pragma unroll
        for (int i = 0; i < 32; i++) {
            int c = half * 32 + ((i + lane) & 31);
            p[i] = attn_valid(k0 + c, row, s, causal) ? scratch[r * BC + c] * sc : -INFINITY;
            mt = p[i] > mt ? p[i] : mt;                 // NaN dropped here, kept in p
        }
        float other = __shfl_xor_sync(0xffffffffu, mt, 1);
        mt = other > mt ? other : mt;
        float ms, alpha = attn_online(m, mt, &ms), sum = 0;
#pragma unroll
        for (int i = 0; i < 32; i++) {
            int c = half * 32 + ((i + lane) & 31);
            p[i] = attn_valid(k0 + c, row, s, causal) ? exp(p[i] - ms) : 0.0f;
            sum += p[i];
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l = l * alpha + sum;
        __syncwarp();                                   // every lane has read its scores before P overwrites them
#pragma unroll
        for (int i = 0; i < 32; i++) pw[r * BC + half * 32 + ((i + lane) & 31)] = from_acc<T>(p[i]);
#pragma unroll
        for (int i = 0; i < D / 2; i++) o[i] *= alpha;
        __syncwarp();
        // o += P V, one 16-column chunk at a time through the scratch
#pragma unroll
        for (int j = 0; j < KD; j++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < KC; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
                wmma::load_matrix_sync(pf, pw + kk * 16, BC);
                wmma::load_matrix_sync(vf, sV + kk * 16 * LD + j * 16, LD);
                wmma::mma_sync(acc, pf, vf, acc);
            }
            wmma::store_matrix_sync(chunk, acc, 16, wmma::mem_row_major);
            __syncwarp();
#pragma unroll
            for (int i = 0; i < 8; i++) o[j * 8 + i] += chunk[r * 16 + half * 8 + ((i + oRot) & 7)];
            __syncwarp();                               // read before the next chunk is stored
        }
        __syncthreads();                                // every warp is done with the K and V tiles
    }

    if (row < t) {
        float ls = attn_lse(m, l), inv = ls == ls ? 1.0f / l : NAN;
        T* ob = out + attn_base(b, heads, oB, oH) + (i64)row * oT;
#pragma unroll
        for (int j = 0; j < KD; j++) {
            __align__(16) T packet[8];
#pragma unroll
            for (int i = 0; i < 8; i++) packet[(i + oRot) & 7] = from_acc<T>(o[j * 8 + i] * inv);
            *(uint4*)(ob + j * 16 + half * 8) = *(const uint4*)packet;
        }
        if (half == 0) lse[(i64)b * t + row] = ls;
    }
}

// ---------------------------------------------------------------- float32 / float64: FMA tiles

// 16 query rows x 16 keys per tile, 128 threads: thread i accumulates row i / 8, columns i % 8 + 8j of the output.
// Static shared memory at most 34 KiB (float64, D = 128).
#define FX_ATTN_FMA_BR 16
#define FX_ATTN_FMA_BC 16
#define FX_ATTN_FMA_THREADS 128

template <typename C, int D> __device__ __forceinline__ void attn_load_rows(C* tile, const C* m, i64 rowStride, int r0, int rows, int n) {
    for (int i = threadIdx.x; i < n * D; i += FX_ATTN_FMA_THREADS) {
        int r = i / D, c = i - r * D;
        tile[i] = r0 + r < rows ? m[(i64)(r0 + r) * rowStride + c] : (C)0;
    }
}

template <typename C, int D> __device__ void attention_fwd_fma(FX_ATTN_ARGS(C, C)) {
    constexpr int BR = FX_ATTN_FMA_BR, BC = FX_ATTN_FMA_BC, OC = D / 8;
    __shared__ C sQ[BR * D];
    __shared__ C sKV[BC * D];                           // the key tile, then the value tile
    __shared__ C sP[BR * BC];                           // scores, then weights
    __shared__ C sAlpha[BR], sM[BR], sL[BR];
    int q0 = attn_tile() * BR, b = blockIdx.x, tid = threadIdx.x, orow = tid / 8, ocol = tid % 8;
    const C* kb = k + attn_base(b, heads, kB, kH);
    const C* vb = v + attn_base(b, heads, vB, vH);
    attn_load_rows<C, D>(sQ, q + attn_base(b, heads, qB, qH), qT, q0, t, BR);
    if (tid < BR) { sM[tid] = -INFINITY; sL[tid] = 0; }
    C o[OC];
    for (int i = 0; i < OC; i++) o[i] = 0;
    C sc = (C)scale;
    int kEnd = causal ? min(s, q0 + BR) : s;
    for (int k0 = 0; k0 < kEnd; k0 += BC) {
        attn_load_rows<C, D>(sKV, kb, kT, k0, s, BC);
        __syncthreads();
        for (int e = tid; e < BR * BC; e += FX_ATTN_FMA_THREADS) {
            int r = e / BC, c = e - r * BC;
            C acc = 0;
            for (int d = 0; d < D; d++) acc += sQ[r * D + d] * sKV[c * D + d];
            sP[e] = acc * sc;
        }
        __syncthreads();
        attn_load_rows<C, D>(sKV, vb, vT, k0, s, BC);
        if (tid < BR) {                                 // row tid's online softmax step
            int query = q0 + tid;
            C mt = -INFINITY, m = sM[tid], ms;
            for (int c = 0; c < BC; c++) if (attn_valid(k0 + c, query, s, causal)) mt = sP[tid * BC + c] > mt ? sP[tid * BC + c] : mt;
            C alpha = attn_online(m, mt, &ms), sum = 0;
            for (int c = 0; c < BC; c++) {
                C p = attn_valid(k0 + c, query, s, causal) ? exp(sP[tid * BC + c] - ms) : (C)0;
                sP[tid * BC + c] = p;
                sum += p;
            }
            sM[tid] = m;
            sL[tid] = sL[tid] * alpha + sum;
            sAlpha[tid] = alpha;
        }
        __syncthreads();
        C alpha = sAlpha[orow];
        for (int i = 0; i < OC; i++) {
            C acc = o[i] * alpha;
            for (int c = 0; c < BC; c++) acc += sP[orow * BC + c] * sKV[c * D + ocol + 8 * i];
            o[i] = acc;
        }
        __syncthreads();                                // the next tile overwrites sKV and sP
    }
    __syncthreads();                                    // sM, sL when no key tile ran (s = 0 is declined by the host)
    int row = q0 + orow;
    if (row < t) {
        C ls = attn_lse(sM[orow], sL[orow]), inv = ls == ls ? (C)1 / sL[orow] : (C)NAN;
        C* ob = out + attn_base(b, heads, oB, oH) + (i64)row * oT;
        for (int i = 0; i < OC; i++) ob[ocol + 8 * i] = o[i] * inv;
        if (ocol == 0) lse[(i64)b * t + row] = ls;
    }
}

// ---------------------------------------------------------------- backward (FlashAttention-2's)
// With P = exp(q k^T scale - lse) recomputed per tile from the forward's lse (0 at keys skipped), dO the output's
// gradient and Dl = rowsum(dO * O) (= rowsum(P * dP)): dV = P^T dO, dP = dO V^T, dS = P (dP - Dl),
// dK = dS^T Q scale, dQ = dS K scale. One block per (batch*head, tile of keys) loops over the query tiles that can
// see its keys, accumulating its dK and dV rows in registers; dQ is summed over the key tiles by atomicAdd into an
// Acc<T> buffer dqAcc (BH, T, D) that the prep kernel zeroed. zeroNan (the composed rule's guard where a query may
// attend nothing): a query row whose lse is NaN contributes nothing to any gradient and gets dQ = 0.
//   dO (BH, T, D), O (BH, T, D): laid out as q; dk (BH, S, D), dv (BH, S, D): one layout for both (30 arguments: the
//   launcher's limit is 32); lse, Dl (BH, T), dqAcc (BH, T, D): contiguous

// Dl = rowsum(dO * O) per query row (one warp a row) in Acc<T>, and dqAcc zeroed; block x = bh, y strides over the rows.
template <typename T> __device__ void attention_bwd_prep(int heads, int t, int d, const T* __restrict__ g, FX_ATTN_LAYOUT(g),
        const T* __restrict__ o, FX_ATTN_LAYOUT(o), typename Acc<T>::type* __restrict__ dl, typename Acc<T>::type* __restrict__ dqAcc) {
    typedef typename Acc<T>::type C;
    int lane = threadIdx.x & 31, warps = blockDim.x >> 5, b = blockIdx.x;
    for (int row = blockIdx.y * warps + (threadIdx.x >> 5); row < t; row += gridDim.y * warps) {
        const T* gr = g + attn_base(b, heads, gB, gH) + (i64)row * gT;
        const T* orow = o + attn_base(b, heads, oB, oH) + (i64)row * oT;
        C acc = 0;
        for (int c = lane; c < d; c += 32) acc += to_acc<C>(gr[c]) * to_acc<C>(orow[c]);
        acc = warp_sum(acc);
        if (lane == 0) dl[(i64)b * t + row] = acc;
        for (int c = lane; c < d; c += 32) dqAcc[((i64)b * t + row) * d + c] = 0;
    }
}

#define FX_ATTN_BWD_ARGS(T, C) int heads, int t, int s, const T* __restrict__ q, FX_ATTN_LAYOUT(q), \
    const T* __restrict__ k, FX_ATTN_LAYOUT(k), const T* __restrict__ v, FX_ATTN_LAYOUT(v), const T* __restrict__ g, FX_ATTN_LAYOUT(g), \
    const C* __restrict__ lse, const C* __restrict__ dl, T* __restrict__ dk, T* __restrict__ dv, FX_ATTN_LAYOUT(dk), \
    C* __restrict__ dqAcc, double scale, int causal, int zeroNan

// The first query a key tile [k0, ...) can be seen by: causal queries t >= k0 only.
__device__ __forceinline__ int attn_first_query(int k0, int br, int causal) { return causal ? k0 / br * br : 0; }

// float16/bfloat16: 64 keys per block, warp w owns keys 16w..16w+15; query tiles of BR = 64 rows (32 for D = 128,
// to stay within 48 KiB). Shared: the K tile (first the V tile, whose warp rows go to registers), the Q and dO tiles,
// per warp a 16 x BR float scratch (S^T, then dP^T, then P^T and dS^T in T) and a 16 x 16 float chunk, lse and Dl.
template <typename T, int D> __device__ void attention_bwd_tc(FX_ATTN_BWD_ARGS(T, float)) {
    using namespace nvcuda;
    constexpr int BC = FX_ATTN_TC_BC, BR = D == 128 ? 32 : 64;
    constexpr int LD = D == 128 ? D : D + 8, KD = D / 16, KR = BR / 16, NP = BR / 2;
    __shared__ __align__(32) T sK[BC * LD];
    __shared__ __align__(32) T sQ[BR * LD];
    __shared__ __align__(32) T sG[BR * LD];
    __shared__ __align__(32) float sW[4][16 * BR];
    __shared__ __align__(32) float sC[4][16 * 16];
    __shared__ float sL[BR], sDl[BR];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, r = lane >> 1, half = lane & 1;
    int k0 = blockIdx.y * BC, b = blockIdx.x, key = k0 + warp * 16 + r;
    const T* qb = q + attn_base(b, heads, qB, qH);
    const T* gb = g + attn_base(b, heads, gB, gH);
    float sc = (float)scale;

    // the warp's 16 value rows as matrix_a fragments (staged through sK), then the K tile
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> va[KD];
    attn_load_rows_tc<T, D, LD, FX_ATTN_TC_BC>(sK, v + attn_base(b, heads, vB, vH), vT, k0, s);
    __syncthreads();
    attn_warp_rows<T, KD, LD>(va, sK, warp);
    __syncthreads();
    attn_load_rows_tc<T, D, LD, FX_ATTN_TC_BC>(sK, k + attn_base(b, heads, kB, kH), kT, k0, s);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> dka[KD], dva[KD];
#pragma unroll
    for (int j = 0; j < KD; j++) { wmma::fill_fragment(dka[j], 0.0f); wmma::fill_fragment(dva[j], 0.0f); }
    float* scratch = sW[warp];
    T* pT = (T*)scratch;                                // P^T: 16 keys x BR queries
    T* dsT = pT + 16 * BR;                              // dS^T
    for (int q0 = attn_first_query(k0, BR, causal); q0 < t; q0 += BR) {
        attn_load_rows_tc<T, D, LD, BR>(sQ, qb, qT, q0, t);
        attn_load_rows_tc<T, D, LD, BR>(sG, gb, gT, q0, t);
        if (threadIdx.x < BR) {
            int qi = q0 + threadIdx.x;
            float l = qi < t ? lse[(i64)b * t + qi] : 0.0f;
            sL[threadIdx.x] = l;
            sDl[threadIdx.x] = qi < t && !(zeroNan && l != l) ? dl[(i64)b * t + qi] : 0.0f;
        }
        __syncthreads();
        if (zeroNan) {                                  // rows that attend nothing take no part: their q and dO read as 0
            for (int i = threadIdx.x; i < BR * D; i += FX_ATTN_TC_THREADS)
                if (sL[i / D] != sL[i / D]) { sQ[i / D * LD + i % D] = from_acc<T>(0.0f); sG[i / D * LD + i % D] = from_acc<T>(0.0f); }
            __syncthreads();
        }
        // S^T = K_w Q^T (16 x BR): K_w from the K tile, Q^T read col_major from the Q tile
#pragma unroll
        for (int n = 0; n < KR; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < KD; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> ka;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> qf;
                wmma::load_matrix_sync(ka, sK + warp * 16 * LD + kk * 16, LD);
                wmma::load_matrix_sync(qf, sQ + n * 16 * LD + kk * 16, LD);
                wmma::mma_sync(acc, ka, qf, acc);
            }
            wmma::store_matrix_sync(scratch + n * 16, acc, BR, wmma::mem_row_major);
        }
        __syncwarp();
        // this lane: key row r, its i-th query column half*NP + (i + lane) % NP (rotated: different banks per lane)
        float p[NP];
#pragma unroll
        for (int i = 0; i < NP; i++) {
            int c = half * NP + ((i + lane) & (NP - 1)), query = q0 + c;
            float x = exp(scratch[r * BR + c] * sc - sL[c]);
            if (zeroNan && x != x) x = 0;
            p[i] = query < t && attn_valid(key, query, s, causal) ? x : 0.0f;
        }
        __syncwarp();
        // dP^T = V_w dO^T (16 x BR)
        attn_warp_abt<T, KD, KR, LD>(va, sG, scratch, BR);
        __syncwarp();
        float ds[NP];
#pragma unroll
        for (int i = 0; i < NP; i++) {
            int c = half * NP + ((i + lane) & (NP - 1));
            ds[i] = p[i] * (scratch[r * BR + c] - sDl[c]);
        }
        __syncwarp();                                   // read before P^T and dS^T overwrite the scratch
#pragma unroll
        for (int i = 0; i < NP; i++) {
            int c = half * NP + ((i + lane) & (NP - 1));
            pT[r * BR + c] = from_acc<T>(p[i]);
            dsT[r * BR + c] = from_acc<T>(ds[i]);
        }
        __syncwarp();
        // dV_w += P^T dO, dK_w += dS^T Q (scaled at the end)
#pragma unroll
        for (int j = 0; j < KD; j++)
#pragma unroll
            for (int kk = 0; kk < KR; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bf;
                wmma::load_matrix_sync(a, pT + kk * 16, BR);
                wmma::load_matrix_sync(bf, sG + kk * 16 * LD + j * 16, LD);
                wmma::mma_sync(dva[j], a, bf, dva[j]);
                wmma::load_matrix_sync(a, dsT + kk * 16, BR);
                wmma::load_matrix_sync(bf, sQ + kk * 16 * LD + j * 16, LD);
                wmma::mma_sync(dka[j], a, bf, dka[j]);
            }
        __syncthreads();                                // every warp's dS^T is in its scratch
        // dQ (BR x D) += dS K scale over the tile's 64 keys: warp w takes the 16 x 16 chunks n * KD + j = w mod 4;
        // dS (queries x keys) is dS^T read col_major, keys 16w'..16w'+15 from warp w''s scratch
        for (int chunk = warp; chunk < KR * KD; chunk += 4) {
            int n = chunk / KD, j = chunk % KD;
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int w = 0; w < 4; w++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> kf;
                wmma::load_matrix_sync(a, (T*)sW[w] + 16 * BR + n * 16, BR);
                wmma::load_matrix_sync(kf, sK + w * 16 * LD + j * 16, LD);
                wmma::mma_sync(acc, a, kf, acc);
            }
            wmma::store_matrix_sync(sC[warp], acc, 16, wmma::mem_row_major);
            __syncwarp();
            int query = q0 + n * 16 + r;
            if (query < t)
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    int c = half * 8 + ((i + (lane >> 2)) & 7);
                    atomicAdd(dqAcc + ((i64)b * t + query) * D + j * 16 + c, sC[warp][r * 16 + c] * sc);
                }
            __syncwarp();
        }
        __syncthreads();                                // before the next tiles overwrite Q, dO and the scratch
    }

    // dK_w (scaled) and dV_w through the chunk scratch, 16 bytes a store
    T* dkb = dk + attn_base(b, heads, dkB, dkH);
    T* dvb = dv + attn_base(b, heads, dkB, dkH);
#pragma unroll
    for (int j = 0; j < KD; j++)
        for (int which = 0; which < 2; which++) {
            wmma::store_matrix_sync(sC[warp], which ? dva[j] : dka[j], 16, wmma::mem_row_major);
            __syncwarp();
            if (key < s) {
                __align__(16) T packet[8];
                float f = which ? 1.0f : sc;
#pragma unroll
                for (int i = 0; i < 8; i++) packet[i] = from_acc<T>(sC[warp][r * 16 + half * 8 + i] * f);
                *(uint4*)((which ? dvb : dkb) + (i64)key * dkT + j * 16 + half * 8) = *(const uint4*)packet;
            }
            __syncwarp();
        }
}

// float32/float64: BC keys per block, query tiles of BC rows, 128 threads; thread i accumulates dK and dV of key
// i / TPR, columns i % TPR + TPR j. 16-row tiles, 8 where a row is 1 KiB (float64, D = 128): at most 32 KiB shared.
template <typename C, int D> __device__ void attention_bwd_fma(FX_ATTN_BWD_ARGS(C, C)) {
    constexpr int BC = sizeof(C) * D > 512 ? 8 : 16, TPR = FX_ATTN_FMA_THREADS / BC, OC = D / TPR;
    __shared__ C sK[BC * D], sV[BC * D], sQ[BC * D], sG[BC * D];
    __shared__ C sP[BC * BC], sS[BC * BC];              // P and dS, [query][key]
    __shared__ C sL[BC], sDl[BC];
    int k0 = blockIdx.y * BC, b = blockIdx.x, tid = threadIdx.x, krow = tid / TPR, kcol = tid % TPR;
    attn_load_rows<C, D>(sK, k + attn_base(b, heads, kB, kH), kT, k0, s, BC);
    attn_load_rows<C, D>(sV, v + attn_base(b, heads, vB, vH), vT, k0, s, BC);
    const C* qb = q + attn_base(b, heads, qB, qH);
    const C* gb = g + attn_base(b, heads, gB, gH);
    C dkr[OC], dvr[OC], sc = (C)scale;
    for (int i = 0; i < OC; i++) { dkr[i] = 0; dvr[i] = 0; }
    for (int q0 = attn_first_query(k0, BC, causal); q0 < t; q0 += BC) {
        attn_load_rows<C, D>(sQ, qb, qT, q0, t, BC);
        attn_load_rows<C, D>(sG, gb, gT, q0, t, BC);
        if (tid < BC) {
            C l = q0 + tid < t ? lse[(i64)b * t + q0 + tid] : (C)0;
            sL[tid] = l;
            sDl[tid] = q0 + tid < t && !(zeroNan && l != l) ? dl[(i64)b * t + q0 + tid] : (C)0;
        }
        __syncthreads();
        if (zeroNan) {                                  // rows that attend nothing take no part (see above)
            for (int i = tid; i < BC * D; i += FX_ATTN_FMA_THREADS) if (sL[i / D] != sL[i / D]) { sQ[i] = 0; sG[i] = 0; }
            __syncthreads();
        }
        for (int e = tid; e < BC * BC; e += FX_ATTN_FMA_THREADS) {
            int i = e / BC, j = e - i * BC, query = q0 + i;
            C a = 0, dp = 0;
            for (int d = 0; d < D; d++) { a += sQ[i * D + d] * sK[j * D + d]; dp += sG[i * D + d] * sV[j * D + d]; }
            C p = exp(a * sc - sL[i]);
            if (zeroNan && p != p) p = 0;
            if (query >= t || !attn_valid(k0 + j, query, s, causal)) p = 0;
            sP[e] = p;
            sS[e] = p * (dp - sDl[i]);
        }
        __syncthreads();
        for (int i = 0; i < OC; i++) {
            int c = kcol + TPR * i;
            C av = 0, ak = 0;
            for (int qq = 0; qq < BC; qq++) { av += sP[qq * BC + krow] * sG[qq * D + c]; ak += sS[qq * BC + krow] * sQ[qq * D + c]; }
            dvr[i] += av;
            dkr[i] += ak;
        }
        for (int e = tid; e < BC * D; e += FX_ATTN_FMA_THREADS) {   // dQ rows of this tile from this block's keys
            int i = e / D, c = e - i * D;
            if (q0 + i >= t) continue;
            C a = 0;
            for (int j = 0; j < BC; j++) a += sS[i * BC + j] * sK[j * D + c];
            atomicAdd(dqAcc + ((i64)b * t + q0 + i) * D + c, a * sc);
        }
        __syncthreads();
    }
    int key = k0 + krow;
    if (key < s) {
        C* dkr0 = dk + attn_base(b, heads, dkB, dkH) + (i64)key * dkT;
        C* dvr0 = dv + attn_base(b, heads, dkB, dkH) + (i64)key * dkT;
        for (int i = 0; i < OC; i++) { dkr0[kcol + TPR * i] = dkr[i] * sc; dvr0[kcol + TPR * i] = dvr[i]; }
    }
}

// grid (BH, ceil(T / BR)); block FX_ATTN_TC_THREADS (16-bit) or FX_ATTN_FMA_THREADS (float32, float64)
#define FX_ATTN_TC(name, T, D) \
    extern "C" __global__ void fx_attention_fwd_##name##_d##D(FX_ATTN_ARGS(T, float)) { \
        attention_fwd_tc<T, D>(heads, t, s, q, qB, qH, qT, k, kB, kH, kT, v, vB, vH, vT, out, oB, oH, oT, lse, scale, causal); }
#define FX_ATTN_FMA(name, T, D) \
    extern "C" __global__ void fx_attention_fwd_##name##_d##D(FX_ATTN_ARGS(T, T)) { \
        attention_fwd_fma<T, D>(heads, t, s, q, qB, qH, qT, k, kB, kH, kT, v, vB, vH, vT, out, oB, oH, oT, lse, scale, causal); }
#define FX_ATTN_ALL(D) FX_ATTN_TC(f16, __half, D) FX_ATTN_TC(bf16, bf16, D) FX_ATTN_FMA(f32, float, D) FX_ATTN_FMA(f64, double, D) \
    FX_ATTN_BWD(f16, __half, float, tc, D) FX_ATTN_BWD(bf16, bf16, float, tc, D) FX_ATTN_BWD(f32, float, float, fma, D) FX_ATTN_BWD(f64, double, double, fma, D)

// backward: grid (BH, ceil(S / 64)) for 16-bit, (BH, ceil(S / BC)) for float32/float64; 128 threads
#define FX_ATTN_BWD(name, T, C, path, D) \
    extern "C" __global__ void fx_attention_bwd_##name##_d##D(FX_ATTN_BWD_ARGS(T, C)) { \
        attention_bwd_##path<T, D>(heads, t, s, q, qB, qH, qT, k, kB, kH, kT, v, vB, vH, vT, g, gB, gH, gT, lse, dl, dk, dv, dkB, dkH, dkT, \
                                   dqAcc, scale, causal, zeroNan); }
// prep: grid (BH, min(ceil(T / 4), 65535)), 128 threads (a warp a row)
#define FX_ATTN_PREP(name, T) \
    extern "C" __global__ void fx_attention_bwd_prep_##name(int heads, int t, int d, const T* g, FX_ATTN_LAYOUT(g), const T* o, FX_ATTN_LAYOUT(o), \
                                                          Acc<T>::type* dl, Acc<T>::type* dqAcc) { \
        attention_bwd_prep<T>(heads, t, d, g, gB, gH, gT, o, oB, oH, oT, dl, dqAcc); }
FX_ATTN_PREP(f16, __half) FX_ATTN_PREP(bf16, bf16) FX_ATTN_PREP(f32, float) FX_ATTN_PREP(f64, double)

FX_ATTN_ALL(16) FX_ATTN_ALL(32) FX_ATTN_ALL(64) FX_ATTN_ALL(128)

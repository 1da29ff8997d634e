// CPU tests of attention.cu (included by kernel_tests.cpp when attention.cu is compiled in): every entry point
// (4 dtypes x D in {16, 32, 64, 128}, forward, backward and the backward's prep) against attention and its gradients
// computed in double over the same (rounded) inputs.
// The float16/bfloat16 entry points run on cudasim's wmma emulation (the algorithm, not the fragment layouts).
#pragma once

// Where element (b, h, row, 0) of one operand lies: b*B + h*H + row*T (the kernels' FX_ATTN_LAYOUT).
struct AttnLayout { i64 B, H, T; i64 at(int b, int h, int row) const { return b * B + h * H + row * T; } };

struct AttnCase {
    const char* what;
    int batch, heads, t, s;
    bool causal;
    bool packed;        // q, k, v as views of one (B, T, 3, H, D) qkv buffer; out as (B, T, H, D) (needs t == s)
    int special;        // 0: none; 1: NaN in a q row, +inf in key 0 (rows that see it: -inf then finite, NaN, ...); 2: big scores;
                        // 3 (backward): NaN in a q row with zeroNan (its weights count as 0)
};

static std::vector<AttnCase> attnCases() {
    std::vector<AttnCase> c = {
        {"one query, one key", 1, 1, 1, 1, false, false, 0},
        {"T 17, S 33", 1, 2, 17, 33, false, false, 0},
        {"T 17, S 33 causal", 1, 1, 17, 33, true, false, 0},
    };
    if (g_quick) return c;
    c.push_back({"T = S = 70 causal, packed qkv (B 2, H 2)", 2, 2, 70, 70, true, true, 0});
    c.push_back({"T 130 > S 70 causal (rows past S see every key)", 1, 1, 130, 70, true, false, 0});
    c.push_back({"T 40, S 100, NaN and +-inf", 1, 1, 40, 100, false, false, 1});
    c.push_back({"T 33, S 80 causal, NaN and +-inf", 1, 1, 33, 80, true, false, 1});
    c.push_back({"T 33, S 80 causal, scores in the thousands", 1, 1, 33, 80, true, false, 2});
    return c;
}

// out (BH, T, D), lse (BH, T) of softmax(q k^T scale) v over the valid keys; NaN rows as the composed softmax
// (a NaN score, a +inf score, or only -inf scores).
static void attnRef(int bh, int t, int s, int d, const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                    double scale, bool causal, std::vector<double>& out, std::vector<double>& lse) {
    out.assign((size_t)bh * t * d, 0);
    lse.assign((size_t)bh * t, 0);
    std::vector<double> sc(s);
    for (int b = 0; b < bh; b++)
        for (int i = 0; i < t; i++) {
            int n = causal ? std::min(i + 1, s) : s;
            double m = -INFINITY;
            bool nan = false;
            for (int j = 0; j < n; j++) {
                double a = 0;
                for (int e = 0; e < d; e++) a += q[((size_t)b * t + i) * d + e] * k[((size_t)b * s + j) * d + e];
                sc[j] = a * scale;
                nan |= sc[j] != sc[j];
                if (sc[j] > m) m = sc[j];
            }
            double* o = &out[((size_t)b * t + i) * d];
            if (nan || std::isinf(m)) {
                for (int e = 0; e < d; e++) o[e] = NAN;
                lse[(size_t)b * t + i] = NAN;
                continue;
            }
            double l = 0;
            for (int j = 0; j < n; j++) l += exp(sc[j] - m);
            for (int j = 0; j < n; j++) {
                double p = exp(sc[j] - m) / l;
                for (int e = 0; e < d; e++) o[e] += p * v[((size_t)b * s + j) * d + e];
            }
            lse[(size_t)b * t + i] = m + log(l);
        }
}

/** n test values rounded to T, as doubles: the inputs both the kernel (in T) and the float64 reference see. */
template <typename T> std::vector<double> drawRounded(size_t n) {
    Buf<T> x = values<T>(n);
    std::vector<double> r(n);
    for (size_t i = 0; i < n; i++) r[i] = tod(x[i]);
    return r;
}

template <typename T, int D, typename K> void testAttention(const char* name, K kernel) {
    typedef typename Acc<T>::type C;
    constexpr bool tc = sizeof(T) == 2;
    const int br = tc ? 64 : 16;
    // tolerances: 16-bit P is rounded to T before P v (bf16: 2^-9); float32 sums in float
    double rt = std::is_same_v<T, double> ? 1e-10 : std::is_same_v<T, float> ? 1e-4 : std::is_same_v<T, __half> ? 2e-3 : 1.6e-2;
    double at = std::is_same_v<T, double> ? 1e-10 : std::is_same_v<T, float> ? 1e-4 : std::is_same_v<T, __half> ? 3e-3 : 2e-2;
    double lrt = std::is_same_v<T, double> ? 1e-11 : 1e-5;
    for (const AttnCase& ac : attnCases()) {
        runCase("attention", std::string(name) + " " + ac.what, [&] {
            int bh = ac.batch * ac.heads, t = ac.t, s = ac.s, h = ac.heads;
            double scale = 1 / sqrt((double)D);
            // logical inputs (BH, T|S, D), rounded to T
            auto draw = [](size_t n) { return drawRounded<T>(n); };
            std::vector<double> q = draw((size_t)bh * t * D), k = draw((size_t)bh * s * D), v = draw((size_t)bh * s * D);
            if (ac.special == 1) {
                q[(size_t)3 * D + 1] = NAN;                                    // row 3: NaN
                for (int b = 0; b < bh; b++) k[(size_t)b * s * D + 2] = INFINITY;   // key 0: +-inf or NaN scores by the sign of q[., 2]
                q[(size_t)5 * D + 2] = -1;                                     // row 5: -inf first, then finite scores
                q[(size_t)6 * D + 2] = 1;                                      // row 6: +inf: NaN
            }
            if (ac.special == 2) for (double& x : q) x *= 16;              // |scores| up to ~1000: exp overflows without the running max
            // the kernel's buffers, in the case's layout
            AttnLayout lq, lk, lv, lo;
            Buf<T> qb, kb, vb, ob;
            T *qp, *kp, *vp;
            if (ac.packed) {
                i64 row = 3LL * h * D;
                lq = lk = lv = {t * row, D, row};
                qb = Buf<T>((size_t)ac.batch * t * row);
                qp = qb.data(); kp = qp + h * D; vp = qp + 2 * h * D;
                lo = {(i64)t * h * D, D, (i64)h * D};
            } else {
                lq = {(i64)h * t * D, (i64)t * D, D};
                lk = lv = {(i64)h * s * D, (i64)s * D, D};
                lo = lq;
                qb = Buf<T>((size_t)bh * t * D); kb = Buf<T>((size_t)bh * s * D); vb = Buf<T>((size_t)bh * s * D);
                qp = qb.data(); kp = kb.data(); vp = vb.data();
            }
            ob = Buf<T>((size_t)bh * t * D, fromd<T>(12345));                 // every element must be written
            for (int b = 0; b < ac.batch; b++)
                for (int hh = 0; hh < h; hh++) {
                    int m = b * h + hh;
                    for (int i = 0; i < t; i++) for (int e = 0; e < D; e++) qp[lq.at(b, hh, i) + e] = fromd<T>(q[((size_t)m * t + i) * D + e]);
                    for (int j = 0; j < s; j++) for (int e = 0; e < D; e++) {
                        kp[lk.at(b, hh, j) + e] = fromd<T>(k[((size_t)m * s + j) * D + e]);
                        vp[lv.at(b, hh, j) + e] = fromd<T>(v[((size_t)m * s + j) * D + e]);
                    }
                }
            Buf<C> lse((size_t)bh * t, (C)12345);
            std::vector<double> wantOut, wantLse;
            attnRef(bh, t, s, D, q, k, v, scale, ac.causal, wantOut, wantLse);
            dim3 grid(bh, (t + br - 1) / br);
            if (!run(name, grid, dim3(128), kernel, h, t, s, (const T*)qp, lq.B, lq.H, lq.T, (const T*)kp, lk.B, lk.H, lk.T,
                     (const T*)vp, lv.B, lv.H, lv.T, ob.data(), lo.B, lo.H, lo.T, lse.data(), scale, ac.causal ? 1 : 0)) return;
            std::vector<T> got((size_t)bh * t * D);                          // back to (BH, T, D)
            for (int b = 0; b < ac.batch; b++)
                for (int hh = 0; hh < h; hh++)
                    for (int i = 0; i < t; i++)
                        for (int e = 0; e < D; e++) got[(((size_t)b * h + hh) * t + i) * D + e] = ob[lo.at(b, hh, i) + e];
            double big = ac.special == 2 ? (std::is_same_v<T, double> ? 1e-9 : 2e-3) : 0;   // scores ~1000: float rounding of a score moves exp by ~1e-4
            if (!expect("out", got.data(), wantOut, std::max(rt, big), std::max(at, big))) return;
            expect("lse", lse.data(), wantLse, lrt, lrt);
        });
    }
}

// Gradients of attention in double given the forward's lse: P = exp(scores - lse) over the valid keys (with zeroNan a
// row whose lse is NaN takes no part), dV = P^T dO, dP = dO V^T, dS = P (dP - Dl) with Dl = rowsum(dO * O) of the O given, dQ = dS K scale,
// dK = dS^T Q scale. Inputs (BH, T|S, D) row-major.
static void attnBwdRef(int bh, int t, int s, int d, const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                       const std::vector<double>& g, const std::vector<double>& o, const std::vector<double>& lse, double scale, bool causal,
                       bool zeroNan, std::vector<double>& dl, std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) {
    dl.assign((size_t)bh * t, 0);
    dq.assign((size_t)bh * t * d, 0);
    dk.assign((size_t)bh * s * d, 0);
    dv.assign((size_t)bh * s * d, 0);
    for (int b = 0; b < bh; b++)
        for (int i = 0; i < t; i++) {
            const double* qi = &q[((size_t)b * t + i) * d];
            const double* gi = &g[((size_t)b * t + i) * d];
            double dli = 0;
            for (int e = 0; e < d; e++) dli += gi[e] * o[((size_t)b * t + i) * d + e];
            dl[(size_t)b * t + i] = dli;
            int n = causal ? std::min(i + 1, s) : s;
            double l = lse[(size_t)b * t + i];
            if (zeroNan && l != l) continue;                                   // attends nothing: takes no part
            for (int j = 0; j < n; j++) {
                const double* kj = &k[((size_t)b * s + j) * d];
                const double* vj = &v[((size_t)b * s + j) * d];
                double a = 0, dp = 0;
                for (int e = 0; e < d; e++) { a += qi[e] * kj[e]; dp += gi[e] * vj[e]; }
                double p = exp(a * scale - l);
                double ds = p * (dp - dli);
                for (int e = 0; e < d; e++) {
                    dv[((size_t)b * s + j) * d + e] += p * gi[e];
                    dk[((size_t)b * s + j) * d + e] += ds * qi[e] * scale;
                    dq[((size_t)b * t + i) * d + e] += ds * kj[e] * scale;
                }
            }
        }
}

// The largest |x| of the finite values (the scale of an absolute tolerance).
static double maxAbs(const std::vector<double>& x) { double m = 0; for (double v : x) if (std::isfinite(v)) m = std::max(m, fabs(v)); return m; }

template <typename T, int D, typename P, typename K> void testAttentionBackward(const char* prepName, P prep, const char* name, K kernel) {
    typedef typename Acc<T>::type C;
    constexpr bool tc = sizeof(T) == 2;
    const int bc = tc ? 64 : (sizeof(C) * D > 512 ? 8 : 16);
    // 16-bit P^T and dS^T are rounded to T before their GEMMs; the rest sums in float32 (double for float64)
    double tl = std::is_same_v<T, double> ? 1e-10 : std::is_same_v<T, float> ? 2e-5 : std::is_same_v<T, __half> ? 4e-3 : 3e-2;
    std::vector<AttnCase> cases = attnCases();
    if (!g_quick) cases.push_back({"T 70 > S 33 causal, NaN in a q row, zeroNan", 1, 1, 70, 33, true, false, 3});
    for (const AttnCase& ac : cases) {
        if (ac.special == 1) continue;                                        // NaN/inf forward rows: covered by the forward
        runCase("attention", std::string(name) + " " + ac.what, [&] {
            int bh = ac.batch * ac.heads, t = ac.t, s = ac.s, h = ac.heads;
            double scale = 1 / sqrt((double)D);
            auto draw = [](size_t n) { return drawRounded<T>(n); };
            std::vector<double> q = draw((size_t)bh * t * D), k = draw((size_t)bh * s * D), v = draw((size_t)bh * s * D), g = draw((size_t)bh * t * D);
            if (ac.special == 2) for (double& x : q) x *= 16;
            if (ac.special == 3) q[(size_t)3 * D + 1] = NAN;
            std::vector<double> o, lse;
            attnRef(bh, t, s, D, q, k, v, scale, ac.causal, o, lse);
            for (double& x : o) x = tod(fromd<T>(x));                         // the forward's output, in T
            // buffers: q, k, v (and dk, dv) packed as views of one qkv buffer, g and o as the forward's out; else contiguous
            AttnLayout lq, lk, lo;
            Buf<T> qkv, qb, kb, vb, gb((size_t)bh * t * D), ob((size_t)bh * t * D), dqkv, dkb, dvb;
            T *qp, *kp, *vp, *dkp, *dvp;
            if (ac.packed) {
                i64 row = 3LL * h * D;
                lq = lk = {t * row, D, row};
                lo = {(i64)t * h * D, D, (i64)h * D};
                qkv = Buf<T>((size_t)ac.batch * t * row);
                dqkv = Buf<T>((size_t)ac.batch * t * row, fromd<T>(12345));
                qp = qkv.data(); kp = qp + h * D; vp = qp + 2 * h * D;
                dkp = dqkv.data() + h * D; dvp = dqkv.data() + 2 * h * D;
            } else {
                lq = lo = {(i64)h * t * D, (i64)t * D, D};
                lk = {(i64)h * s * D, (i64)s * D, D};
                qb = Buf<T>((size_t)bh * t * D); kb = Buf<T>((size_t)bh * s * D); vb = Buf<T>((size_t)bh * s * D);
                dkb = Buf<T>((size_t)bh * s * D, fromd<T>(12345)); dvb = Buf<T>((size_t)bh * s * D, fromd<T>(12345));
                qp = qb.data(); kp = kb.data(); vp = vb.data(); dkp = dkb.data(); dvp = dvb.data();
            }
            for (int b = 0; b < ac.batch; b++)
                for (int hh = 0; hh < h; hh++) {
                    int m = b * h + hh;
                    for (int i = 0; i < t; i++) for (int e = 0; e < D; e++) {
                        qp[lq.at(b, hh, i) + e] = fromd<T>(q[((size_t)m * t + i) * D + e]);
                        gb[lo.at(b, hh, i) + e] = fromd<T>(g[((size_t)m * t + i) * D + e]);
                        ob[lo.at(b, hh, i) + e] = fromd<T>(o[((size_t)m * t + i) * D + e]);
                    }
                    for (int j = 0; j < s; j++) for (int e = 0; e < D; e++) {
                        kp[lk.at(b, hh, j) + e] = fromd<T>(k[((size_t)m * s + j) * D + e]);
                        vp[lk.at(b, hh, j) + e] = fromd<T>(v[((size_t)m * s + j) * D + e]);
                    }
                }
            Buf<C> lseC((size_t)bh * t), dl((size_t)bh * t, (C)12345), dq((size_t)bh * t * D, (C)12345);
            for (size_t i = 0; i < lse.size(); i++) lseC[i] = (C)lse[i];
            std::vector<double> lseUsed(lse.size()), wantDl, wantDq, wantDk, wantDv;
            for (size_t i = 0; i < lse.size(); i++) lseUsed[i] = (double)lseC[i];
            bool zeroNan = ac.special == 3;
            attnBwdRef(bh, t, s, D, q, k, v, g, o, lseUsed, scale, ac.causal, zeroNan, wantDl, wantDq, wantDk, wantDv);
            if (!run(prepName, dim3(bh, std::min((t + 3) / 4, 2)), dim3(128), prep, h, t, D, (const T*)gb.data(), lo.B, lo.H, lo.T,
                     (const T*)ob.data(), lo.B, lo.H, lo.T, dl.data(), dq.data())) return;
            if (!expect("Dl", dl.data(), wantDl, std::is_same_v<T, double> ? 1e-12 : 1e-5, std::is_same_v<T, double> ? 1e-12 : 1e-5)) return;
            for (size_t i = 0; i < dq.size(); i++) if (dq[i] != 0) { failCase("prep left dqAcc[" + std::to_string(i) + "] nonzero"); return; }
            dim3 grid(bh, (s + bc - 1) / bc);
            if (!run(name, grid, dim3(128), kernel, h, t, s, (const T*)qp, lq.B, lq.H, lq.T, (const T*)kp, lk.B, lk.H, lk.T,
                     (const T*)vp, lk.B, lk.H, lk.T, (const T*)gb.data(), lo.B, lo.H, lo.T, (const C*)lseC.data(), (const C*)dl.data(),
                     dkp, dvp, lk.B, lk.H, lk.T, dq.data(), scale, ac.causal ? 1 : 0, zeroNan ? 1 : 0)) return;
            std::vector<T> gotK((size_t)bh * s * D), gotV((size_t)bh * s * D);
            for (int b = 0; b < ac.batch; b++)
                for (int hh = 0; hh < h; hh++)
                    for (int j = 0; j < s; j++)
                        for (int e = 0; e < D; e++) {
                            gotK[(((size_t)b * h + hh) * s + j) * D + e] = dkp[lk.at(b, hh, j) + e];
                            gotV[(((size_t)b * h + hh) * s + j) * D + e] = dvp[lk.at(b, hh, j) + e];
                        }
            double big = ac.special == 2 ? (std::is_same_v<T, double> ? 1e-9 : 2e-3) : 0;
            double rt = std::max(tl, big);
            if (!expect("dv", gotV.data(), wantDv, rt, rt * maxAbs(wantDv))) return;
            if (!expect("dk", gotK.data(), wantDk, rt, rt * maxAbs(wantDk))) return;
            expect("dq", dq.data(), wantDq, rt, rt * maxAbs(wantDq));
        });
    }
}

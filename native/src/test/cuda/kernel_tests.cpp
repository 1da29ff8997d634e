// Every CUDA kernel entry point of src/main/cuda, run on the CPU through cudasim.h and compared with a plain
// C++ reference computed in double (integers in int64). Run by run-kernel-tests.sh (Maven's test phase).
//
// Usage: kernel_tests [--order in|reverse|random] [--seed N] [--kernels FILE] [--only FAMILY] [--quick]
//   --kernels FILE: the entry points of the sources, one a line; every one must be launched (coverage).
// Prints one line per failed case and ends with "N passed, N failed"; exits 1 on any failure.
#include "cudasim.h"
#include "kernels.inc"   // generated: #include of every .cu file in src/main/cuda

#include <fstream>
#include <functional>
#include <memory>
#include <set>

// ---------------------------------------------------------------- dtypes: to and from double, tolerances

template <typename T> double tod(T v) { return (double)v; }
template <> double tod(__half v) { return __half2float(v); }
template <> double tod(bf16 v) { return __bfloat162float(v); }
template <typename T> T fromd(double v) {                 // the kernels' store rules (common.cuh store_double)
    if constexpr (std::is_same_v<T, __half>) return __float2half_rn((float)v);
    else if constexpr (std::is_same_v<T, bf16>) return __float2bfloat16_rn((float)v);
    else if constexpr (std::is_same_v<T, bool>) return v != 0;
    else if constexpr (std::is_integral_v<T>) return (T)(i64)v;
    else return (T)v;
}
template <typename T> constexpr bool isFloat() { return !std::is_integral_v<T>; }
// Relative tolerance: about two units in the last place of T (the kernels compute 16-bit types in float32).
template <typename T> double rtol() {
    if constexpr (std::is_same_v<T, float>) return 2e-5;
    else if constexpr (std::is_same_v<T, double>) return 1e-11;
    else if constexpr (std::is_same_v<T, __half>) return 2e-3;
    else if constexpr (std::is_same_v<T, bf16>) return 1.6e-2;
    else return 0;
}

// An exactly sized heap array (AddressSanitizer sees one element past the end), also of bool.
template <typename T> struct Buf {
    std::unique_ptr<T[]> p;
    size_t n = 0;
    Buf() = default;
    explicit Buf(size_t n, T v = T()) : p(new T[n]), n(n) { std::fill(p.get(), p.get() + n, v); }
    Buf(const Buf& o) : Buf(o.n) { std::copy(o.p.get(), o.p.get() + n, p.get()); }
    Buf& operator=(const Buf& o) { Buf c(o); std::swap(p, c.p); std::swap(n, c.n); return *this; }
    T* data() { return p.get(); }
    T& operator[](size_t i) { return p[i]; }
    size_t size() const { return n; }
};

// ---------------------------------------------------------------- cases, checks, launches

static std::string g_case, g_only;
static bool g_quick;                    // --quick: the NaN sweeps take 9 row lengths of 1..40 (the AddressSanitizer run)
static bool g_caseFailed;
static int g_passed, g_failed;
static const int SMS = 2;               // "multiprocessors" for the launch plans: small grids, grid-stride loops run

static void failCase(const std::string& msg) {
    if (!g_caseFailed) printf("FAIL %s: %s\n", g_case.c_str(), msg.c_str());
    g_caseFailed = true;
}

static void runCase(const char* family, const std::string& name, const std::function<void()>& body) {
    if (!g_only.empty() && g_only != family) return;
    g_case = std::string(family) + "/" + name;
    g_caseFailed = false;
    body();
    if (g_caseFailed) g_failed++; else g_passed++;
}

template <typename K, typename... A> bool run(const char* name, dim3 grid, dim3 block, K kernel, A... args) {
    bool ok = cudasim::launchKernel(name, grid, block, kernel, args...);
    if (!ok) failCase(cudasim::sim().error);
    return ok;
}

static bool near(double got, double want, double rt, double at) {
    if (want != want) return got != got;
    if (std::isinf(want)) return got == want;
    return fabs(got - want) <= at + rt * fabs(want);
}

// Compares got[i] (T) with want[i] rounded to T.
template <typename T> bool expect(const char* what, const T* got, const std::vector<double>& want, double rt = rtol<T>(), double at = -1) {
    if (at < 0) at = rt * 0.05;
    for (size_t i = 0; i < want.size(); i++) {
        double w = tod(fromd<T>(want[i])), g = tod(got[i]);
        if (!near(g, w, rt, at)) {
            char b[200];
            snprintf(b, sizeof b, "%s[%zu] = %.9g, expected %.9g", what, i, g, w);
            failCase(b);
            return false;
        }
    }
    return true;
}

static uint64_t g_rand = 88172645463325252ull;
static double rnd() { g_rand ^= g_rand << 13; g_rand ^= g_rand >> 7; g_rand ^= g_rand << 17; return (g_rand >> 11) * (1.0 / 9007199254740992.0); }
static int rndInt(int lo, int hi) { return lo + (int)(rnd() * (hi - lo + 1)) % (hi - lo + 1); }

// n values of T: floats in [-3, 3] in steps of 1/8 (ties and equal pairs happen), integers across their range.
template <typename T> Buf<T> values(size_t n, bool specials = false) {
    Buf<T> v(n);
    for (size_t i = 0; i < n; i++) {
        if constexpr (std::is_same_v<T, bool>) v[i] = rnd() < 0.5;
        else if constexpr (std::is_integral_v<T>) v[i] = (T)(i64)(rnd() * 256 - (std::is_signed_v<T> ? 128 : 0)) * (sizeof(T) > 1 ? (T)3 : (T)1);
        else v[i] = fromd<T>(std::round((rnd() * 6 - 3) * 8) / 8);
    }
    if constexpr (isFloat<T>()) if (specials && n >= 8) {
        const double s[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
        for (int k = 0; k < 5; k++) v[(k * 7 + 3) % n] = fromd<T>(s[k]);
    }
    return v;
}

static Iter iter(std::vector<int> shape, std::vector<std::vector<int>> strides) {
    Iter it;
    memset(&it, 0, sizeof it);
    it.rank = (int)shape.size();
    for (int d = 0; d < it.rank; d++) {
        it.shape[d] = shape[d];
        for (size_t o = 0; o < strides.size(); o++) it.stride[o][d] = strides[o][d];
    }
    return it;
}

static dim3 blocksFor(i64 n) { return dim3((unsigned)std::max<i64>(1, std::min<i64>((n + 255) / 256, 2))); }
static int rowThreads(i64 cols) { int t = 32; while (t < 1024 && t * 4LL < cols) t *= 2; return t; }
static dim3 rowBlocks(i64 rows) { return dim3((unsigned)std::max<i64>(1, std::min<i64>(rows, 32 * SMS))); }

#ifdef FX_HAS_elementwise
// ---------------------------------------------------------------- elementwise

static double unaryRef(int op, double x) {
    const double k = 0.7978845608028654;
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return exp(x);
        case U_LOG: return log(x);
        case U_SQRT: return sqrt(x);
        case U_RSQRT: return 1 / sqrt(x);
        case U_ABS: return fabs(x);
        case U_SIGN: return x > 0 ? 1 : (x < 0 ? -1 : x);
        case U_SIN: return sin(x);
        case U_COS: return cos(x);
        case U_TANH: return tanh(x);
        case U_SIGMOID: return 1 / (1 + exp(-x));
        case U_RELU: return x > 0 ? x : (x == x ? 0 : x);
        case U_GELU: return x * 0.5 * erfc(-x / sqrt(2.0));
        case U_GELU_TANH: return 0.5 * x * (1 + tanh(k * (x + 0.044715 * x * x * x)));
        case U_SILU: return x / (1 + exp(-x));
        case U_GELU_GRAD: return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
        case U_GELU_TANH_GRAD: { double t = tanh(k * (x + 0.044715 * x * x * x)); return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x); }
        default: { double s = 1 / (1 + exp(-x)); return s * (1 + x * (1 - s)); }   // U_SILU_GRAD
    }
}
static i64 unaryRefInt(int op, i64 x) {
    switch (op) { case U_NEG: return -x; case U_ABS: return x < 0 ? -x : x; case U_SIGN: return (x > 0) - (x < 0); default: return x > 0 ? x : 0; }
}

template <typename T> void testUnary(const char* name, void (*k)(int, i64, const T*, T*, Iter, int)) {
    std::vector<int> ops;
    if constexpr (isFloat<T>()) for (int op = U_NEG; op <= U_SILU_GRAD; op++) ops.push_back(op);
    else ops = {U_NEG, U_ABS, U_SIGN, U_RELU};
    for (int op : ops) {
        runCase("elementwise", std::string(name) + " op " + std::to_string(op), [&] {
            // contiguous and 16-byte aligned (vector path + tail), at an odd offset (scalar path), transposed, empty
            Buf<T> buf = values<T>(1038, true);
            for (int variant = 0; variant < 4; variant++) {
                const T* x = variant == 1 ? buf.data() + 1 : buf.data();
                i64 n = variant == 0 ? 1037 : variant == 1 ? 1037 : variant == 2 ? 35 : 0;
                Iter it = variant == 2 ? iter({5, 7}, {{1, 5}}) : iter({(int)n}, {{1}});
                int mode = variant == 2 ? MODE_STRIDED : MODE_CONTIGUOUS;
                Buf<T> y(n);
                std::vector<double> want(n);
                for (i64 i = 0; i < n; i++) {
                    i64 src = variant == 2 ? (i % 7) * 5 + i / 7 : i;
                    if constexpr (isFloat<T>()) want[i] = unaryRef(op, tod(x[src]));
                    else want[i] = (double)(T)unaryRefInt(op, (i64)x[src]);
                }
                if (!run(name, blocksFor(n), dim3(256), k, op, n, x, y.data(), it, mode)) return;
                if (!expect("y", y.data(), want, rtol<T>(), isFloat<T>() ? 1e-5 + rtol<T>() : 0)) return;
            }
        });
    }
}

static double binaryRef(int op, double a, double b) {
    switch (op) {
        case B_ADD: return a + b; case B_SUB: return a - b; case B_MUL: return a * b; case B_DIV: return a / b;
        case B_POW: return pow(a, b);
        case B_MAXIMUM: return (a != a || b != b) ? NAN : std::max(a, b);
        case B_MINIMUM: return (a != a || b != b) ? NAN : std::min(a, b);
        case B_EQ: return a == b; case B_NE: return a != b; case B_LT: return a < b; case B_LE: return a <= b;
        case B_GT: return a > b; default: return a >= b;
    }
}
static i64 binaryRefInt(int op, i64 a, i64 b) {
    switch (op) {
        case B_ADD: return a + b; case B_SUB: return a - b; case B_MUL: return a * b;
        case B_MAXIMUM: return std::max(a, b); case B_MINIMUM: return std::min(a, b);
        default: return (i64)binaryRef(op, (double)a, (double)b);
    }
}

// binary (O = T) and compare (O = bool) kernels, in each launch mode.
template <typename T, typename O> void testBinary(const char* name, void (*k)(int, i64, const T*, const T*, O*, Iter, int), std::vector<int> ops) {
    for (int op : ops) {
        runCase("elementwise", std::string(name) + " op " + std::to_string(op), [&] {
            Buf<T> A = values<T>(46, true), B = values<T>(46, true);
            for (int i = 0; i < 46; i += 5) B[i] = A[i];               // equal pairs for the comparisons
            for (int mode = 0; mode < 5; mode++) {        // STRIDED (broadcast b), CONTIGUOUS, B_SCALAR, A_SCALAR, unaligned
                int kmode = mode == 4 ? MODE_CONTIGUOUS : mode;
                i64 n = mode == 0 ? 36 : 45;
                const T* a = mode == 4 ? A.data() + 1 : A.data();
                const T* b = mode == 4 ? B.data() + 1 : B.data();
                Iter it = mode == 0 ? iter({4, 9}, {{9, 1}, {0, 1}}) : iter({(int)n}, {{1}, {1}});
                Buf<O> y(n);
                std::vector<double> want(n);
                for (i64 i = 0; i < n; i++) {
                    i64 ia = kmode == MODE_A_SCALAR ? 0 : i, ib = kmode == MODE_B_SCALAR ? 0 : mode == 0 ? i % 9 : i;
                    if constexpr (isFloat<T>()) want[i] = binaryRef(op, tod(a[ia]), tod(b[ib]));
                    else if constexpr (std::is_same_v<O, bool>) want[i] = binaryRef(op, (double)a[ia], (double)b[ib]);
                    else want[i] = (double)(T)binaryRefInt(op, (i64)a[ia], (i64)b[ib]);
                }
                if (!run(name, blocksFor(n), dim3(256), k, op, n, a, b, y.data(), it, kmode)) return;
                double rt = std::is_same_v<O, bool> ? 0 : rtol<O>();
                if (!expect("y", y.data(), want, rt, rt * 1e-3)) return;
            }
            Buf<O> none;                          // empty
            run(name, dim3(1), dim3(256), k, op, (i64)0, A.data(), B.data(), none.data(), iter({0}, {{1}, {1}}), MODE_CONTIGUOUS);
        });
    }
}

// fx_act_bwd: ReLU's threshold_backward and grad * act'(x) (the derivative rounded to T first), contiguous, at an odd
// offset, and with x transposed; NaN, +-inf, +-0 among the values.
template <typename T> void testActBackward(const char* name, void (*k)(int, i64, const T*, const T*, T*, Iter, int)) {
    const int derivative[] = {0, U_GELU_GRAD, U_GELU_TANH_GRAD, U_SILU_GRAD};
    for (int act = ACT_RELU; act <= ACT_SILU; act++) {
        runCase("elementwise", std::string(name) + " act " + std::to_string(act), [&] {
            Buf<T> G = values<T>(61, true), X = values<T>(61, true);
            for (int variant = 0; variant < 4; variant++) {       // contiguous, odd offset, x transposed, empty
                i64 n = variant == 2 ? 35 : variant == 3 ? 0 : 60;
                const T* g = variant == 1 ? G.data() + 1 : G.data();
                const T* x = variant == 1 ? X.data() + 1 : X.data();
                Iter it = variant == 2 ? iter({5, 7}, {{7, 1}, {1, 5}}) : iter({(int)n}, {{1}, {1}});
                Buf<T> dx(n);
                std::vector<double> want(n);
                for (i64 i = 0; i < n; i++) {
                    i64 ix = variant == 2 ? (i % 7) * 5 + i / 7 : i;
                    double gv = tod(g[i]), xv = tod(x[ix]);
                    if (act == ACT_RELU) want[i] = xv <= 0 ? 0.0 : gv;
                    else want[i] = gv * tod(fromd<T>(unaryRef(derivative[act], xv)));
                }
                if (!run(name, blocksFor(n), dim3(256), k, act, n, g, x, dx.data(), it, variant == 2 ? 0 : 1)) return;
                if (!expect("dx", dx.data(), want, rtol<T>(), 1e-5 + rtol<T>())) return;
                if (act == ACT_RELU)                                  // a dropped element is +0, never -0
                    for (i64 i = 0; i < n; i++)
                        if (want[i] == 0 && tod(x[variant == 2 ? (i % 7) * 5 + i / 7 : i]) <= 0 && std::signbit(tod(dx[i]))) { failCase("dx[" + std::to_string(i) + "] is -0"); return; }
            }
        });
    }
}

template <typename S> void testWhere(const char* name, void (*k)(i64, const bool*, const S*, const S*, S*, Iter)) {
    runCase("elementwise", name, [&] {
        // y [3, 6] = cond [3, 1] ? a [3, 6] : b [1, 6]
        bool cond[3] = {true, false, true};
        Buf<S> a(18), b(6), y(18);
        for (int i = 0; i < 18; i++) a[i] = (S)(i * 37 + 1);
        for (int i = 0; i < 6; i++) b[i] = (S)(i * 11 + 200);
        if (!run(name, dim3(1), dim3(256), k, (i64)18, cond, a.data(), b.data(), y.data(), iter({3, 6}, {{1, 0}, {6, 1}, {0, 1}}))) return;
        for (int i = 0; i < 18; i++)
            if (y[i] != (cond[i / 6] ? a[i] : b[i % 6])) { failCase("y[" + std::to_string(i) + "] wrong"); return; }
    });
}

#endif

#ifdef FX_HAS_copy
// ---------------------------------------------------------------- copy, cast, fill

static size_t typeSize(int t) { const size_t s[] = {4, 8, 2, 2, 8, 4, 1, 1, 1}; return s[t]; }

static void testCopy() {
    const int pairs[][2] = {{FX_F32, FX_F16}, {FX_F16, FX_BF16}, {FX_BF16, FX_F64}, {FX_F64, FX_F32}, {FX_I64, FX_F32}, {FX_F32, FX_I64},
                            {FX_I32, FX_I8}, {FX_U8, FX_BOOL}, {FX_BOOL, FX_F32}, {FX_I64, FX_I32}, {FX_F32, FX_I32}, {FX_I8, FX_U8},
                            {FX_F32, FX_BOOL}, {FX_I64, FX_I64}};
    for (auto& p : pairs) {
        runCase("copy", "fx_copy " + std::to_string(p[0]) + "->" + std::to_string(p[1]), [&] {
            const int n = 35;                                  // [5, 7]; strided: src is the transpose of a [7, 5] buffer
            bool toInt = p[1] >= FX_I64 && p[1] != FX_BOOL;
            std::vector<double> vals(n);
            std::vector<i64> longs(n);
            for (int i = 0; i < n; i++) {
                longs[i] = p[0] == FX_BOOL ? i % 2 : p[0] == FX_U8 ? i * 7 % 256 : (i64)(rnd() * 600) - 300;
                vals[i] = p[0] <= FX_BF16 ? (longs[i] + 0.375 * (i % 3)) * (i % 4 == 1 ? -1 : 1) : (double)longs[i];
                if (p[0] == FX_I64) longs[i] = (i % 5 == 0) ? (1LL << 53) + 1 + i : longs[i];   // exact beyond 2^53
                if (p[0] <= FX_BF16 && !toInt && i == 4) vals[i] = NAN;                      // NaN -> int is device-defined
                if (p[0] <= FX_BF16 && !toInt && i == 6) vals[i] = -INFINITY;
            }
            std::vector<char> src(n * typeSize(p[0])), dst(n * typeSize(p[1])), want(n * typeSize(p[1]));
            for (int i = 0; i < n; i++)
                if (p[0] >= FX_I64) store_long(p[0], src.data(), i, longs[i]); else store_double(p[0], src.data(), i, vals[i]);
            for (int strided = 0; strided < 2; strided++) {
                for (int i = 0; i < n; i++) {                   // reference: element i of dst reads src at the mapped offset
                    int s = strided ? (i % 7) * 5 + i / 7 : i;
                    if (p[0] == FX_I64 || p[1] == FX_I64) store_long(p[1], want.data(), i, load_as_long(p[0], src.data(), s));
                    else store_double(p[1], want.data(), i, load_as_double(p[0], src.data(), s));
                }
                Iter it = strided ? iter({5, 7}, {{1, 5}, {7, 1}}) : iter({n}, {{1}, {1}});
                memset(dst.data(), 0x5a, dst.size());
                if (!run("fx_copy", dim3(1), dim3(256), fx_copy, (i64)n, p[0], (const void*)src.data(), p[1], (void*)dst.data(), it, 1 - strided)) return;
                for (int i = 0; i < n; i++) {
                    double g = load_as_double(p[1], dst.data(), i), w = load_as_double(p[1], want.data(), i);
                    if (!(g == w || (g != g && w != w)) || load_as_long(p[1], dst.data(), i) != load_as_long(p[1], want.data(), i)) {
                        failCase("dst[" + std::to_string(i) + "] = " + std::to_string(g) + ", expected " + std::to_string(w)); return;
                    }
                }
            }
        });
    }
}

template <typename S, typename D> void testCast(const char* name, void (*k)(i64, const S*, D*)) {
    runCase("copy", name, [&] {
        Buf<S> src = values<S>(1028, true);
        src[9] = fromd<S>(70000.0);                             // beyond float16's range
        src[10] = fromd<S>(1e-8);                               // float16 subnormal / underflow
        for (int off = 0; off < 2; off++) {                     // aligned (vector path + tail) and unaligned
            i64 n = 1027 - off;
            std::vector<D> dst(n);
            std::vector<double> want(n);
            for (i64 i = 0; i < n; i++) want[i] = tod(fromd<D>((double)(float)tod(src[i + off])));
            if (!run(name, blocksFor(n), dim3(256), k, n, src.data() + off, dst.data())) return;
            if (!expect("dst", dst.data(), want, 0, 0)) return;
        }
    });
}

static void testFill() {
    for (int type : {FX_F32, FX_F64, FX_F16, FX_BF16, FX_I64, FX_I32, FX_I8, FX_U8, FX_BOOL}) {
        runCase("copy", "fx_fill type " + std::to_string(type), [&] {
            double value = type >= FX_I64 ? 3 : -2.5;
            i64 longValue = type == FX_I64 ? (1LL << 53) + 1 : 3;
            for (int strided = 0; strided < 2; strided++) {   // strided: a [3, 4] view with strides (8, 2) of 24 elements
                int n = 12, total = strided ? 24 : 12;
                std::vector<char> dst(total * typeSize(type), 0);
                Iter it = strided ? iter({3, 4}, {{8, 2}}) : iter({n}, {{1}});
                if (!run("fx_fill", dim3(1), dim3(256), fx_fill, (i64)n, type, (void*)dst.data(), it, 1 - strided, value, longValue)) return;
                size_t sz = typeSize(type);
                char one[8], zero[8] = {0};
                if (type == FX_I64) store_long(type, one, 0, longValue); else store_double(type, one, 0, value);
                for (int e = 0; e < total; e++) {
                    bool written = !strided || e % 2 == 0;
                    if (memcmp(dst.data() + e * sz, written ? one : zero, sz) != 0) { failCase("element " + std::to_string(e) + " wrong"); return; }
                }
            }
        });
    }
    runCase("copy", "fx_fill_u64", [&] {
        std::vector<unsigned long long> d(5);
        if (!run("fx_fill_u64", dim3(1), dim3(256), fx_fill_u64, (i64)5, d.data(), 0x7ff8000000000001ull)) return;
        for (auto v : d) if (v != 0x7ff8000000000001ull) { failCase("wrong bits"); return; }
        run("fx_fill_u64", dim3(1), dim3(256), fx_fill_u64, (i64)0, (unsigned long long*)nullptr, 0ull);
    });
}

#endif

#ifdef FX_HAS_reduce
// ---------------------------------------------------------------- reductions

// CudaReduce.Plan.of: the kernel (rows or columns), splits per row and threads per block.
struct Plan { bool columns; int splits, threads; };
static i64 ceilDiv(i64 a, i64 b) { return (a + b - 1) / b; }
static Plan planOf(i64 rows, i64 inner, bool innerContiguous) {
    i64 want = 4 * SMS;
    if (!(innerContiguous && inner >= 16) && rows >= 256) {
        i64 gridX = std::min<i64>(ceilDiv(rows, 256), 16 * SMS);
        return {true, (int)std::min<i64>(std::max<i64>(1, ceilDiv(want, gridX)), std::max<i64>(1, inner / 64)), 256};
    }
    i64 splits = rows >= want ? 1 : std::min<i64>(ceilDiv(want, rows), std::max<i64>(1, ceilDiv(inner, 4096)));
    splits = std::max<i64>(1, std::min<i64>(splits, 1024));
    int threads = 32;
    while (threads < 256 && threads < ceilDiv(inner, splits)) threads *= 2;
    return {false, (int)splits, threads};
}

template <typename T>
void testReduce(const char* rowsName, void (*rowsK)(int, i64, i64, int, const T*, Iter, Iter, int, void*, typename Acc<T>::type*, i64*),
                const char* colsName, void (*colsK)(int, i64, i64, const T*, Iter, Iter, void*, typename Acc<T>::type*, i64*),
                const char* finalName, void (*finalK)(int, i64, int, const typename Acc<T>::type*, const i64*, void*)) {
    typedef typename Acc<T>::type C;
    struct Shape { const char* what; i64 rows, inner, outerStride, redStride, size; };
    const Shape shapes[] = {
        {"2x5000 contiguous, split", 2, 5000, 5000, 1, 10000},
        {"over dim 0 of 6x10", 10, 6, 1, 10, 60},
        {"over dim 0 of 200x300, columns, split", 300, 200, 1, 300, 60000},
        {"[4] broadcast to 4x50", 4, 50, 1, 0, 4},
        {"empty rows 3x0", 3, 0, 0, 1, 1}};
    for (const Shape& s : shapes) for (int op = R_SUM; op <= R_ARGMIN; op++) {
        if (s.inner == 0 && op != R_SUM) continue;
        runCase("reduce", std::string(rowsName + 15) + " " + s.what + " op " + std::to_string(op), [&] {
            Buf<T> x = values<T>(s.size);
            if constexpr (isFloat<T>()) if (s.size > 100) {
                x[(s.rows - 1) * s.outerStride + (s.inner - 7) * s.redStride] = fromd<T>(NAN);   // a NaN near the end of the last row
                x[5 * s.redStride] = fromd<T>(INFINITY);
            }
            std::vector<double> want(s.rows);
            for (i64 r = 0; r < s.rows; r++) {
                double best = 0; i64 at = LLONG_MAX, isum = 0; bool nan = false;
                for (i64 j = 0; j < s.inner; j++) {
                    T e = x[r * s.outerStride + j * s.redStride];
                    double v = tod(e);
                    if (op == R_SUM) { if constexpr (isFloat<T>()) best += v; else isum += (i64)e; continue; }
                    bool better = at == LLONG_MAX || (!nan && (v != v || ((op == R_MAX || op == R_ARGMAX) ? v > best : v < best)));
                    if (better) { best = v; at = j; nan = v != v; }
                }
                if (op == R_SUM && !isFloat<T>()) { T w = (T)isum; best = tod(w); }
                want[r] = (op == R_ARGMAX || op == R_ARGMIN) ? (double)at : best;
            }
            Plan p = planOf(s.rows, s.inner, s.redStride == 1);
            Iter outer = iter({(int)s.rows}, {{(int)s.outerStride}}), red = iter({(int)s.inner}, {{(int)s.redStride}});
            std::vector<C> partV(p.splits > 1 ? s.rows * p.splits : 0);
            std::vector<i64> partI(partV.size());
            C* pv = p.splits > 1 ? partV.data() : nullptr;
            i64* pi = p.splits > 1 ? partI.data() : nullptr;
            Buf<T> outT(s.rows);
            std::vector<i64> outI(s.rows);
            void* out = (op == R_ARGMAX || op == R_ARGMIN) ? (void*)outI.data() : (void*)outT.data();
            if (p.columns) {
                if (!run(colsName, dim3((unsigned)std::min<i64>(ceilDiv(s.rows, 256), 16 * SMS), p.splits), dim3(256), colsK, op, s.rows, s.inner,
                         (const T*)x.data(), outer, red, out, pv, pi)) return;
            } else if (!run(rowsName, dim3((unsigned)std::min<i64>(s.rows * p.splits, 32 * SMS)), dim3(p.threads), rowsK, op, s.rows, s.inner, p.splits,
                            (const T*)x.data(), outer, red, s.redStride == 1 ? 1 : 0, out, pv, pi)) return;
            if (p.splits > 1 && !run(finalName, blocksFor(s.rows), dim3(256), finalK, op, s.rows, p.splits, (const C*)pv, (const i64*)pi, out)) return;
            if (op == R_ARGMAX || op == R_ARGMIN) {
                for (i64 r = 0; r < s.rows; r++)
                    if (outI[r] != (i64)want[r]) { failCase("index[" + std::to_string(r) + "] = " + std::to_string(outI[r]) + ", expected " + std::to_string((i64)want[r])); return; }
            } else expect("out", outT.data(), want, rtol<T>(), rtol<T>());
        });
    }
}

#endif

// ---------------------------------------------------------------- softmax, cross-entropy (rowstats.cuh)

// log-sum-exp of a row in double: NaN if any element is NaN; -inf for an empty or all -inf row.
template <typename T> double lseRef(const T* row, i64 cols, double* maxOut = nullptr) {
    double m = -INFINITY;
    bool nan = false;
    for (i64 j = 0; j < cols; j++) { double v = tod(row[j]); if (v != v) nan = true; else m = std::max(m, v); }
    if (maxOut) *maxOut = nan ? NAN : m;
    if (nan) return NAN;
    if (m == -INFINITY) return -INFINITY;
    double s = 0;
    for (i64 j = 0; j < cols; j++) s += exp(tod(row[j]) - m);
    return m + log(s);
}

// Rows whose logits hold a NaN at each position, for each row length 1..40: every output of such a row is NaN.
static std::vector<int> sweepLengths() {
    if (g_quick) return {1, 2, 3, 7, 16, 31, 32, 33, 40};
    std::vector<int> v;
    for (int c = 1; c <= 40; c++) v.push_back(c);
    return v;
}

template <typename T> Buf<T> nanRows(int cols, i64& rows) {
    rows = cols + 1;
    Buf<T> x = values<T>(rows * cols);
    for (int r = 0; r < cols; r++) x[r * cols + r] = fromd<T>(NAN);
    if (cols > 2) x[cols * cols + 1] = fromd<T>(-INFINITY);          // the last row: no NaN, one -inf
    return x;
}

#ifdef FX_HAS_softmax
template <typename T> void testSoftmax(const char* fwdName, void (*fwd)(i64, i64, const T*, T*, int), const char* bwdName, void (*bwd)(i64, i64, const T*, const T*, T*, int)) {
    for (int log = 0; log < 2; log++) {
        auto check = [&](i64 rows, i64 cols, Buf<T>& x) {
            Buf<T> y(rows * cols);
            std::vector<double> want(rows * cols);
            for (i64 r = 0; r < rows; r++) {
                double m, l = lseRef(&x[r * cols], cols, &m);
                for (i64 j = 0; j < cols; j++) {
                    double v = tod(x[r * cols + j]);
                    want[r * cols + j] = log ? v - l : (m == -INFINITY ? NAN : exp(v - l));
                }
            }
            if (!run(fwdName, rowBlocks(rows), dim3(rowThreads(cols)), fwd, rows, cols, (const T*)x.data(), y.data(), log)) return false;
            return expect(("y of " + std::to_string(cols) + " columns").c_str(), y.data(), want, rtol<T>(), 1e-6 + rtol<T>() * 1e-2);
        };
        runCase("softmax", std::string(fwdName) + (log ? " log" : "") + " NaN at each position of rows of 1..40", [&] {
            for (int cols : sweepLengths()) {
                i64 rows;
                Buf<T> x = nanRows<T>(cols, rows);
                if (!check(rows, cols, x)) { failCase("with " + std::to_string(cols) + " columns"); return; }
            }
        });
        runCase("softmax", std::string(fwdName) + (log ? " log" : "") + " long rows, -inf rows, empty", [&] {
            Buf<T> a = values<T>(3 * 300), b = values<T>(2 * 3000), c = values<T>(2 * 5), e(0);
            for (int j = 0; j < 5; j++) c[j] = fromd<T>(-INFINITY);       // an all -inf row: NaN (as PyTorch)
            c[7] = fromd<T>(-INFINITY);
            check(3, 300, a) && check(2, 3000, b) && check(2, 5, c) && check(2, 0, e);
        });
        runCase("softmax", std::string(fwdName) + (log ? " log" : "") + " long rows: NaN first, second and last in a thread's slice", [&] {
            // rows longer than the block: thread t reads t, t + blockDim, ...; a NaN that a thread reads first
            // (before any finite value) must survive the running max as well as one it reads after a finite value
            for (i64 cols : {300, 3000}) {
                i64 threads = rowThreads(cols), rows = 4;
                Buf<T> x = values<T>(rows * cols);
                x[0 * cols + 5] = fromd<T>(NAN);                                   // first in thread 5's slice
                x[1 * cols + threads + 7] = fromd<T>(NAN);                         // second in thread 7's slice
                x[2 * cols + cols - 1] = fromd<T>(NAN);                            // the last element
                if (!check(rows, cols, x)) { failCase("with " + std::to_string(cols) + " columns"); return; }
            }
        });
        runCase("softmax", std::string(bwdName) + (log ? " log" : ""), [&] {
            for (i64 cols : {1, 17, 300, 3000}) {
                i64 rows = 3;
                Buf<T> y = values<T>(rows * cols), dy = values<T>(rows * cols), dx(rows * cols);
                dy[cols + cols / 2] = fromd<T>(NAN);                            // row 1: all NaN
                std::vector<double> want(rows * cols);
                for (i64 r = 0; r < rows; r++) {
                    double dot = 0;
                    for (i64 j = 0; j < cols; j++) dot += log ? tod(dy[r * cols + j]) : tod(dy[r * cols + j]) * tod(y[r * cols + j]);
                    for (i64 j = 0; j < cols; j++) {
                        double yv = tod(y[r * cols + j]), g = tod(dy[r * cols + j]);
                        want[r * cols + j] = log ? g - exp(yv) * dot : yv * (g - dot);
                    }
                }
                if (!run(bwdName, rowBlocks(rows), dim3(rowThreads(cols)), bwd, rows, cols, (const T*)y.data(), (const T*)dy.data(), dx.data(), log)) return;
                double scale = std::is_same_v<T, double> ? 1e-9 : 1e-4 * sqrt((double)cols);
                if (!expect("dx", dx.data(), want, rtol<T>(), rtol<T>() * 20 * cols + scale)) return;
            }
        });
    }
}

#endif

#ifdef FX_HAS_cross_entropy
template <typename T>
void testCrossEntropy(const char* fwdName, void (*fwd)(i64, i64, const T*, const void*, int, i64, typename Acc<T>::type*, typename Acc<T>::type*, ErrorRecord*),
                      const char* bwdName, void (*bwd)(i64, i64, const T*, const void*, int, i64, const typename Acc<T>::type*, const typename Acc<T>::type*, i64, T*)) {
    typedef typename Acc<T>::type C;
    auto targetsFor = [](i64 rows, i64 cols) {
        std::vector<i64> t(rows);
        for (i64 r = 0; r < rows; r++) t[r] = (r * 7 + 3) % cols;
        if (rows > 2) t[1] = -100;                                         // ignored
        return t;
    };
    runCase("cross_entropy", fwdName, [&] {
        std::vector<int> lens = sweepLengths();
        lens.push_back(1000);
        for (int cols : lens) {
            for (int tgt64 = 0; tgt64 < 2; tgt64++) {
                i64 rows;
                Buf<T> x = cols <= 40 ? nanRows<T>(cols, rows) : values<T>(4 * cols);
                if (cols > 40) rows = 4;
                std::vector<i64> t = targetsFor(rows, cols);
                bool bad = cols == 1000;
                if (bad) t[2] = cols;                                              // out of range: recorded, loss 0
                std::vector<int> t32(t.begin(), t.end());
                std::vector<C> loss(rows), lse(rows);
                std::vector<double> wantLoss(rows), wantLse(rows);
                for (i64 r = 0; r < rows; r++) {
                    wantLse[r] = lseRef(&x[r * cols], cols);
                    wantLoss[r] = (t[r] == -100 || t[r] >= cols) ? 0 : wantLse[r] - tod(x[r * cols + t[r]]);
                }
                ErrorRecord err = {0, 0, 0, 0};
                const void* tp = tgt64 ? (const void*)t.data() : (const void*)t32.data();
                if (!run(fwdName, rowBlocks(rows), dim3(rowThreads(cols)), fwd, rows, (i64)cols, (const T*)x.data(), tp, tgt64, (i64)-100, loss.data(), lse.data(), &err)) return;
                if (!expect("lse", lse.data(), wantLse, rtol<C>() * 2, 1e-6) || !expect("loss", loss.data(), wantLoss, rtol<C>() * 2, 1e-5)) {
                    failCase("with " + std::to_string(cols) + " classes"); return;
                }
                if (bad != (err.code == FX_ERR_CROSS_ENTROPY) || (bad && (err.dim != 1 || err.value != cols || err.size != cols))) {
                    failCase("error record code " + std::to_string(err.code) + " value " + std::to_string(err.value)); return;
                }
            }
        }
    });
    runCase("cross_entropy", bwdName, [&] {
        for (int cols : {1, 5, 33, 1000}) {
            for (int stride = 0; stride < 2; stride++) {              // dloss broadcast (mean) or one per row
                i64 rows = 4;
                Buf<T> x = values<T>(rows * cols), dx(rows * cols);
                std::vector<i64> t = targetsFor(rows, cols);
                std::vector<C> lse(rows), dloss = {(C)0.25, (C)-1.5, (C)2, (C)0.5};
                std::vector<double> want(rows * cols);
                for (i64 r = 0; r < rows; r++) {
                    lse[r] = (C)lseRef(&x[r * cols], cols);
                    double g = t[r] == -100 ? 0 : (double)dloss[r * stride];
                    for (i64 j = 0; j < cols; j++) want[r * cols + j] = (exp(tod(x[r * cols + j]) - (double)lse[r]) - (j == t[r] ? 1 : 0)) * g;
                }
                if (!run(bwdName, rowBlocks(rows), dim3(rowThreads(cols)), bwd, rows, (i64)cols, (const T*)x.data(), (const void*)t.data(), 1, (i64)-100,
                         (const C*)lse.data(), (const C*)dloss.data(), (i64)stride, dx.data())) return;
                if (!expect("dlogits", dx.data(), want, rtol<T>(), 1e-6 + rtol<T>() * 1e-2)) return;
            }
        }
    });
}

#endif

#ifdef FX_HAS_norm
// ---------------------------------------------------------------- LayerNorm, RMSNorm

template <typename T>
void testNorm(const char* fwdName, void (*fwd)(i64, i64, const T*, const T*, const T*, T*, typename Acc<T>::type*, typename Acc<T>::type*, float, int),
              const char* bwdName, void (*bwd)(i64, i64, const T*, const T*, const T*, const typename Acc<T>::type*, const typename Acc<T>::type*, T*,
                                               typename Acc<T>::type*, typename Acc<T>::type*, int),
              const char* sumName, void (*sumK)(int, i64, const typename Acc<T>::type*, T*)) {
    typedef typename Acc<T>::type C;
    for (int rms = 0; rms < 2; rms++) for (int affine = 0; affine < 2; affine++) {
        runCase("norm", std::string(fwdName) + (rms ? " rms" : " layer") + (affine ? " affine" : ""), [&] {
            for (i64 cols : {1, 33, 300, 2000}) {
                const i64 rows = 5;
                const float eps = 1e-5f;
                Buf<T> x = values<T>(rows * cols), w = values<T>(cols), b = values<T>(cols), y(rows * cols), dy = values<T>(rows * cols), dx(rows * cols);
                std::vector<C> mean(rows), rstd(rows);
                std::vector<double> wantY(rows * cols), wantDx(rows * cols), wantDw(cols, 0), wantDb(cols, 0), wantMean(rows), wantRstd(rows);
                for (i64 r = 0; r < rows; r++) {
                    const T* xr = &x[r * cols];
                    double mu = 0, q = 0, sg = 0, sgx = 0;
                    if (!rms) { for (i64 j = 0; j < cols; j++) mu += tod(xr[j]); mu /= cols; }
                    for (i64 j = 0; j < cols; j++) q += (tod(xr[j]) - mu) * (tod(xr[j]) - mu);
                    double rs = 1 / sqrt(q / cols + eps);
                    wantMean[r] = mu;
                    wantRstd[r] = rs;
                    for (i64 j = 0; j < cols; j++) {
                        double xh = (tod(xr[j]) - mu) * rs, d = tod(dy[r * cols + j]), g = d * (affine ? tod(w[j]) : 1);
                        wantY[r * cols + j] = xh * (affine ? tod(w[j]) : 1) + (affine ? tod(b[j]) : 0);
                        sg += g; sgx += g * xh;
                        wantDw[j] += d * xh;
                        wantDb[j] += d;
                    }
                    for (i64 j = 0; j < cols; j++) {
                        double xh = (tod(xr[j]) - mu) * rs, g = tod(dy[r * cols + j]) * (affine ? tod(w[j]) : 1);
                        wantDx[r * cols + j] = rs * (g - (rms ? 0 : sg / cols) - xh * sgx / cols);
                    }
                }
                const T* wp = affine ? w.data() : nullptr;
                const T* bp = affine ? b.data() : nullptr;
                C* meanP = rms ? nullptr : mean.data();
                if (!run(fwdName, rowBlocks(rows), dim3(rowThreads(cols)), fwd, rows, cols, (const T*)x.data(), wp, bp, y.data(), meanP, rstd.data(), eps, rms)) return;
                double at = std::is_same_v<T, double> ? 1e-9 : rtol<T>() * 4;
                if (!expect("y", y.data(), wantY, rtol<T>(), at) || !expect("rstd", rstd.data(), wantRstd, rtol<C>(), 0)) return;
                if (!rms && !expect("mean", mean.data(), wantMean, rtol<C>(), 1e-6)) return;
                // backward with a grid of 2 blocks: block 0 takes rows 0, 2, 4 into its partial row, block 1 rows 1, 3
                const int parts = 2;
                std::vector<C> dwPart(parts * cols, (C)7), dbPart(parts * cols, (C)7);
                std::vector<C> refMean(wantMean.begin(), wantMean.end()), refRstd(wantRstd.begin(), wantRstd.end());
                if (!run(bwdName, dim3(parts), dim3(rowThreads(cols)), bwd, rows, cols, (const T*)dy.data(), (const T*)x.data(), wp,
                         (const C*)(rms ? nullptr : refMean.data()), (const C*)refRstd.data(), dx.data(), affine ? dwPart.data() : nullptr, affine ? dbPart.data() : nullptr, rms)) return;
                double atDx = std::is_same_v<T, double> ? 1e-9 : rtol<T>() * 8 + 1e-4;
                if (!expect("dx", dx.data(), wantDx, rtol<T>() * 2, atDx)) return;
                if (affine) {
                    Buf<T> dw(cols), db(cols);
                    if (!run(sumName, blocksFor(cols), dim3(256), sumK, parts, cols, (const C*)dwPart.data(), dw.data())) return;
                    if (!run(sumName, blocksFor(cols), dim3(256), sumK, parts, cols, (const C*)dbPart.data(), db.data())) return;
                    if (!expect("dweight", dw.data(), wantDw, rtol<T>(), at * 4) || !expect("dbias", db.data(), wantDb, rtol<T>(), at)) return;
                }
            }
        });
    }
}

#endif

#ifdef FX_HAS_indexing
// ---------------------------------------------------------------- indexing, embedding

// indexSelect and gather for one element size; x is the transpose of a [5, 4] buffer, i.e. a [4, 5] view.
template <typename S>
void testIndexing(const char* selName, void (*sel)(i64, const S*, S*, Iter, int, const void*, int, i64, i64, ErrorRecord*),
                  const char* gatName, void (*gat)(i64, const S*, S*, Iter, int, const void*, int, i64, ErrorRecord*)) {
    Buf<S> x(20);
    for (int i = 0; i < 20; i++) x[i] = (S)(i * 13 + 5);
    auto xAt = [&](int r, int c) { return x[c * 4 + r]; };                // x[r][c] of the [4, 5] view, strides (1, 4)
    runCase("indexing", selName, [&] {
        for (int dim = 0; dim < 2; dim++) for (int idx64 = 0; idx64 < 2; idx64++) {
            // index of 3 entries read with stride 2 from a buffer of 6; a negative entry is an error, as is 7 in dim 0
            std::vector<i64> ib = {1, 9, -1, 9, 9 + dim * 0, 9};
            ib[2] = -1; ib[4] = dim == 0 ? 7 : 0;                          // dim 0: 7 is out of range (size 4)
            std::vector<int> ib32(ib.begin(), ib.end());
            int rows = dim == 0 ? 3 : 4, cols = dim == 0 ? 5 : 3, dimSize = dim == 0 ? 4 : 5;
            Buf<S> y(rows * cols);
            ErrorRecord err = {0, 0, 0, 0};
            Iter it = iter({rows, cols}, {{1, 4}});
            const void* ip = idx64 ? (const void*)ib.data() : (const void*)ib32.data();
            if (!run(selName, dim3(1), dim3(256), sel, (i64)(rows * cols), (const S*)x.data(), y.data(), it, dim, ip, idx64, (i64)2, (i64)dimSize, &err)) return;
            for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) {
                i64 v = ib[2 * (dim == 0 ? r : c)];
                bool bad = v >= dimSize || v < 0;
                S want = bad ? S() : dim == 0 ? xAt((int)v, c) : xAt(r, (int)v);
                if (y[r * cols + c] != want) { failCase("y[" + std::to_string(r) + "][" + std::to_string(c) + "] wrong"); return; }
            }
            // the first bad entry a thread meets is recorded: -1 in both dims, or 7 in dim 0
            if (err.code != FX_ERR_INDEX_SELECT || !(err.value == -1 || (dim == 0 && err.value == 7)) || err.size != dimSize || err.dim != dim) {
                failCase("error record"); return;
            }
        }
    });
    runCase("indexing", gatName, [&] {
        // y [4, 2] = x.gather(1, index [4, 2]); the index is a transposed [2, 4] buffer; one entry out of range
        std::vector<i64> ib = {0, 4, -1, 2, 3, 1, -5, 5};
        std::vector<int> ib32(ib.begin(), ib.end());
        for (int idx64 = 0; idx64 < 2; idx64++) {
            Buf<S> y(8);
            ErrorRecord err = {0, 0, 0, 0};
            const void* ip = idx64 ? (const void*)ib.data() : (const void*)ib32.data();
            if (!run(gatName, dim3(1), dim3(256), gat, (i64)8, (const S*)x.data(), y.data(), iter({4, 2}, {{1, 4}, {1, 4}}), 1, ip, idx64, (i64)5, &err)) return;
            for (int r = 0; r < 4; r++) for (int c = 0; c < 2; c++) {
                i64 v = ib[c * 4 + r];
                bool bad = v >= 5 || v < 0;
                S want = bad ? S() : xAt(r, (int)v);
                if (y[r * 2 + c] != want) { failCase("y[" + std::to_string(r) + "][" + std::to_string(c) + "] wrong"); return; }
            }
            if (err.code != FX_ERR_GATHER || !(err.value == 5 || err.value == -1 || err.value == -5) || err.size != 5 || err.dim != 1) { failCase("error record"); return; }
        }
    });
}

template <typename T> void testScatterAdd(const char* name, void (*k)(i64, T*, Iter, int, const void*, int, const T*, i64, ErrorRecord*)) {
    runCase("indexing", name, [&] {
        // out [3, 4] += scatter along dim 1 of src [1, 6] broadcast to [3, 6] by index [3, 6] (repeated targets)
        std::vector<i64> index = {0, 1, 1, 3, -1, 0, 2, 2, 2, 2, 0, 0, 3, 3, 1, 1, 0, 9};
        Buf<T> out = values<T>(12), src = values<T>(6);
        std::vector<double> want(12);
        for (int i = 0; i < 12; i++) want[i] = tod(out[i]);
        Buf<T> wantT(out);
        for (int r = 0; r < 3; r++) for (int c = 0; c < 6; c++) {
            i64 v = index[r * 6 + c];
            if (v >= 4 || v < 0) continue;
            int at = r * 4 + (int)v;
            if constexpr (isFloat<T>()) want[at] += tod(src[c]);
            else if constexpr (std::is_same_v<T, bool>) wantT[at] = wantT[at] || src[c];
            else wantT[at] = (T)((i64)wantT[at] + (i64)src[c]);
        }
        ErrorRecord err = {0, 0, 0, 0};
        if (!run(name, dim3(1), dim3(256), k, (i64)18, out.data(), iter({3, 6}, {{4, 1}, {6, 1}, {0, 1}}), 1, (const void*)index.data(), 1,
                 (const T*)src.data(), (i64)4, &err)) return;
        if constexpr (isFloat<T>()) { if (!expect("out", out.data(), want, rtol<T>() * 2, rtol<T>() * 2)) return; }
        else for (int i = 0; i < 12; i++) if (out[i] != wantT[i]) { failCase("out[" + std::to_string(i) + "] wrong"); return; }
        if (err.code != FX_ERR_SCATTER_ADD || !(err.value == 9 || err.value == -1) || err.size != 4) failCase("error record");
    });
}

#endif

#ifdef FX_HAS_embedding
template <typename T> void testEmbedding(const char* name, void (*k)(i64, i64, const void*, int, i64, int, i64, const T*, typename Acc<T>::type*, ErrorRecord*)) {
    typedef typename Acc<T>::type C;
    // with a padding row (2: skipped; 6 out of range), and without one: then an id of -1 is an error, not "padding -1"
    for (int hasPadding = 1; hasPadding >= 0; hasPadding--)
    runCase("embedding", std::string(name) + (hasPadding ? " padding 2" : " no padding, id -1"), [&] {
        const i64 n = 7, dim = 5, vocab = 4, padding = hasPadding ? 2 : -1, bad = hasPadding ? 6 : -1;
        std::vector<i64> ids = {0, 3, 2, 3, bad, 1, 3};
        std::vector<int> ids32(ids.begin(), ids.end());
        Buf<T> dout = values<T>(n * dim);
        for (int ids64 = 0; ids64 < 2; ids64++) {
            std::vector<C> dw(vocab * dim, 0);
            std::vector<double> want(vocab * dim, 0);
            for (i64 i = 0; i < n; i++)
                if (!(hasPadding && ids[i] == padding) && ids[i] >= 0 && ids[i] < vocab)
                    for (i64 j = 0; j < dim; j++) want[ids[i] * dim + j] += tod(dout[i * dim + j]);
            ErrorRecord err = {0, 0, 0, 0};
            const void* ip = ids64 ? (const void*)ids.data() : (const void*)ids32.data();
            if (!run(name, blocksFor(n * dim), dim3(256), k, n, dim, ip, ids64, vocab, hasPadding, padding, (const T*)dout.data(), dw.data(), &err)) return;
            if (!expect("dweight", dw.data(), want, 1e-6, 1e-6)) return;
            if (err.code != FX_ERR_EMBEDDING || err.value != bad || err.size != vocab) { failCase("error record (the bad id must be reported)"); return; }
        }
    });
}

#endif

#ifdef FX_HAS_adam
// ---------------------------------------------------------------- Adam

static void testAdam() {
    // mode 0: the host's scalars; 1: amsgrad (a vmax buffer); 2: the update number from a device step count
    for (int mode = 0; mode < 3; mode++) for (int decoupled = 0; decoupled < 2; decoupled++) for (int skip = 0; skip < 3; skip++) {
        std::string what = std::string("fx_adam") + (decoupled ? " adamw" : " adam") + (mode == 1 ? " amsgrad" : mode == 2 ? " device step count" : "")
                + (skip == 1 ? " skipped" : skip == 2 ? " NaN skip flag" : "");
        runCase("adam", what, [&] {
            // three chunks: a float32 parameter with float16 gradients split in two chunks, a bfloat16 one with float32 gradients
            const int n1 = 37, n2 = 21;
            std::vector<float> p1(n1), m1(n1), v1(n1), g2(n2), m2(n2), v2(n2), x1(n1), x2(n2);
            std::vector<__half> g1(n1);
            std::vector<bf16> p2(n2);
            for (int i = 0; i < n1; i++) { p1[i] = (float)rnd() - 0.5f; g1[i] = __float2half_rn((float)rnd() * 2 - 1); m1[i] = (float)rnd() * 0.1f; v1[i] = (float)rnd() * 0.01f; }
            for (int i = 0; i < n2; i++) { p2[i] = __float2bfloat16_rn((float)rnd() - 0.5f); g2[i] = (float)rnd() * 2 - 1; m2[i] = 0; v2[i] = 0; }
            for (int i = 0; i < n1; i++) x1[i] = i % 3 == 0 ? 0.5f : 0.0f;     // amsgrad: some old maxima win, most lose
            for (int i = 0; i < n2; i++) x2[i] = i % 4 == 0 ? 0.25f : 0.0f;
            const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.1f, bc1 = 1 - 0.9f * 0.9f, bc2 = 1 - 0.999f * 0.999f, scale = 0.5f;
            float skipFlag = skip == 0 ? 0.0f : skip == 1 ? 1.0f : NAN;
            auto addr = [](const void* p) { return (i64)(uintptr_t)p; };
            i64 vx1 = mode == 1 ? addr(x1.data()) : 0, vx1b = mode == 1 ? addr(x1.data() + 20) : 0, vx2 = mode == 1 ? addr(x2.data()) : 0;
            AdamChunk chunks[3] = {
                {addr(p1.data()), addr(g1.data()), addr(m1.data()), addr(v1.data()), vx1, 20, FX_F32, FX_F16},
                {addr(p1.data() + 20), addr(g1.data() + 20), addr(m1.data() + 20), addr(v1.data() + 20), vx1b, n1 - 20, FX_F32, FX_F16},
                {addr(p2.data()), addr(g2.data()), addr(m2.data()), addr(v2.data()), vx2, n2, FX_BF16, FX_F32}};
            // the host's scalars (AdamHyper): Adam's L2 term or AdamW's decay factor, the signed step, sqrt(bc2); update number 2
            const float l2 = decoupled ? 0.0f : wd, decay = decoupled ? 1 - lr * wd : 1.0f, negStep = -lr / bc1, bc2Sqrt = sqrtf(bc2);
            std::vector<double> vmax1(x1.begin(), x1.end()), vmax2(x2.begin(), x2.end());
            auto ref = [&](double p, double g, double& m, double& v, double& vmax) {
                g *= scale;
                g += p * l2;
                double base = p * decay;
                m = m * b1 + g * (1 - b1);
                v = v * b2 + (g * (1 - b2)) * g;
                double d = v;
                if (mode == 1) { vmax = std::max(vmax, v); d = vmax; }
                return base + (m * negStep) / (sqrt(d) / bc2Sqrt + eps);
            };
            std::vector<double> wp1(n1), wm1(n1), wv1(n1), wp2(n2), wm2(n2), wv2(n2);
            for (int i = 0; i < n1; i++) { wm1[i] = m1[i]; wv1[i] = v1[i]; wp1[i] = skip ? p1[i] : ref(p1[i], tod(g1[i]), wm1[i], wv1[i], vmax1[i]); }
            for (int i = 0; i < n2; i++) { wm2[i] = m2[i]; wv2[i] = v2[i]; wp2[i] = skip ? tod(p2[i]) : ref(tod(p2[i]), g2[i], wm2[i], wv2[i], vmax2[i]); }
            i64 count = 1;                                   // one update done: this is number 2, as the host scalars say
            const i64* countArg = mode == 2 ? &count : nullptr;
            float hostNeg = mode == 2 ? 123.0f : negStep, hostBc = mode == 2 ? -7.0f : bc2Sqrt;   // ignored with a device count
            if (!run("fx_adam", dim3(2), dim3(256), fx_adam, (const AdamChunk*)chunks, 3, b1, 1 - b1, b2, 1 - b2, eps, l2, decay, hostNeg, hostBc,
                     (const float*)&scale, (const float*)&skipFlag, countArg, (double)lr, (double)b1, (double)b2)) return;
            if (!(expect("param1", p1.data(), wp1, 1e-5, 1e-6) && expect("m1", m1.data(), wm1, 1e-5, 1e-7) && expect("v1", v1.data(), wv1, 1e-5, 1e-9)
                  && expect("param2", p2.data(), wp2) && expect("m2", m2.data(), wm2, 1e-5, 1e-7) && expect("v2", v2.data(), wv2, 1e-5, 1e-9))) return;
            if (mode == 1 && !(expect("vmax1", x1.data(), skip ? std::vector<double>(x1.begin(), x1.end()) : vmax1, 1e-5, 1e-9)
                               && expect("vmax2", x2.data(), skip ? std::vector<double>(x2.begin(), x2.end()) : vmax2, 1e-5, 1e-9))) return;
            if (mode == 2) {
                if (!run("fx_adam_count", dim3(1), dim3(1), fx_adam_count, &count, (const float*)&skipFlag)) return;
                if (count != (skip ? 1 : 2)) failCase("step count after " + std::string(skip ? "a skipped" : "an") + " update is " + std::to_string(count));
            }
        });
    }
}

#endif

#ifdef FX_HAS_matmul
// ---------------------------------------------------------------- fallback GEMM

template <typename T> void testGemm(const char* name, void (*k)(int, int, int, int, const T*, i64, i64, i64, const T*, i64, i64, i64, T*)) {
    runCase("matmul", name, [&] {
        // C [2, 17, 19] = A [2, 17, 33] @ B [2, 33, 19]; A is stored transposed ([2, 33, 17]), B's batch is broadcast (stride 0)
        const int batch = 2, M = 17, N = 19, K = 33;
        Buf<T> A = values<T>(batch * K * M), B = values<T>(K * N), Cm(batch * M * N);
        std::vector<double> want(batch * M * N);
        for (int b = 0; b < batch; b++) for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) {
            double s = 0;
            for (int kk = 0; kk < K; kk++) s += tod(A[b * K * M + kk * M + i]) * tod(B[kk * N + j]);
            want[(b * M + i) * N + j] = s;
        }
        if (!run(name, dim3((N + 15) / 16, (M + 15) / 16, batch), dim3(16, 16), k, batch, M, N, K, (const T*)A.data(), (i64)K * M, (i64)1, (i64)M,
                 (const T*)B.data(), (i64)0, (i64)N, (i64)1, Cm.data())) return;
        expect("C", Cm.data(), want, rtol<T>(), rtol<T>() * 4);
    });
}

#endif

#ifdef FX_HAS_random
// ---------------------------------------------------------------- random (Philox 4x32-10), arange

// Random123's known-answer vectors for philox4x32 10 (kat_vectors): counter[4], key[2] -> output[4].
static void testPhiloxKat() {
    runCase("random", "philox4x32_10 known answers", [&] {
        const unsigned kat[3][10] = {
            {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
            {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
            {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
        for (auto& v : kat) {
            Philox4 c = {{v[0], v[1], v[2], v[3]}};
            Philox4 r = philox4x32_10(c, v[4], v[5]);
            for (int k = 0; k < 4; k++)
                if (r.v[k] != v[6 + k]) {
                    char b[160];
                    snprintf(b, sizeof b, "counter %08x.. key %08x %08x: word %d is %08x, expected %08x", v[0], v[4], v[5], k, r.v[k], v[6 + k]);
                    failCase(b);
                    return;
                }
        }
        // philox_group puts the group index in counter words 0 and 1 and the 64-bit key low word first
        Philox4 a = philox_group(0x0000000500000007LL, 0x0000000B00000003LL), b = philox4x32_10({{7u, 5u, 0u, 0u}}, 3u, 11u);
        for (int k = 0; k < 4; k++) if (a.v[k] != b.v[k]) { failCase("philox_group does not lay out counter and key as documented"); return; }
    });
}

// The value fx_random must store at element i (the documented mapping, computed independently of the kernel's loop).
static double randomRef(int type, int normal, i64 key, i64 i) {
    if (!normal) {
        if (type == FX_F64) { Philox4 r = philox_group(i / 2, key); return uniform_for(type, r.v[2 * (i % 2)], r.v[2 * (i % 2) + 1]); }
        return uniform_for(type, philox_group(i / 4, key).v[i % 4], 0);
    }
    Philox4 r = philox_group(i / 4, key);
    int pair = (int)(i % 4) / 2;
    double u1 = ((r.v[2 * pair] >> 8) + 1.0) * 0x1.0p-24, u2 = (r.v[2 * pair + 1] >> 8) * 0x1.0p-24;
    double rad = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
    return i % 2 == 0 ? rad * cos(t) : rad * sin(t);
}

template <typename T> void testRandom(int type) {
    for (int normal = 0; normal < 2; normal++)
        runCase("random", std::string(normal ? "fx_random normal" : "fx_random uniform") + " type " + std::to_string(type), [&] {
            const i64 key = (i64)0x9E3779B97F4A7C15ULL;
            for (i64 n : {(i64)0, (i64)1, (i64)3, (i64)6, (i64)4099}) {   // tails of a group; several blocks, grid-stride loops
                Buf<T> d(n ? n : 1, fromd<T>(-7));
                if (!run("fx_random", blocksFor((n + 3) / 4), dim3(256), fx_random, n, type, (void*)d.data(), normal, key)) return;
                std::vector<double> want(n);
                for (i64 i = 0; i < n; i++) want[i] = randomRef(type, normal, key, i);
                if (!expect("dst", d.data(), want, normal ? rtol<T>() : 0, normal ? rtol<T>() * 0.05 : 0)) return;
                if (n == 0 && tod(d[0]) != -7) { failCase("n = 0 wrote an element"); return; }
                if (n < 4000) continue;
                double sum = 0, sq = 0;
                int bins[10] = {0};
                for (i64 i = 0; i < n; i++) {
                    double v = tod(d[i]);
                    sum += v;
                    sq += v * v;
                    if (!normal) {
                        if (!(v >= 0 && v < 1)) { failCase("uniform value " + std::to_string(v) + " outside [0, 1)"); return; }
                        bins[std::min(9, (int)(v * 10))]++;
                    }
                }
                double mean = sum / n, var = sq / n - mean * mean;
                // 4099 draws: the mean's standard error is 0.0045 (uniform) and 0.016 (normal); bins 41 +- 19 (5 sigma ~ 95)
                if (!normal && (fabs(mean - 0.5) > 0.025 || fabs(var - 1.0 / 12) > 0.01)) { failCase("uniform mean " + std::to_string(mean) + ", variance " + std::to_string(var)); return; }
                if (normal && (fabs(mean) > 0.08 || fabs(var - 1) > 0.12)) { failCase("normal mean " + std::to_string(mean) + ", variance " + std::to_string(var)); return; }
                for (int b = 0; !normal && b < 10; b++)
                    if (std::abs(bins[b] - (int)(n / 10)) > 95) { failCase("uniform bin " + std::to_string(b) + " holds " + std::to_string(bins[b]) + " of " + std::to_string(n)); return; }
            }
            // another key gives other values; the key's high word matters
            Buf<T> a(64), b(64);
            if (!run("fx_random", dim3(1), dim3(256), fx_random, (i64)64, type, (void*)a.data(), normal, key)) return;
            if (!run("fx_random", dim3(1), dim3(256), fx_random, (i64)64, type, (void*)b.data(), normal, key ^ (1LL << 40))) return;
            int same = 0;
            for (int i = 0; i < 64; i++) same += tod(a[i]) == tod(b[i]);
            if (same > 16) failCase(std::to_string(same) + " of 64 values equal under keys differing in bit 40");
        });
}

// An exactly sized array at a 32-byte boundary (the device pool's blocks are 256-byte aligned): the kernels' whole-group
// loads and stores run where the test means them to, and AddressSanitizer still sees one element past the end.
template <typename T> struct Aligned {
    T* p = nullptr;
    explicit Aligned(size_t n, T v = T()) { if (posix_memalign((void**)&p, 32, std::max<size_t>(n, 1) * sizeof(T)) != 0) abort(); std::fill(p, p + n, v); }
    Aligned(const Aligned&) = delete;
    ~Aligned() { free(p); }
    T* data() { return p; }
    T& operator[](size_t i) { return p[i]; }
};

// Fused dropout: the mask is fx_random's float32 uniforms >= p (run here for the same key), y = kept ? x * scale : 0
// with scale rounded to T and the product in the compute type (exact in double for every T: the reference is exact).
template <typename T>
void testDropout(const char* fwdName, void (*fwd)(i64, const T*, Iter, int, T*, bool*, float, double, i64), const char* bwdName,
                 void (*bwd)(i64, const T*, Iter, int, const bool*, T*, double)) {
    runCase("random", std::string(fwdName) + " / " + bwdName, [&] {
        const i64 key = (i64)0xD1B54A32D192ED03ULL;
        const double tie = randomRef(FX_F32, 0, key, 5);            // p equal to element 5's uniform: kept (u >= p, not u > p)
        for (double p : {0.0, 0.1, 0.25, 0.5, 0.999999, 1.0, tie}) {
            double scale = p < 1 ? 1 / (1 - p) : 0;                 // the host's: no division by zero at p = 1
            float pf = (float)p;
            double s = tod(fromd<T>(scale));
            // contiguous with NaN/inf/-0 (several blocks, grid-stride loop, a group's tail; whole groups as one load and store
            // where aligned), odd sizes, transposed (5, 7), empty, at an odd offset (the scalar path for every group)
            for (int variant = 0; variant < 6; variant++) {
                i64 n = variant == 0 ? 4099 : variant == 1 ? 1 : variant == 2 ? 6 : variant == 3 ? 35 : variant == 4 ? 0 : 1029;
                Buf<T> xv = values<T>(n + 1, true), g = values<T>(n ? n : 1, true);
                Aligned<T> xb(n + 1);
                std::copy(xv.data(), xv.data() + n + 1, xb.data());
                T* x = xb.data() + (variant == 5 ? 1 : 0);              // aligned to a group (8/16/32 bytes), or one element past
                Iter it = variant == 3 ? iter({5, 7}, {{1, 5}}) : iter({(int)n}, {{1}});
                int contiguous = variant == 3 ? 0 : 1;
                auto src = [&](i64 i) { return variant == 3 ? (i % 7) * 5 + i / 7 : i; };
                Aligned<T> y(n ? n : 1, fromd<T>(-7));
                Buf<T> dx(n ? n : 1, fromd<T>(-7));
                Aligned<bool> mask(n ? n : 1, true);
                Buf<float> u(n ? n : 1, -7.0f);
                if (!run(fwdName, blocksFor((n + 3) / 4), dim3(256), fwd, n, (const T*)x, it, contiguous, y.data(), mask.data(), pf, scale, key)) return;
                if (!run("fx_random", blocksFor((n + 3) / 4), dim3(256), fx_random, n, (int)FX_F32, (void*)u.data(), 0, key)) return;
                if (!run(bwdName, blocksFor(n), dim3(256), bwd, n, (const T*)g.data(), it, contiguous, (const bool*)mask.data(), dx.data(), scale)) return;
                if (n == 0) {
                    if (tod(y[0]) != -7 || !mask[0] || tod(dx[0]) != -7) failCase("n = 0 wrote an element");
                    continue;
                }
                std::vector<double> wantY(n), wantDx(n);
                i64 kept = 0;
                for (i64 i = 0; i < n; i++) {
                    bool keep = (float)randomRef(FX_F32, 0, key, i) >= pf;     // the documented counter/key mapping
                    if (mask[i] != keep || mask[i] != (u[i] >= pf)) {
                        char b[200];
                        snprintf(b, sizeof b, "p %g, n %lld: mask[%lld] = %d, the mapping says %d, fx_random's uniform %.9g says %d", p, (long long)n,
                                 (long long)i, (int)mask[i], (int)keep, (double)u[i], (int)(u[i] >= pf));
                        failCase(b);
                        return;
                    }
                    kept += keep;
                    wantY[i] = keep ? tod(x[src(i)]) * s : 0;
                    wantDx[i] = keep ? tod(g[src(i)]) * s : 0;
                    if (!keep && (tod(y[i]) != 0 || std::signbit(tod(y[i])) || tod(dx[i]) != 0 || std::signbit(tod(dx[i])))) {
                        failCase("a dropped element is not +0 (p " + std::to_string(p) + ", element " + std::to_string(i) + ")");
                        return;
                    }
                }
                if (!expect("y", y.data(), wantY, 0, 0) || !expect("dx", dx.data(), wantDx, 0, 0)) return;
                if (p == tie && n > 5 && !mask[5]) { failCase("p equal to element 5's uniform dropped it (u >= p keeps)"); return; }
                if (p == 0 && kept != n) { failCase("p = 0 dropped " + std::to_string(n - kept) + " elements"); return; }
                if (p == 1 && kept != 0) { failCase("p = 1 kept " + std::to_string(kept) + " elements"); return; }
                // 4099 draws at p: kept fraction 1 - p, standard error <= 0.0078 (5 sigma ~ 0.04)
                if (n == 4099 && fabs((double)kept / n - (1 - p)) > 0.04) { failCase("p " + std::to_string(p) + ": kept " + std::to_string(kept) + " of 4099"); return; }
            }
        }
    });
}

// randint: element i = low + high 64 bits of (word 2(i % 2) << 32 | word 2(i % 2) + 1 of group i / 2) * (high - low).
static void testRandint() {
    runCase("random", "fx_randint", [&] {
        const i64 key = (i64)0x2545F4914F6CDD1DULL;
        const i64 cases[][2] = {{0, 10}, {-5, 3}, {7, 8}, {INT64_MIN, INT64_MAX}, {-(1LL << 62), 1LL << 62}, {1000, 1000 + (1LL << 40)}, {-3, INT64_MAX}};
        for (auto& c : cases)
            for (i64 n : {(i64)0, (i64)1, (i64)3, (i64)4099}) {
                i64 low = c[0], high = c[1];
                unsigned long long range = (unsigned long long)high - (unsigned long long)low;
                Buf<i64> d(n ? n : 1, -7);
                if (!run("fx_randint", blocksFor((n + 1) / 2), dim3(256), fx_randint, n, d.data(), low, range, key)) return;
                if (n == 0) { if (d[0] != -7) failCase("n = 0 wrote an element"); continue; }
                int bins[10] = {0};
                i64 negative = 0;
                for (i64 i = 0; i < n; i++) {
                    Philox4 r = philox_group(i / 2, key);
                    unsigned long long w = ((unsigned long long)r.v[2 * (i % 2)] << 32) | r.v[2 * (i % 2) + 1];
                    i64 want = (i64)((unsigned long long)low + (unsigned long long)(((unsigned __int128)w * range) >> 64));
                    char b[200];
                    if (d[i] != want || d[i] < low || d[i] >= high) {
                        snprintf(b, sizeof b, "[%lld, %lld): dst[%lld] = %lld, expected %lld", (long long)low, (long long)high, (long long)i, (long long)d[i], (long long)want);
                        failCase(b);
                        return;
                    }
                    if (high - low == 10) bins[d[i] - low]++;
                    negative += d[i] < 0;
                }
                if (n < 4000) continue;
                // 4099 draws in 10 values: 410 +- 19 per bin (5 sigma ~ 96); the full int64 range: half negative +- 0.04
                for (int b = 0; high - low == 10 && b < 10; b++)
                    if (std::abs(bins[b] - 410) > 96) { failCase("value " + std::to_string(low + b) + " drawn " + std::to_string(bins[b]) + " times of 4099"); return; }
                if (low == INT64_MIN && fabs((double)negative / n - 0.5) > 0.04) { failCase(std::to_string(negative) + " of 4099 negative over the full int64 range"); return; }
                if (high - low == 1) for (i64 i = 0; i < n; i++) if (d[i] != low) { failCase("a range of one value drew another"); return; }
            }
    });
}

template <typename T> void testArange(int type) {
    runCase("random", "fx_arange type " + std::to_string(type), [&] {
        const double cases[][3] = {{0, 1, 1000}, {-3, 0.25, 37}, {5, -2, 9}, {0.1, 0.1, 17}};
        for (auto& c : cases) {
            i64 n = (i64)c[2];
            if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, bool>) if (c[0] < 0 || c[1] < 0) continue;
            Buf<T> d(n);
            if (!run("fx_arange", blocksFor(n), dim3(256), fx_arange, n, type, (void*)d.data(), c[0], c[1])) return;
            std::vector<double> want(n);
            for (i64 i = 0; i < n; i++) want[i] = c[0] + (double)i * c[1];
            if (!expect("dst", d.data(), want, 0, 0)) return;
        }
    });
}
#endif

#ifdef FX_HAS_window
// ---------------------------------------------------------------- sliding windows: im2col, col2im, max pool

struct Win { int n, c, h, w, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw; int oh() const { return out(h + pt + pb, kh, dh, sh); } int ow() const { return out(w + pl + pr, kw, dw, sw); }
    static int out(int padded, int k, int d, int s) { int span = d * (k - 1) + 1; return padded < span ? 0 : (padded - span) / s + 1; } };

static std::vector<Win> windows() {
    return {{2, 3, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     // 3x3, padding 1 ("same")
            {1, 2, 8, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1},     // 2x2 stride 2 (pooling)
            {3, 1, 9, 9, 3, 2, 2, 3, 1, 0, 1, 1, 2, 1},     // asymmetric padding, stride 2x3, dilation 2x1
            {1, 4, 4, 5, 1, 3, 1, 1, 0, 0, 1, 1, 1, 2},     // 1x3 dilated by 2 along w
            {2, 2, 33, 3, 3, 1, 2, 1, 1, 1, 0, 0, 1, 1}};   // more positions than a block (grid-stride loops)
}

// the input element a window position reads, or -1 in the padding
static i64 readAt(const Win& g, int oh, int ow, int i, int j) {
    int ih = oh * g.sh - g.pt + i * g.dh, iw = ow * g.sw - g.pl + j * g.dw;
    return ih < 0 || ih >= g.h || iw < 0 || iw >= g.w ? -1 : (i64)ih * g.w + iw;
}

#define WIN_ARGS(g) g.n, g.c, g.h, g.w, g.oh(), g.ow(), g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw

template <typename T, typename K1, typename K2> void testIm2col(const char* n1, K1 k1, const char* n2, K2 k2) {
    runCase("window", std::string(n1) + " / " + n2, [&] {
        for (const Win& g : windows()) {
            i64 L = (i64)g.oh() * g.ow(), rows = (i64)g.c * g.kh * g.kw, columns = g.n * L, xs = (i64)g.n * g.c * g.h * g.w;
            Buf<T> x = values<T>(xs, true), cols(rows * columns, fromd<T>(7));
            if (!run(n1, blocksFor(rows * columns), dim3(256), k1, (const T*)x.data(), cols.data(), WIN_ARGS(g))) return;
            std::vector<double> want(rows * columns), back(xs, 0.0);
            Buf<T> gcols = values<T>(rows * columns);
            for (int b = 0; b < g.n; b++) for (int ch = 0; ch < g.c; ch++) for (int i = 0; i < g.kh; i++) for (int j = 0; j < g.kw; j++)
                for (int oh = 0; oh < g.oh(); oh++) for (int ow = 0; ow < g.ow(); ow++) {
                    i64 r = ((i64)ch * g.kh + i) * g.kw + j, col = ((i64)b * g.oh() + oh) * g.ow() + ow, at = readAt(g, oh, ow, i, j);
                    i64 plane = ((i64)b * g.c + ch) * g.h * g.w;
                    want[r * columns + col] = at < 0 ? 0.0 : tod(x[plane + at]);
                    if (at >= 0) back[plane + at] += tod(gcols[r * columns + col]);
                }
            if (!expect("cols", cols.data(), want, 0, 0)) return;
            Buf<T> dx(xs, fromd<T>(7));
            if (!run(n2, blocksFor(xs), dim3(256), k2, (const T*)gcols.data(), dx.data(), WIN_ARGS(g))) return;
            if (!expect("x", dx.data(), back, rtol<T>() * 2)) return;    // sums of up to kh*kw terms, rounded once
        }
    });
}

template <typename T, typename K1, typename K2> void testMaxPool(const char* n1, K1 k1, const char* n2, K2 k2) {
    runCase("window", std::string(n1) + " / " + n2, [&] {
        for (const Win& g0 : windows()) {
            Win g = g0;
            if (std::max(g.pt, g.pb) > g.kh / 2 || std::max(g.pl, g.pr) > g.kw / 2) continue;   // maxPool2d's rule (as PyTorch)
            i64 xs = (i64)g.n * g.c * g.h * g.w, ys = (i64)g.n * g.c * g.oh() * g.ow();
            Buf<T> x = values<T>(xs, true);                            // steps of 1/8: ties; NaN and infinities
            Buf<T> y(ys, fromd<T>(7));
            Buf<i64> idx(ys, -7);
            if (!run(n1, blocksFor(ys), dim3(256), k1, (const T*)x.data(), y.data(), idx.data(), WIN_ARGS(g))) return;
            std::vector<double> wantY(ys);
            std::vector<i64> wantI(ys);
            for (i64 plane = 0; plane < (i64)g.n * g.c; plane++)
                for (int oh = 0; oh < g.oh(); oh++) for (int ow = 0; ow < g.ow(); ow++) {
                    double best = 0; i64 at = -1;
                    for (int i = 0; i < g.kh; i++) for (int j = 0; j < g.kw; j++) {
                        i64 a = readAt(g, oh, ow, i, j);
                        if (a < 0) continue;
                        double v = tod(x[plane * g.h * g.w + a]);
                        if (at < 0 || (best == best && (v > best || v != v))) { best = v; at = a; }
                    }
                    i64 o = (plane * g.oh() + oh) * g.ow() + ow;
                    wantY[o] = best;
                    wantI[o] = at;
                }
            if (!expect("y", y.data(), wantY, 0, 0)) return;
            for (i64 o = 0; o < ys; o++)
                if (idx[o] != wantI[o]) { failCase("idx[" + std::to_string(o) + "] = " + std::to_string(idx[o]) + ", expected " + std::to_string(wantI[o])); return; }
            Buf<T> gy = values<T>(ys), dx(xs, fromd<T>(7));
            std::vector<double> wantDx(xs, 0.0);
            for (i64 o = 0; o < ys; o++) wantDx[o / ((i64)g.oh() * g.ow()) * g.h * g.w + wantI[o]] += tod(gy[o]);
            if (!run(n2, blocksFor(xs), dim3(256), k2, (const T*)gy.data(), (const i64*)idx.data(), dx.data(), WIN_ARGS(g))) return;
            if (!expect("dx", dx.data(), wantDx, rtol<T>() * 2)) return;
        }
    });
}
#endif

// ---------------------------------------------------------------- main

#ifdef FX_HAS_attention
#include "attention_tests.h"
#endif

int main(int argc, char** argv) {
    std::string kernelsFile;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        std::string v = i + 1 < argc ? argv[i + 1] : "";
        if (a == "--order") { cudasim::sim().order = v == "reverse" ? cudasim::Order::REVERSE : v == "random" ? cudasim::Order::RANDOM : cudasim::Order::IN_ORDER; i++; }
        else if (a == "--seed") { cudasim::sim().rng.seed((unsigned)std::stoul(v)); i++; }
        else if (a == "--kernels") { kernelsFile = v; i++; }
        else if (a == "--only") { g_only = v; i++; }
        else if (a == "--quick") g_quick = true;
        else { fprintf(stderr, "kernel_tests: unknown argument %s\n", a.c_str()); return 2; }
    }

    // kernels.inc defines FX_HAS_<file> for each .cu file it includes (the planted-bug builds include only one)
#ifdef FX_HAS_elementwise
    testUnary<float>(KERNEL(fx_unary_f32)); testUnary<double>(KERNEL(fx_unary_f64)); testUnary<__half>(KERNEL(fx_unary_f16));
    testUnary<bf16>(KERNEL(fx_unary_bf16)); testUnary<i64>(KERNEL(fx_unary_i64)); testUnary<int>(KERNEL(fx_unary_i32));
    testUnary<int8_t>(KERNEL(fx_unary_i8)); testUnary<uint8_t>(KERNEL(fx_unary_u8));
    const std::vector<int> fops = {B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM}, iops = {B_ADD, B_SUB, B_MUL, B_MAXIMUM, B_MINIMUM},
                           cops = {B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE};
    testBinary<float, float>(KERNEL(fx_binary_f32), fops); testBinary<double, double>(KERNEL(fx_binary_f64), fops);
    testBinary<__half, __half>(KERNEL(fx_binary_f16), fops); testBinary<bf16, bf16>(KERNEL(fx_binary_bf16), fops);
    testBinary<i64, i64>(KERNEL(fx_binary_i64), iops); testBinary<int, int>(KERNEL(fx_binary_i32), iops);
    testBinary<int8_t, int8_t>(KERNEL(fx_binary_i8), iops); testBinary<uint8_t, uint8_t>(KERNEL(fx_binary_u8), iops);
    testBinary<float, bool>(KERNEL(fx_compare_f32), cops); testBinary<double, bool>(KERNEL(fx_compare_f64), cops);
    testBinary<__half, bool>(KERNEL(fx_compare_f16), cops); testBinary<bf16, bool>(KERNEL(fx_compare_bf16), cops);
    testBinary<i64, bool>(KERNEL(fx_compare_i64), cops); testBinary<int, bool>(KERNEL(fx_compare_i32), cops);
    testBinary<int8_t, bool>(KERNEL(fx_compare_i8), cops); testBinary<uint8_t, bool>(KERNEL(fx_compare_u8), cops);
    testBinary<bool, bool>(KERNEL(fx_compare_bool), cops);
    testWhere<uint8_t>(KERNEL(fx_where_1)); testWhere<uint16_t>(KERNEL(fx_where_2)); testWhere<uint32_t>(KERNEL(fx_where_4)); testWhere<uint64_t>(KERNEL(fx_where_8));
    testActBackward<float>(KERNEL(fx_act_bwd_f32)); testActBackward<double>(KERNEL(fx_act_bwd_f64));
    testActBackward<__half>(KERNEL(fx_act_bwd_f16)); testActBackward<bf16>(KERNEL(fx_act_bwd_bf16));
#endif
#ifdef FX_HAS_copy
    testCopy();
    testCast<float, __half>(KERNEL(fx_cast_f32_f16)); testCast<float, bf16>(KERNEL(fx_cast_f32_bf16));
    testCast<__half, float>(KERNEL(fx_cast_f16_f32)); testCast<bf16, float>(KERNEL(fx_cast_bf16_f32));
    testFill();
#endif
#ifdef FX_HAS_reduce
#define REDUCE(name, T) testReduce<T>(KERNEL(fx_reduce_rows_##name), KERNEL(fx_reduce_cols_##name), KERNEL(fx_reduce_final_##name));
    REDUCE(f32, float) REDUCE(f64, double) REDUCE(f16, __half) REDUCE(bf16, bf16) REDUCE(i64, i64) REDUCE(i32, int) REDUCE(i8, int8_t)
    REDUCE(u8, uint8_t) REDUCE(bool, bool)
#endif
#define FLOATS(F) F(f32, float) F(f64, double) F(f16, __half) F(bf16, bf16)
#ifdef FX_HAS_softmax
#define SOFTMAX(name, T) testSoftmax<T>(KERNEL(fx_softmax_##name), KERNEL(fx_softmax_bwd_##name));
    FLOATS(SOFTMAX)
#endif
#ifdef FX_HAS_cross_entropy
#define CE(name, T) testCrossEntropy<T>(KERNEL(fx_cross_entropy_fwd_##name), KERNEL(fx_cross_entropy_bwd_##name));
    FLOATS(CE)
#endif
#ifdef FX_HAS_norm
#define NORM(name, T) testNorm<T>(KERNEL(fx_norm_fwd_##name), KERNEL(fx_norm_bwd_##name), KERNEL(fx_sum_partials_##name));
    FLOATS(NORM)
#endif
#ifdef FX_HAS_embedding
#define EMB(name, T) testEmbedding<T>(KERNEL(fx_embedding_bwd_##name));
    FLOATS(EMB)
#endif
#ifdef FX_HAS_matmul
#define GEMM(name, T) testGemm<T>(KERNEL(fx_gemm_##name));
    FLOATS(GEMM)
#endif
#ifdef FX_HAS_indexing
    testIndexing<uint8_t>(KERNEL(fx_index_select_1), KERNEL(fx_gather_1)); testIndexing<uint16_t>(KERNEL(fx_index_select_2), KERNEL(fx_gather_2));
    testIndexing<uint32_t>(KERNEL(fx_index_select_4), KERNEL(fx_gather_4)); testIndexing<unsigned long long>(KERNEL(fx_index_select_8), KERNEL(fx_gather_8));
    testScatterAdd<float>(KERNEL(fx_scatter_add_f32)); testScatterAdd<double>(KERNEL(fx_scatter_add_f64)); testScatterAdd<__half>(KERNEL(fx_scatter_add_f16));
    testScatterAdd<bf16>(KERNEL(fx_scatter_add_bf16)); testScatterAdd<i64>(KERNEL(fx_scatter_add_i64)); testScatterAdd<int>(KERNEL(fx_scatter_add_i32));
    testScatterAdd<int8_t>(KERNEL(fx_scatter_add_i8)); testScatterAdd<uint8_t>(KERNEL(fx_scatter_add_u8)); testScatterAdd<bool>(KERNEL(fx_scatter_add_bool));
#endif
#ifdef FX_HAS_adam
    testAdam();
#endif
#ifdef FX_HAS_window
#define WINDOW(name, T) testIm2col<T>(KERNEL(fx_im2col_##name), KERNEL(fx_col2im_##name)); testMaxPool<T>(KERNEL(fx_max_pool_fwd_##name), KERNEL(fx_max_pool_bwd_##name));
    FLOATS(WINDOW)
#endif
#ifdef FX_HAS_random
    testPhiloxKat();
    testRandom<float>(FX_F32); testRandom<double>(FX_F64); testRandom<__half>(FX_F16); testRandom<bf16>(FX_BF16);
#define DROPOUT(name, T) testDropout<T>(KERNEL(fx_dropout_fwd_##name), KERNEL(fx_dropout_bwd_##name));
    FLOATS(DROPOUT)
    testRandint();
    testArange<float>(FX_F32); testArange<double>(FX_F64); testArange<__half>(FX_F16); testArange<bf16>(FX_BF16); testArange<i64>(FX_I64);
    testArange<int>(FX_I32); testArange<int8_t>(FX_I8); testArange<uint8_t>(FX_U8); testArange<bool>(FX_BOOL);
#endif
#ifdef FX_HAS_attention
#define ATTN(D) testAttention<float, D>(KERNEL(fx_attention_fwd_f32_d##D)); testAttention<double, D>(KERNEL(fx_attention_fwd_f64_d##D)); \
    testAttention<__half, D>(KERNEL(fx_attention_fwd_f16_d##D)); testAttention<bf16, D>(KERNEL(fx_attention_fwd_bf16_d##D));
    ATTN(16) ATTN(32) ATTN(64) ATTN(128)
#define ATTN_BWD(D) testAttentionBackward<float, D>(KERNEL(fx_attention_bwd_prep_f32), KERNEL(fx_attention_bwd_f32_d##D)); \
    testAttentionBackward<double, D>(KERNEL(fx_attention_bwd_prep_f64), KERNEL(fx_attention_bwd_f64_d##D)); \
    testAttentionBackward<__half, D>(KERNEL(fx_attention_bwd_prep_f16), KERNEL(fx_attention_bwd_f16_d##D)); \
    testAttentionBackward<bf16, D>(KERNEL(fx_attention_bwd_prep_bf16), KERNEL(fx_attention_bwd_bf16_d##D));
    ATTN_BWD(16) ATTN_BWD(32) ATTN_BWD(64) ATTN_BWD(128)
#endif

    if (!kernelsFile.empty()) {    // coverage: the entry points of the sources are exactly those launched
        g_case = "coverage";
        g_caseFailed = false;
        std::ifstream in(kernelsFile);
        std::set<std::string> expected, launched(cudasim::sim().launched.begin(), cudasim::sim().launched.end());
        for (std::string line; std::getline(in, line);) if (!line.empty()) expected.insert(line);
        if (expected.empty()) failCase("no entry points in " + kernelsFile);
        for (auto& k : expected) if (!launched.count(k)) failCase("kernel " + k + " has no CPU test: add one to native/src/test/cuda/kernel_tests.cpp");
        for (auto& k : launched) if (!expected.count(k)) failCase("launched " + k + ", which is not an entry point of src/main/cuda");
        if (g_caseFailed) g_failed++; else g_passed++;
        printf("coverage: %zu entry points, %zu launched\n", expected.size(), launched.size());
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

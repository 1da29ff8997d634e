// cudasim.h: runs the project's CUDA kernels (src/main/cuda/*.cu, unchanged) as host C++ compiled by g++.
//
// Model: each CUDA thread of a block is a ucontext coroutine that runs until it reaches a barrier
// (__syncthreads, a warp shuffle, __syncwarp) or returns; a scheduler then releases whatever barrier is
// complete and runs the released threads. Blocks run one after another, so `static` (= __shared__) memory is
// the block's shared memory and atomics are plain read-modify-writes. What it finds, it reports and the launch
// fails: __syncthreads reached from two different source lines, a thread that exited while others wait at
// __syncthreads, a shuffle whose mask leaves out the calling lane or a lane it reads from, a shuffle that names
// an exited or absent lane, and a deadlock (no thread can progress). The order in which threads run between
// barriers is selectable (in order, reversed, seeded random): a missing __syncthreads shows up as a wrong
// result under some order. Built with -fsanitize=address, out-of-bounds reads and writes are caught.
//
// fp16/bf16 come from CUDA's own cuda_fp16.h / cuda_bf16.h, whose conversions work host-side with g++.
// Not modelled: timing, races between blocks, memory fences, device math accuracy (host libm is used).
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <ucontext.h>
#include <algorithm>
#include <type_traits>
#include <random>
#include <string>
#include <vector>

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#ifdef CUDASIM_LIST
#define __global__ __cudasim_entry__      // `g++ -E -DCUDASIM_LIST` lists entry points as "__cudasim_entry__ void fx_..."
#else
#define __global__
#endif
#define __device__
#define __host__
#define __shared__ static                 // one block at a time: a static is exactly the block's shared memory
#define __forceinline__ inline
#define __launch_bounds__(...)

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDASIM_ASAN 1
#else
#define CUDASIM_ASAN 0
#endif

namespace cudasim {

enum class Order { IN_ORDER, REVERSE, RANDOM };
enum class State { RUN, SYNC, WARP, DONE };
enum class Shfl { IDX, XOR, UP, DOWN, SYNCWARP };

struct Thread {
    ucontext_t ctx;           // where the thread starts (makecontext)
    jmp_buf jb;               // where it resumes after a barrier
    bool started;
    State state;
    uint3 idx;
    int line;                 // source line of the barrier it waits at
    const char* file;
    unsigned mask;            // shuffle: the mask, the kind, the lane argument, the width and the value
    Shfl kind;
    int arg, width;
    unsigned char val[8], out[8];
    void* fake = nullptr;     // ASan's fake stack while switched out
};

struct Sim {
    Order order = Order::IN_ORDER;
    std::mt19937 rng{1};
    size_t stackBytes = 64 * 1024;   // per thread; the deepest kernel (at -O0, with ASan) uses a few KiB
    bool dirtyStacks = false; // a launch was aborted: its threads' frames may be left poisoned
    std::vector<char*> stacks;
    std::vector<Thread> threads;
    ucontext_t sched;
    jmp_buf schedJb;
    void* schedFake = nullptr;
    const void* schedBottom = nullptr;
    size_t schedSize = 0;
    Thread* cur = nullptr;
    void (*body)(void*) = nullptr;
    void* arg = nullptr;
    dim3 grid, block;
    uint3 blockIdx;
    std::string error;        // first error of the current launch
    std::vector<std::string> launched;
    long long switches = 0;
    ~Sim() { for (char* p : stacks) free(p); }
};

inline Sim& sim() { static Sim s; return s; }

// ---------------------------------------------------------------- switching between scheduler and threads

// A thread starts with setcontext (once) and then switches with _setjmp/_longjmp, which, unlike swapcontext, make
// no system call to save the signal mask: five times faster, and a launch runs hundreds of thousands of switches.
// Define CUDASIM_SWAPCONTEXT (or build with _FORTIFY_SOURCE, whose longjmp refuses to change stacks) for swapcontext.
#if defined(CUDASIM_SWAPCONTEXT) || defined(_FORTIFY_SOURCE)
#define CUDASIM_JMP 0
#else
#define CUDASIM_JMP 1
#endif

inline void toScheduler(Thread* t, bool exiting) {
#if CUDASIM_ASAN
    __sanitizer_start_switch_fiber(exiting ? nullptr : &t->fake, sim().schedBottom, sim().schedSize);
#endif
    (void)exiting;
#if CUDASIM_JMP
    if (!_setjmp(t->jb)) _longjmp(sim().schedJb, 1);
#else
    swapcontext(&t->ctx, &sim().sched);
#endif
#if CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(t->fake, nullptr, nullptr);
#endif
}

inline void trampoline() {
    Thread* t = sim().cur;
#if CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &sim().schedBottom, &sim().schedSize);
#endif
    sim().body(sim().arg);
    t->state = State::DONE;
    toScheduler(t, true);
}

inline void resume(Thread& t, int tid) {
    Sim& s = sim();
    s.cur = &t;
#if CUDASIM_ASAN
    __sanitizer_start_switch_fiber(&s.schedFake, s.stacks[tid], s.stackBytes);
#endif
    (void)tid;
    s.switches++;
#if CUDASIM_JMP
    if (!_setjmp(s.schedJb)) {
        if (!t.started) { t.started = true; setcontext(&t.ctx); }
        _longjmp(t.jb, 1);
    }
#else
    swapcontext(&s.sched, &t.ctx);
#endif
#if CUDASIM_ASAN
    __sanitizer_finish_switch_fiber(s.schedFake, nullptr, nullptr);
#endif
    s.cur = nullptr;
}

// ---------------------------------------------------------------- barriers (called from kernel code)

inline void syncthreads(const char* file, int line) {
    Thread* t = sim().cur;
    t->state = State::SYNC;
    t->file = file;
    t->line = line;
    toScheduler(t, false);
}

template <typename T> T shuffle(const char* file, int line, Shfl kind, unsigned mask, T v, int arg, int width) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    Thread* t = sim().cur;
    t->state = State::WARP;
    t->file = file;
    t->line = line;
    t->kind = kind;
    t->mask = mask;
    t->arg = arg;
    t->width = width;
    memcpy(t->val, &v, sizeof(T));
    toScheduler(t, false);
    T r;
    memcpy(&r, t->out, sizeof(T));
    return r;
}

// ---------------------------------------------------------------- scheduler

inline int threadsPerBlock() { return (int)(sim().block.x * sim().block.y * sim().block.z); }

inline std::string where(const Thread& t, int tid) {
    char b[200];
    const char* f = t.file ? strrchr(t.file, '/') : nullptr;
    snprintf(b, sizeof b, "thread %d (warp %d lane %d) at %s:%d", tid, tid / 32, tid % 32, f ? f + 1 : "?", t.line);
    return b;
}

inline bool fail(const std::string& msg) {
    if (sim().error.empty()) sim().error = msg;
    return false;
}

// Source lane a shuffle reads for `lane`, or `lane` itself when the source is outside its width segment.
inline int sourceLane(const Thread& t, int lane) {
    int w = t.width, seg = lane & ~(w - 1), src;
    switch (t.kind) {
        case Shfl::IDX: src = seg + (t.arg & (w - 1)); break;
        case Shfl::XOR: src = lane ^ t.arg; if (src >= seg + w) src = lane; break;
        case Shfl::UP: src = lane - t.arg; if (src < seg) src = lane; break;
        case Shfl::DOWN: src = lane + t.arg; if (src >= seg + w) src = lane; break;
        default: src = lane;
    }
    return src;
}

// Releases the complete barriers; false with sim().error set when none can be released or a barrier is misused.
inline bool releaseBarriers() {
    Sim& s = sim();
    int n = threadsPerBlock();
    std::vector<Thread>& th = s.threads;
    bool released = false;
    for (int w = 0; w * 32 < n; w++) {            // warp barriers: complete when every lane of the mask is there
        for (int l = 0; l < 32 && w * 32 + l < n; l++) {
            Thread& t = th[w * 32 + l];
            if (t.state != State::WARP) continue;
            if (!(t.mask >> l & 1))
                return fail(where(t, w * 32 + l) + ": shuffle mask 0x" + std::to_string(t.mask) + " leaves out the calling lane");
            bool complete = true;
            for (int m = 0; m < 32; m++) {
                if (!(t.mask >> m & 1)) continue;
                if (w * 32 + m >= n) return fail(where(t, w * 32 + l) + ": shuffle mask names lane " + std::to_string(m) + ", which is not in the block");
                Thread& o = th[w * 32 + m];
                if (o.state == State::DONE) return fail(where(t, w * 32 + l) + ": shuffle mask names lane " + std::to_string(m) + ", which has exited");
                if (o.state != State::WARP) { complete = false; break; }
                if (o.mask != t.mask || o.kind != t.kind)
                    return fail(where(t, w * 32 + l) + " and " + where(o, w * 32 + m) + ": warp-synchronous calls with different masks or kinds");
            }
            if (!complete) continue;
            for (int m = 0; m < 32; m++) {
                if (!(t.mask >> m & 1)) continue;
                Thread& o = th[w * 32 + m];
                int src = sourceLane(o, m);
                if (o.kind != Shfl::SYNCWARP && !(t.mask >> src & 1))
                    return fail(where(o, w * 32 + m) + ": shuffle reads lane " + std::to_string(src) + ", which is not in its mask");
                memcpy(o.out, th[w * 32 + src].val, 8);
            }
            for (int m = 0; m < 32; m++) if (t.mask >> m & 1) th[w * 32 + m].state = State::RUN;
            released = true;
        }
    }
    if (released) return true;
    int first = -1, done = -1;                      // block barrier: complete when every live thread is there
    for (int i = 0; i < n; i++) {
        if (th[i].state == State::DONE) { done = i; continue; }
        if (th[i].state != State::SYNC) { first = -2; break; }
        if (first < 0) first = i;
        else if (th[i].line != th[first].line || strcmp(th[i].file, th[first].file) != 0)
            return fail("__syncthreads reached from different lines: " + where(th[first], first) + ", " + where(th[i], i));
    }
    if (first >= 0 && done >= 0)
        return fail("thread " + std::to_string(done) + " exited while " + where(th[first], first) + " waits at __syncthreads");
    if (first >= 0) {
        for (int i = 0; i < n; i++) th[i].state = State::RUN;
        return true;
    }
    std::string msg = "deadlock: no thread can progress;";
    int shown = 0;
    for (int i = 0; i < n && shown < 6; i++)
        if (th[i].state != State::DONE) { msg += " " + where(th[i], i) + (th[i].state == State::SYNC ? " (__syncthreads);" : " (warp sync);"); shown++; }
    return fail(msg);
}

inline bool runBlock() {
    Sim& s = sim();
    int n = threadsPerBlock();
    while ((int)s.stacks.size() < n) s.stacks.push_back((char*)malloc(s.stackBytes));
    s.threads.assign(n, Thread());
    for (int i = 0; i < n; i++) {
        Thread& t = s.threads[i];
        t.state = State::RUN;
        t.started = false;
        t.idx = make_uint3(i % s.block.x, i / s.block.x % s.block.y, i / (s.block.x * s.block.y));
#if CUDASIM_ASAN
        if (s.dirtyStacks) __asan_unpoison_memory_region(s.stacks[i], s.stackBytes);
#endif
        getcontext(&t.ctx);
        t.ctx.uc_stack.ss_sp = s.stacks[i];
        t.ctx.uc_stack.ss_size = s.stackBytes;
        t.ctx.uc_link = nullptr;
        makecontext(&t.ctx, trampoline, 0);
    }
    s.dirtyStacks = false;
    std::vector<int> order(n);
    for (;;) {
        order.clear();
        for (int i = 0; i < n; i++) if (s.threads[i].state == State::RUN) order.push_back(i);
        if (order.empty()) {
            bool all = true;
            for (int i = 0; i < n; i++) all = all && s.threads[i].state == State::DONE;
            if (all) return true;
            if (!releaseBarriers()) { s.dirtyStacks = true; return false; }
            continue;
        }
        if (s.order == Order::REVERSE) std::reverse(order.begin(), order.end());
        else if (s.order == Order::RANDOM) std::shuffle(order.begin(), order.end(), s.rng);
        for (int i : order) resume(s.threads[i], i);
    }
}

// Runs body(arg) as every thread of every block; false (message in sim().error) when the launch failed.
inline bool launch(const char* name, dim3 grid, dim3 block, void (*body)(void*), void* arg) {
    Sim& s = sim();
    s.launched.push_back(name);
    s.error.clear();
    s.grid = grid;
    s.block = block;
    s.body = body;
    s.arg = arg;
    int n = threadsPerBlock();
    if (n < 1 || n > 1024 || grid.x < 1 || grid.y < 1 || grid.z < 1)
        return fail(std::string(name) + ": bad launch shape");
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                s.blockIdx = make_uint3(x, y, z);
                if (!runBlock() || !s.error.empty()) {   // a barrier failed, or a thread reported misuse (wmma below)
                    s.error = std::string(name) + " block (" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + "): " + s.error;
                    return false;
                }
            }
    return true;
}

template <typename F> void callLambda(void* f) { (*(F*)f)(); }

}  // namespace cudasim

#define threadIdx (cudasim::sim().cur->idx)
#define blockIdx (cudasim::sim().blockIdx)
#define blockDim (cudasim::sim().block)
#define gridDim (cudasim::sim().grid)
#define warpSize 32

#define __syncthreads() cudasim::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) cudasim::shuffle(__FILE__, __LINE__, cudasim::Shfl::SYNCWARP, cudasim_mask(__VA_ARGS__), 0, 0, 32)
inline unsigned cudasim_mask(unsigned m = 0xffffffffu) { return m; }
#define CUDASIM_SHFL(kind, mask, v, arg, ...) cudasim::shuffle(__FILE__, __LINE__, kind, mask, v, arg, cudasim_width(__VA_ARGS__))
inline int cudasim_width(int w = 32) { return w; }
#define __shfl_sync(mask, v, ...) CUDASIM_SHFL(cudasim::Shfl::IDX, mask, v, __VA_ARGS__)
#define __shfl_xor_sync(mask, v, ...) CUDASIM_SHFL(cudasim::Shfl::XOR, mask, v, __VA_ARGS__)
#define __shfl_up_sync(mask, v, ...) CUDASIM_SHFL(cudasim::Shfl::UP, mask, v, __VA_ARGS__)
#define __shfl_down_sync(mask, v, ...) CUDASIM_SHFL(cudasim::Shfl::DOWN, mask, v, __VA_ARGS__)

namespace cudasim {
// Launches kernel(args...) on grid x block and records `name` as launched (the coverage check compares names).
template <typename K, typename... A> bool launchKernel(const char* name, dim3 grid, dim3 block, K kernel, A... args) {
    auto body = [&]() { kernel(args...); };
    return launch(name, grid, block, callLambda<decltype(body)>, &body);
}
}  // namespace cudasim

// A kernel and its name, for launchKernel: launchKernel(KERNEL(fx_softmax_f32), dim3(4), dim3(128), rows, ...).
#define KERNEL(k) #k, k

// Atomics: blocks run one at a time and threads switch only at barriers, so a plain read-modify-write is atomic.
template <typename T> inline T cudasim_add(T* p, T v) { T old = *p; *p = old + v; return old; }
inline float atomicAdd(float* p, float v) { return cudasim_add(p, v); }
inline double atomicAdd(double* p, double v) { return cudasim_add(p, v); }
inline int atomicAdd(int* p, int v) { return cudasim_add(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return cudasim_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return cudasim_add(p, v); }
inline __half atomicAdd(__half* p, __half v) { __half old = *p; *p = __float2half_rn(__half2float(old) + __half2float(v)); return old; }
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) {
    __nv_bfloat16 old = *p; *p = __float2bfloat16_rn(__bfloat162float(old) + __bfloat162float(v)); return old;
}
template <typename T> inline T atomicCAS(T* p, T expected, T v) { T old = *p; if (old == expected) *p = v; return old; }
template <typename T> inline T atomicExch(T* p, T v) { T old = *p; *p = v; return old; }
inline void __threadfence() {}
inline void __threadfence_block() {}

// Device math that host libm lacks (host libm stands in for the device's: numerics are not modelled).
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
// Round-to-nearest intrinsics: one IEEE operation each (x86-64 g++ emits no FMA without -mfma).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
// The high 64 bits of a 64x64-bit product (one mul.hi.u64 on the device).
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) { return (unsigned long long)(((unsigned __int128)a * b) >> 64); }
template <typename T> inline T min(T a, T b) { return a < b ? a : b; }
template <typename T> inline T max(T a, T b) { return a > b ? a : b; }

// ---------------------------------------------------------------- nvcuda::wmma (tensor cores), emulated
// A minimal nvcuda::wmma for m16n16k16: matrix_a / matrix_b fragments of __half or __nv_bfloat16 (row_major or
// col_major), float accumulators; fill_fragment, load_matrix_sync, store_matrix_sync, mma_sync. On a GPU a
// fragment's elements are spread over the warp's 32 lanes in an unspecified layout and each call is warp-collective;
// here every thread holds the whole 16 x 16 tile (num_elements = 256, element (i, j) at x[i * 16 + j]) and computes
// the whole product, so every lane holds and stores identical values. This checks the algorithm (which tiles, which
// pitches and memory layouts, what is summed), NOT the hardware layouts: a kernel that indexed a fragment's x[]
// would pass here and be wrong on a GPU (go through store_matrix_sync). The calls are not barriers: a lane's load
// sees only what other lanes stored before a barrier, so a missing __syncwarp between them gives a wrong result.
// Misuse the hardware leaves undefined fails the launch: a pointer not 32-byte aligned, ldm not a multiple of 16
// bytes. <mma.h> compiles to nothing under g++ (it is guarded by __CUDACC__), so kernels include it unchanged.
// the emulation runs at -O2 inside the -O0 test build (a launch makes thousands of these calls per thread)
#define CUDASIM_O2 __attribute__((optimize("O2")))
namespace nvcuda { namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "cudasim emulates the m16n16k16 shape only");
    static const int num_elements = 256;
    T x[256];
};

// 16-bit to float by bits (CUDA's own conversions, compiled at -O0 here, would take most of a test run's time)
#define CUDASIM_FAST __attribute__((optimize("O2"), always_inline))
CUDASIM_FAST inline float cudasim_f(float v) { return v; }
CUDASIM_FAST inline float cudasim_f(__nv_bfloat16 v) {
    uint16_t h; memcpy(&h, &v, 2);
    uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f;
}
CUDASIM_FAST inline float cudasim_f(__half v) {
    uint16_t h; memcpy(&h, &v, 2);
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = h >> 10 & 0x1f, m = h & 0x3ff, u;
    if (e == 0) { float f = (float)m * 5.9604644775390625e-8f; return sign ? -f : f; }   // zero, subnormal: m * 2^-24
    u = e == 0x1f ? sign | 0x7f800000u | m << 13 : sign | (e + 112) << 23 | m << 13;    // inf/NaN, normal
    float f; memcpy(&f, &u, 4); return f;
}

template <typename T> inline void cudasim_check(const T* p, unsigned ldm, const char* what) {
    if ((uintptr_t)p % 32 != 0) cudasim::fail(std::string(what) + ": pointer not 32-byte aligned");
    if (ldm * sizeof(T) % 16 != 0) cudasim::fail(std::string(what) + ": ldm " + std::to_string(ldm) + " is not a multiple of 16 bytes");
}

template <typename Use, typename T, typename L, typename V> CUDASIM_O2 inline void fill_fragment(fragment<Use, 16, 16, 16, T, L>& f, V v) {
    for (int i = 0; i < 256; i++) f.x[i] = (T)v;
}

// matrix_a / matrix_b: the layout is the fragment's; element (i, j) at p[i * ldm + j] (row_major) or p[j * ldm + i]
template <typename Use, typename T, typename L> CUDASIM_O2 inline void load_matrix_sync(fragment<Use, 16, 16, 16, T, L>& f, const T* p, unsigned ldm) {
    static_assert(!std::is_void_v<L>, "an accumulator needs the memory layout argument");
    cudasim_check(p, ldm, "wmma::load_matrix_sync");
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) f.x[i * 16 + j] = std::is_same_v<L, row_major> ? p[i * ldm + j] : p[j * ldm + i];
}

template <typename T> CUDASIM_O2 inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, T>& f, const T* p, unsigned ldm, layout_t layout) {
    cudasim_check(p, ldm, "wmma::load_matrix_sync");
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) f.x[i * 16 + j] = layout == mem_row_major ? p[i * ldm + j] : p[j * ldm + i];
}

template <typename T> CUDASIM_O2 inline void store_matrix_sync(T* p, const fragment<accumulator, 16, 16, 16, T>& f, unsigned ldm, layout_t layout) {
    cudasim_check(p, ldm, "wmma::store_matrix_sync");
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) (layout == mem_row_major ? p[i * ldm + j] : p[j * ldm + i]) = f.x[i * 16 + j];
}

// d = a b + c in float32 (d may be c); summed in k order (the hardware's order and rounding are its own)
template <typename T, typename LA, typename LB>
CUDASIM_O2 inline void mma_sync(fragment<accumulator, 16, 16, 16, float>& d, const fragment<matrix_a, 16, 16, 16, T, LA>& a,
                                                      const fragment<matrix_b, 16, 16, 16, T, LB>& b, const fragment<accumulator, 16, 16, 16, float>& c) {
    float fa[256], fb[256], r[256];
    for (int i = 0; i < 256; i++) { fa[i] = cudasim_f(a.x[i]); fb[i] = cudasim_f(b.x[i]); }
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            float acc = c.x[i * 16 + j];
            for (int k = 0; k < 16; k++) acc += fa[i * 16 + k] * fb[k * 16 + j];
            r[i * 16 + j] = acc;
        }
    memcpy(d.x, r, sizeof r);
}
}}  // namespace nvcuda::wmma

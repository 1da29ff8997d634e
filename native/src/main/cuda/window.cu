// Sliding-window ops of convolution and pooling on contiguous (N, C, H, W) tensors: im2col, its adjoint col2im,
// and max pooling with the argmax of each window (forward and backward). The geometry is that of
// dev.fluxion.tensor.Window2d: kernel kh x kw, stride sh x sw, padding top pt and left pl (bottom and right only
// shape OH and OW), dilation dh x dw. A convolution is weight (O, C*kh*kw) @ cols, one GEMM (cuBLAS).
// Both backwards gather (one thread per input element sums what its windows send it): no atomics, so results
// are deterministic and float16/bfloat16 sums stay in float32 until the one store.
#include "common.cuh"

#define FX_WINDOW_ARGS int n, int c, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int pt, int pl, int dh, int dw

// cols (C*kh*kw, N*OH*OW): row (c, i, j), column (n, oh, ow) holds x[n, c, oh*sh - pt + i*dh, ow*sw - pl + j*dw], 0 in the padding.
template <typename T> __device__ void im2col(const T* __restrict__ x, T* __restrict__ cols, FX_WINDOW_ARGS) {
    typedef typename Acc<T>::type A;
    i64 columns = (i64)n * oh * ow, total = (i64)c * kh * kw * columns;
    FX_GRID_LOOP(e, total) {
        i64 r = e / columns, col = e - r * columns;
        int j = (int)(r % kw), i = (int)(r / kw % kh), ch = (int)(r / ((i64)kw * kh));
        int x0 = (int)(col % ow), y0 = (int)(col / ow % oh), b = (int)(col / ((i64)ow * oh));
        int ih = y0 * sh - pt + i * dh, iw = x0 * sw - pl + j * dw;
        cols[e] = ih >= 0 && ih < h && iw >= 0 && iw < w ? x[(((i64)b * c + ch) * h + ih) * w + iw] : from_acc<T>(A(0));
    }
}

// x (N, C, H, W) = the sum, over the windows that read x[n, c, ih, iw], of their cols entries (col2im).
template <typename T> __device__ void col2im(const T* __restrict__ cols, T* __restrict__ x, FX_WINDOW_ARGS) {
    typedef typename Acc<T>::type A;
    i64 columns = (i64)n * oh * ow, total = (i64)n * c * h * w;
    FX_GRID_LOOP(e, total) {
        int iw = (int)(e % w), ih = (int)(e / w % h), ch = (int)(e / ((i64)w * h) % c), b = (int)(e / ((i64)w * h * c));
        A acc = A(0);
        for (int i = 0; i < kh; i++) {
            int th = ih + pt - i * dh;
            if (th < 0 || th % sh != 0 || th / sh >= oh) continue;
            for (int j = 0; j < kw; j++) {
                int tw = iw + pl - j * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= ow) continue;
                acc += to_acc<A>(cols[(((i64)ch * kh + i) * kw + j) * columns + ((i64)b * oh + th / sh) * ow + tw / sw]);
            }
        }
        x[e] = from_acc<T>(acc);
    }
}

// y (N, C, OH, OW) = max of each window; idx = ih * W + iw of the first maximum in window order (row by row), a NaN
// counting as the maximum (the first NaN wins). Padding is never chosen (PyTorch's -inf padding: a window of
// only -inf picks its first real element).
template <typename T> __device__ void max_pool_fwd(const T* __restrict__ x, T* __restrict__ y, i64* __restrict__ idx, FX_WINDOW_ARGS) {
    typedef typename Acc<T>::type A;
    i64 total = (i64)n * c * oh * ow;
    FX_GRID_LOOP(e, total) {
        int x0 = (int)(e % ow), y0 = (int)(e / ow % oh);
        i64 plane = e / ((i64)ow * oh);                                  // n * C + c
        const T* p = x + plane * h * w;
        A best = A(0);
        i64 at = -1;
        for (int i = 0; i < kh; i++) {
            int ih = y0 * sh - pt + i * dh;
            if (ih < 0 || ih >= h) continue;
            for (int j = 0; j < kw; j++) {
                int iw = x0 * sw - pl + j * dw;
                if (iw < 0 || iw >= w) continue;
                A v = to_acc<A>(p[(i64)ih * w + iw]);
                if (at < 0 || (!is_nan(best) && (v > best || is_nan(v)))) { best = v; at = (i64)ih * w + iw; }
            }
        }
        y[e] = from_acc<T>(best);
        idx[e] = at;
    }
}

// dx (N, C, H, W): each input element sums the gradients of the windows whose argmax it is.
template <typename T> __device__ void max_pool_bwd(const T* __restrict__ g, const i64* __restrict__ idx, T* __restrict__ dx, FX_WINDOW_ARGS) {
    typedef typename Acc<T>::type A;
    i64 total = (i64)n * c * h * w;
    FX_GRID_LOOP(e, total) {
        int iw = (int)(e % w), ih = (int)(e / w % h);
        i64 plane = e / ((i64)w * h), self = (i64)ih * w + iw;
        A acc = A(0);
        for (int i = 0; i < kh; i++) {
            int th = ih + pt - i * dh;
            if (th < 0 || th % sh != 0 || th / sh >= oh) continue;
            for (int j = 0; j < kw; j++) {
                int tw = iw + pl - j * dw;
                if (tw < 0 || tw % sw != 0 || tw / sw >= ow) continue;
                i64 o = (plane * oh + th / sh) * ow + tw / sw;
                if (idx[o] == self) acc += to_acc<A>(g[o]);
            }
        }
        dx[e] = from_acc<T>(acc);
    }
}

#define FX_WINDOW_PASS n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw
#define FX_WINDOW_KERNELS(S, T)                                                                                                \
    extern "C" __global__ void fx_im2col_##S(const T* x, T* cols, FX_WINDOW_ARGS) { im2col<T>(x, cols, FX_WINDOW_PASS); }     \
    extern "C" __global__ void fx_col2im_##S(const T* cols, T* x, FX_WINDOW_ARGS) { col2im<T>(cols, x, FX_WINDOW_PASS); }     \
    extern "C" __global__ void fx_max_pool_fwd_##S(const T* x, T* y, i64* idx, FX_WINDOW_ARGS) { max_pool_fwd<T>(x, y, idx, FX_WINDOW_PASS); } \
    extern "C" __global__ void fx_max_pool_bwd_##S(const T* g, const i64* idx, T* dx, FX_WINDOW_ARGS) { max_pool_bwd<T>(g, idx, dx, FX_WINDOW_PASS); }

FX_WINDOW_KERNELS(f32, float)
FX_WINDOW_KERNELS(f64, double)
FX_WINDOW_KERNELS(f16, __half)
FX_WINDOW_KERNELS(bf16, bf16)

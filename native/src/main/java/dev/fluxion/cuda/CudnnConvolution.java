package dev.fluxion.cuda;

import dev.fluxion.tensor.Autograd;
import dev.fluxion.tensor.Conv2dOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;

import java.lang.ref.Reference;
import java.util.concurrent.atomic.AtomicLong;

import static org.bytedeco.cuda.global.cudnn.*;

/**
 * The cuDNN kernel of {@link Conv2dOp} (the legacy convolution API, as PyTorch's Conv_v7.cpp drives it): NCHW
 * descriptors of packed inputs, cross-correlation with the op's padding, stride, dilation and groups;
 * algorithms from cuDNN's heuristics (the _v7 queries: host only, no benchmarking run, no wait for the GPU), the
 * first with status success and the allowed math (the next one when its workspace does not fit or cuDNN refuses
 * it), its workspace from the device's stream-ordered pool and returned to it right after the call. Forward: cudnnConvolutionForward, then the bias by the elementwise add (as PyTorch).
 * Backward: cudnnConvolutionBackwardData for dx, cudnnConvolutionBackwardFilter for dweight (from the saved x),
 * the bias gradient as the sum of g over N, OH, OW; only what needsGrad asks for.
 *
 * <p>Math: float32, float16 and bfloat16 accumulate in float, float64 in double. float16/bfloat16 use tensor
 * cores (CUDNN_TENSOR_OP_MATH). float32 runs CUDNN_FMA_MATH (true float32) unless {@link CudaBackend#allowTf32()},
 * then CUDNN_DEFAULT_MATH, which lets cuDNN use TF32 tensor cores on Ampere and newer (PyTorch's choice;
 * TENSOR_OP_MATH_ALLOW_CONVERSION would also allow a down-conversion to float16). PyTorch's
 * torch.backends.cudnn.allow_tf32 defaults to true; Fluxion follows its one TF32 switch, the matmul's, off by default.
 *
 * <p>Declines (the composed default runs: im2col + cuBLAS, the same numbers): cuDNN off or not loadable, dtypes
 * other than float32/64/16/bf16, asymmetric padding (the 2-D descriptor has one padding per axis), empty tensors,
 * more than 2^31 - 1 elements (cuDNN's 32-bit indexing), no algorithm with the allowed math, and the backward of
 * a create-graph pass (its result must carry a graph).
 */
final class CudnnConvolution {
    private CudnnConvolution() {}

    private static final AtomicLong DECLINED = new AtomicLong();
    private static volatile String lastDecline = "";

    /** How often a cuDNN convolution declined so far (any device), and the last reason: for the gpu tests. */
    static long declined() { return DECLINED.get(); }

    static String lastDecline() { return lastDecline; }

    private static <T> T decline(String why) {
        DECLINED.incrementAndGet();
        lastDecline = why;
        return null;
    }

    /** What a plan depends on; float32's TF32 switch included, since it changes the math type. */
    record Key(int n, int c, int h, int w, int o, DType dtype, Window2d window, int groups, boolean tf32) {
        String shapes() {
            return "conv2d x [" + n + ", " + c + ", " + h + ", " + w + "] weight [" + o + ", " + c / groups + ", " + window.kh() + ", " + window.kw() + "] "
                    + dtype + ", stride " + window.sh() + "x" + window.sw() + ", padding " + window.padTop() + "x" + window.padLeft()
                    + ", dilation " + window.dh() + "x" + window.dw() + ", groups " + groups + (tf32 ? ", tf32" : "");
        }
    }

    /** One algorithm as the heuristics gave it: the cuDNN enum, its math type and its workspace bytes. */
    record Algo(int algo, int mathType, long workspace) {}

    /**
     * The algorithms the heuristics allow for one direction, best first, and the one in use: a later one is taken
     * when the workspace of the current one does not fit in memory or cuDNN answers NOT_SUPPORTED for it (as PyTorch's
     * AlgoIterator tries them in turn), and kept from then on.
     */
    static final class Candidates {
        private final java.util.List<Algo> list;
        private int pick;

        Candidates(java.util.List<Algo> list) { this.list = list; }

        boolean none() { return pick >= list.size(); }

        Algo current() { return list.get(pick); }

        /** Moves to the next algorithm; false when there is none. */
        boolean next() { return ++pick < list.size(); }
    }

    /** The reason to decline a convolution of this geometry and dtype, or null. */
    static String unsupported(Window2d win, DType dt, long inNumel, long outNumel) {
        if (Cudnn.dataType(dt) < 0) return "dtype " + dt;
        if (win.padTop() != win.padBottom() || win.padLeft() != win.padRight())
            return "asymmetric padding (" + win.padTop() + ", " + win.padBottom() + ", " + win.padLeft() + ", " + win.padRight() + ")";
        if (inNumel == 0 || outNumel == 0) return "an empty tensor";
        if (inNumel > Integer.MAX_VALUE || outNumel > Integer.MAX_VALUE) return "more than 2^31 - 1 elements";
        return null;
    }

    /** The descriptors of one convolution and its algorithms, chosen on first use of each direction. */
    static final class Plan implements AutoCloseable {
        final Key key;
        final String shapes;
        final int mathType;                                    // the math the heuristics are asked under
        cudnnTensorStruct x, y;
        cudnnFilterStruct w;
        cudnnConvolutionStruct conv;
        Candidates forward, backwardData, backwardFilter;

        Plan(Key k) {
            this.key = k;
            this.shapes = k.shapes();
            this.mathType = switch (k.dtype()) {
                case FLOAT16, BFLOAT16 -> CUDNN_TENSOR_OP_MATH;
                case FLOAT32 -> k.tf32() ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
                default -> CUDNN_DEFAULT_MATH;
            };
            try {
                Window2d win = k.window();
                int oh = win.outH(k.h()), ow = win.outW(k.w());
                int type = Cudnn.dataType(k.dtype()), compute = k.dtype() == DType.FLOAT64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
                x = Cudnn.tensor(k.dtype(), k.n(), k.c(), k.h(), k.w(), shapes);
                y = Cudnn.tensor(k.dtype(), k.n(), k.o(), oh, ow, shapes);
                w = new cudnnFilterStruct();
                Cudnn.check(cudnnCreateFilterDescriptor(w), "cudnnCreateFilterDescriptor", shapes);
                Cudnn.check(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NCHW, k.o(), k.c() / k.groups(), win.kh(), win.kw()), "cudnnSetFilter4dDescriptor", shapes);
                conv = new cudnnConvolutionStruct();
                Cudnn.check(cudnnCreateConvolutionDescriptor(conv), "cudnnCreateConvolutionDescriptor", shapes);
                Cudnn.check(cudnnSetConvolution2dDescriptor(conv, win.padTop(), win.padLeft(), win.sh(), win.sw(), win.dh(), win.dw(),
                        CUDNN_CROSS_CORRELATION, compute), "cudnnSetConvolution2dDescriptor", shapes);
                Cudnn.check(cudnnSetConvolutionGroupCount(conv, k.groups()), "cudnnSetConvolutionGroupCount(" + k.groups() + ")", shapes);
                Cudnn.check(cudnnSetConvolutionMathType(conv, mathType), "cudnnSetConvolutionMathType(" + mathType + ")", shapes);
                int[] n = new int[1], c = new int[1], h = new int[1], wd = new int[1];
                Cudnn.check(cudnnGetConvolution2dForwardOutputDim(conv, x, w, n, c, h, wd), "cudnnGetConvolution2dForwardOutputDim", shapes);
                if (n[0] != k.n() || c[0] != k.o() || h[0] != oh || wd[0] != ow)
                    throw new IllegalStateException("cuDNN: " + shapes + " gives output [" + n[0] + ", " + c[0] + ", " + h[0] + ", " + wd[0]
                            + "], the op expects [" + k.n() + ", " + k.o() + ", " + oh + ", " + ow + "]");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Heuristics are asked under the plan's math type (a run before may have set the descriptor to its algorithm's). */
        private void resetMath() { Cudnn.check(cudnnSetConvolutionMathType(conv, mathType), "cudnnSetConvolutionMathType(" + mathType + ")", shapes); }

        /** float32 without TF32 must run true float32 math (PyTorch asserts the same); other dtypes take what cuDNN offers. */
        private boolean allowed(int status, int math) {
            return status == CUDNN_STATUS_SUCCESS && (key.dtype() != DType.FLOAT32 || key.tf32() || math == CUDNN_FMA_MATH);
        }

        Candidates forward(Cudnn dnn) {
            if (forward != null) return forward;
            resetMath();
            int[] max = new int[1], found = new int[1];
            Cudnn.check(cudnnGetConvolutionForwardAlgorithmMaxCount(dnn.handle, max), "cudnnGetConvolutionForwardAlgorithmMaxCount", shapes);
            try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(Math.max(1, max[0]))) {
                Cudnn.check(cudnnGetConvolutionForwardAlgorithm_v7(dnn.handle, x, w, conv, y, Math.max(1, max[0]), found, perf),
                        "cudnnGetConvolutionForwardAlgorithm_v7", shapes);
                forward = allowedOf(found[0], i -> {
                    cudnnConvolutionFwdAlgoPerf_t p = perf.getPointer(i);
                    return new Answer(p.status(), new Algo(p.algo(), p.mathType(), p.memory()));
                });
            }
            return forward;
        }

        Candidates backwardData(Cudnn dnn) {
            if (backwardData != null) return backwardData;
            resetMath();
            int[] max = new int[1], found = new int[1];
            Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(dnn.handle, max), "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", shapes);
            try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(Math.max(1, max[0]))) {
                Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithm_v7(dnn.handle, w, y, conv, x, Math.max(1, max[0]), found, perf),
                        "cudnnGetConvolutionBackwardDataAlgorithm_v7", shapes);
                backwardData = allowedOf(found[0], i -> {
                    cudnnConvolutionBwdDataAlgoPerf_t p = perf.getPointer(i);
                    return new Answer(p.status(), new Algo(p.algo(), p.mathType(), p.memory()));
                });
            }
            return backwardData;
        }

        Candidates backwardFilter(Cudnn dnn) {
            if (backwardFilter != null) return backwardFilter;
            resetMath();
            int[] max = new int[1], found = new int[1];
            Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(dnn.handle, max), "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", shapes);
            try (cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(Math.max(1, max[0]))) {
                Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(dnn.handle, x, y, conv, w, Math.max(1, max[0]), found, perf),
                        "cudnnGetConvolutionBackwardFilterAlgorithm_v7", shapes);
                backwardFilter = allowedOf(found[0], i -> {
                    cudnnConvolutionBwdFilterAlgoPerf_t p = perf.getPointer(i);
                    return new Answer(p.status(), new Algo(p.algo(), p.mathType(), p.memory()));
                });
            }
            return backwardFilter;
        }

        /** One heuristic answer: its status and the algorithm it names. */
        private record Answer(int status, Algo algo) {}

        /** The answers 0..found-1 (best first) that {@link #allowed} keeps, as the direction's candidates. */
        private Candidates allowedOf(int found, java.util.function.IntFunction<Answer> answer) {
            java.util.List<Algo> ok = new java.util.ArrayList<>();
            for (int i = 0; i < found; i++) {
                Answer r = answer.apply(i);
                if (allowed(r.status(), r.algo().mathType())) ok.add(r.algo());
            }
            return new Candidates(ok);
        }

        /** The descriptor's math type set to the chosen algorithm's: cuDNN picks the kernel from both (see PyTorch's Conv_v7.cpp). */
        void useMath(Algo a) { Cudnn.check(cudnnSetConvolutionMathType(conv, a.mathType()), "cudnnSetConvolutionMathType(" + a.mathType() + ")", shapes); }

        @Override public void close() {
            if (x != null) cudnnDestroyTensorDescriptor(x);
            if (y != null) cudnnDestroyTensorDescriptor(y);
            if (w != null) cudnnDestroyFilterDescriptor(w);
            if (conv != null) cudnnDestroyConvolutionDescriptor(conv);
            x = y = null;
            w = null;
            conv = null;
        }
    }

    /** Registered in {@link CudaFusedKernels} for Conv2dOp on CUDA devices. */
    static final class Kernel implements FusedKernel<Conv2dOp> {
        @Override public FusedOp.Result forward(Conv2dOp op, Tensor[] in) {
            Tensor x = in[0], w = in[1], b = in.length == 3 ? in[2] : null;
            Window2d win = op.window();
            int n = x.size(0), o = w.size(0), oh = win.outH(x.size(2)), ow = win.outW(x.size(3));
            String why = unsupported(win, x.dtype(), x.numel(), (long) n * o * oh * ow);
            if (why != null) return decline(why);
            CudaDevice d = Fused.device("conv2d", x);
            Cudnn dnn = Cudnn.of(d);
            if (dnn == null) return decline("cuDNN not used: " + Cudnn.reason());
            Key key = new Key(n, x.size(1), x.size(2), x.size(3), o, x.dtype(), win, op.groups(), CudaBackend.allowTf32());
            Tensor xc = Cudnn.packed(d, x), wc = Cudnn.packed(d, w);
            Tensor y;
            synchronized (dnn) {
                Plan p = dnn.plan(key, () -> new Plan(key));
                Candidates a = p == null ? null : p.forward(dnn);
                if (a == null || a.none()) {
                    Fused.release(xc, x);
                    Fused.release(wc, w);
                    return decline("no forward algorithm with the allowed math for " + key.shapes());
                }
                DType dt = x.dtype();
                Tensor out = y = Tensor.empty(dt, d.device, n, o, oh, ow);
                boolean ran = run(d, dnn, p, a, "cudnnConvolutionForward", (algo, ws) -> cudnnConvolutionForward(dnn.handle, dnn.one(dt), p.x, at(xc),
                        p.w, at(wc), p.conv, algo.algo(), Cuda.at(ws), algo.workspace(), dnn.zero(dt), p.y, at(out)));
                Reference.reachabilityFence(xc);
                Reference.reachabilityFence(wc);
                if (!ran) {
                    y.close();
                    Fused.release(xc, x);
                    Fused.release(wc, w);
                    return decline("no forward algorithm could run (NOT_SUPPORTED or its workspace out of memory) for " + p.shapes);
                }
            }
            Fused.release(xc, x);
            Fused.release(wc, w);
            if (b == null) return new FusedOp.Result(y);
            Tensor yb = y.add(b.reshape(1, o, 1, 1));
            y.close();
            return new FusedOp.Result(yb);
        }

        @Override public Tensor[] backward(Conv2dOp op, Saved s, Tensor g) {
            if (Autograd.isRecording()) return decline("create-graph backward");
            int[] xs = s.shape(0), wsh = s.shape(1);
            Window2d win = op.window();
            boolean needX = s.needsGrad(0), needW = s.needsGrad(1), needB = s.inputCount() == 3 && s.needsGrad(2);
            if (s.dtype(0) != g.dtype() || s.dtype(1) != g.dtype()) return decline("gradient dtype " + g.dtype() + " differs from the inputs'");
            String why = unsupported(win, g.dtype(), Shape.numel(xs), g.numel());
            if (why != null) return decline(why);
            CudaDevice d = Fused.device("conv2d backward", g);
            Cudnn dnn = Cudnn.of(d);
            if (dnn == null) return decline("cuDNN not used: " + Cudnn.reason());
            DType dt = g.dtype();
            Key key = new Key(xs[0], xs[1], xs[2], xs[3], wsh[0], dt, win, op.groups(), CudaBackend.allowTf32());
            Tensor[] grads = new Tensor[s.inputCount()];
            Tensor gc = Cudnn.packed(d, g);
            synchronized (dnn) {
                Plan p = dnn.plan(key, () -> new Plan(key));
                Candidates data = p != null && needX ? p.backwardData(dnn) : null, filter = p != null && needW ? p.backwardFilter(dnn) : null;
                if (p == null || data != null && data.none() || filter != null && filter.none()) {
                    Fused.release(gc, g);
                    return decline("no backward algorithm with the allowed math for " + key.shapes());
                }
                boolean ran = true;
                if (needX) {
                    Tensor wc = Cudnn.packed(d, s.input(1)), dx = grads[0] = Tensor.empty(dt, d.device, xs);
                    ran = run(d, dnn, p, data, "cudnnConvolutionBackwardData", (algo, ws) -> cudnnConvolutionBackwardData(dnn.handle, dnn.one(dt), p.w,
                            at(wc), p.y, at(gc), p.conv, algo.algo(), Cuda.at(ws), algo.workspace(), dnn.zero(dt), p.x, at(dx)));
                    Reference.reachabilityFence(wc);
                    Fused.release(wc, s.input(1));
                }
                if (needW && ran) {
                    Tensor xc = Cudnn.packed(d, s.input(0)), dw = grads[1] = Tensor.empty(dt, d.device, wsh);
                    ran = run(d, dnn, p, filter, "cudnnConvolutionBackwardFilter", (algo, ws) -> cudnnConvolutionBackwardFilter(dnn.handle, dnn.one(dt),
                            p.x, at(xc), p.y, at(gc), p.conv, algo.algo(), Cuda.at(ws), algo.workspace(), dnn.zero(dt), p.w, at(dw)));
                    Reference.reachabilityFence(xc);
                    Fused.release(xc, s.input(0));
                }
                Reference.reachabilityFence(gc);
                if (!ran) {                                      // the composed rule computes every gradient
                    for (Tensor t : grads) if (t != null) t.close();
                    Fused.release(gc, g);
                    return decline("no backward algorithm could run (NOT_SUPPORTED or its workspace out of memory) for " + p.shapes);
                }
            }
            Fused.release(gc, g);
            if (needB) grads[2] = g.sum(new int[] {0, 2, 3}, false);
            return grads;
        }
    }

    /** A cuDNN call with an algorithm and the address of its workspace (0 when it needs none); returns the status. */
    interface Call { int run(Algo algo, long workspace); }

    /**
     * One cuDNN call with the current algorithm's math and a workspace from the pool, freed (stream-ordered) right
     * after the call is enqueued. When the workspace does not fit in memory, or cuDNN answers NOT_SUPPORTED (nothing
     * was enqueued), the next candidate is tried; false when none is left (the caller declines). Other errors throw.
     */
    private static boolean run(CudaDevice d, Cudnn dnn, Plan p, Candidates c, String function, Call call) {
        for (; !c.none(); c.next()) {
            Algo a = c.current();
            long ws;
            try {
                ws = a.workspace() > 0 ? d.allocator.allocate(a.workspace()) : 0;
            } catch (CudaOutOfMemoryException e) {
                continue;
            }
            try {
                p.useMath(a);
                d.makeCurrent();
                int status = call.run(a, ws);
                if (Cudnn.notSupported(status)) continue;
                Cudnn.check(status, function + " (algorithm " + a.algo() + ", math " + a.mathType() + ", workspace " + a.workspace() + " bytes)", p.shapes);
                dnn.count(function);
                return true;
            } finally {
                if (ws != 0) d.allocator.free(ws, a.workspace());
            }
        }
        return false;
    }

    private static org.bytedeco.javacpp.Pointer at(Tensor t) { return Cuda.at(CudaElementwise.address(t)); }
}

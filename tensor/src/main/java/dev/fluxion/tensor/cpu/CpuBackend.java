package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.nio.FloatBuffer;

/**
 * The CPU backend. Elementwise kernels stream chunks of {@link Scratch#CHUNK} elements through per-thread
 * arrays ({@link Strided} gathers any layout into them), compute with {@link FloatKernels} (Vector API)
 * or {@link DoubleKernels}, and split large tensors over the workers of {@link Parallel}.
 */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    static {                                       // fused kernels: ops whose composition is slower (see FusedOp)
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.LayerNormOp.class, Device.Kind.CPU, CpuLayerNorm.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.AdamUpdate.class, Device.Kind.CPU, CpuAdam.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.Im2ColOp.class, Device.Kind.CPU, CpuWindows.IM2COL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.Col2ImOp.class, Device.Kind.CPU, CpuWindows.COL2IM);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.MaxPool2dOp.class, Device.Kind.CPU, CpuWindows.MAX_POOL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.AttentionOp.class, Device.Kind.CPU, CpuAttention.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.LinearOp.class, Device.Kind.CPU, CpuLinear.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.ReluBackwardOp.class, Device.Kind.CPU, CpuReluBackward.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.SgdUpdate.class, Device.Kind.CPU, CpuSgd.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.ActivationBackwardOp.class, Device.Kind.CPU, CpuActivationBackward.KERNEL);
        dev.fluxion.tensor.FusedKernels.register(dev.fluxion.tensor.CrossEntropyOp.class, Device.Kind.CPU, CpuCrossEntropy.KERNEL);
    }

    /** A fresh contiguous copy of t (for kernels that need packed rows). */
    static Tensor contiguousCopy(Tensor t) {
        Tensor c = empty(t.dtype(), t.shape());
        INSTANCE.copy(t, c);
        return c;
    }

    /** t itself when contiguous, else {@link #contiguousCopy}. */
    static Tensor contiguousOrCopy(Tensor t) { return t.isContiguous() ? t : contiguousCopy(t); }

    /** True when every tensor is float32 in one CPU buffer: what the fused float kernels read; else they step aside. */
    static boolean float32InOneBuffer(Tensor... ts) {
        for (Tensor t : ts) if (t.dtype() != DType.FLOAT32 || !CpuStorage.fitsOneBuffer(t)) return false;
        return true;
    }

    private CpuBackend() {}

    @Override public Device device() { return Device.CPU; }

    @Override public Storage allocate(DType dtype, long numel) { return new CpuStorage(dtype, numel); }

    static Tensor empty(DType dtype, int[] shape) { return Tensor.empty(dtype, Device.CPU, shape); }

    @Override public Tensor unary(UnaryOp op, Tensor x) {
        Tensor out = empty(x.dtype(), x.shape());
        if (NativeKernels.ENABLED && Zip.eligible(x) && NativeKernels.code(op) >= 0) {   // whole ranges in place, no copies
            FloatBuffer xb = Zip.buf("unary", x), ob = Zip.buf("unary", out);
            long xo = x.offset(), oo = out.offset();
            int code = NativeKernels.code(op);
            Parallel.forRange(x.numel(), Parallel.GRAIN, (lo, hi) -> NativeKernels.unaryAt(code, xb, xo + lo, ob, oo + lo, hi - lo));
            return out;
        }
        Strided in = new Strided(x), o = new Strided(out);
        boolean wide = x.dtype().computesInDouble();
        Parallel.forRange(in.numel, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long at = lo; at < hi; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, hi - at);
                if (wide) {
                    in.load(at, n, s.da);
                    DoubleKernels.unary(op, s.da, s.dc, n);
                    o.store(at, n, s.dc);
                } else {
                    in.load(at, n, s.fa);
                    FloatKernels.unary(op, s.fa, s.fc, n);
                    o.store(at, n, s.fc);
                }
            }
        });
        return out;
    }

    @Override public Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        Tensor out = empty(op.isComparison() ? DType.BOOL : a.dtype(), a.shape());
        if (NativeKernels.ENABLED && !op.isComparison() && NativeKernels.code(op) >= 0 && Zip.eligible(a) && Zip.eligible(b)
                && java.util.Arrays.equals(a.shape(), b.shape())) {                 // same shapes, no broadcast: whole ranges
            FloatBuffer ab = Zip.buf("binary", a), bb = Zip.buf("binary", b), ob = Zip.buf("binary", out);
            long ao = a.offset(), bo = b.offset(), oo = out.offset();
            int code = NativeKernels.code(op);
            Parallel.forRange(a.numel(), Parallel.GRAIN, (lo, hi) -> NativeKernels.binaryAt(code, ab, ao + lo, bb, bo + lo, ob, oo + lo, hi - lo));
            return out;
        }
        Strided sa = new Strided(a), sb = new Strided(b), o = new Strided(out);
        boolean wide = a.dtype().computesInDouble();
        Parallel.forRange(sa.numel, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long at = lo; at < hi; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, hi - at);
                if (wide) {
                    sa.load(at, n, s.da);
                    sb.load(at, n, s.db);
                    DoubleKernels.binary(op, s.da, s.db, s.dc, n);
                    o.store(at, n, s.dc);
                } else {
                    sa.load(at, n, s.fa);
                    sb.load(at, n, s.fb);
                    FloatKernels.binary(op, s.fa, s.fb, s.fc, n);
                    o.store(at, n, s.fc);
                }
            }
        });
        return out;
    }

    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) {
        Tensor out = empty(a.dtype(), a.shape());
        Strided sc = new Strided(cond), sa = new Strided(a), sb = new Strided(b), o = new Strided(out);
        if (a.dtype() == DType.INT64) {                                     // exact for all 64-bit integers, as copy
            for (long i = 0; i < sa.numel; i++) o.storage.setLong(o.indexOf(i), sc.getLong(i) != 0 ? sa.getLong(i) : sb.getLong(i));
            return out;
        }
        boolean wide = a.dtype().computesInDouble();
        Parallel.forRange(sa.numel, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long at = lo; at < hi; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, hi - at);
                sc.load(at, n, s.fd);
                if (wide) {
                    sa.load(at, n, s.da);
                    sb.load(at, n, s.db);
                    for (int i = 0; i < n; i++) s.dc[i] = s.fd[i] != 0 ? s.da[i] : s.db[i];
                    o.store(at, n, s.dc);
                } else {
                    sa.load(at, n, s.fa);
                    sb.load(at, n, s.fb);
                    FloatKernels.select(s.fd, s.fa, s.fb, s.fc, n);
                    o.store(at, n, s.fc);
                }
            }
        });
        return out;
    }

    @Override public void copy(Tensor src, Tensor dst) {
        Strided in = new Strided(src), o = new Strided(dst);
        DType from = src.dtype(), to = dst.dtype();
        if (from == to && in.contiguous && o.contiguous) {                  // plain bytes
            o.storage.copyFrom(in.storage, in.offset, o.offset, in.numel);
            return;
        }
        if (from == to && from == DType.FLOAT32 && o.contiguous && Transpose.applies(in, o)) {   // gradients of W^T and friends
            Transpose.copy(in, o);
            return;
        }
        if (from == DType.INT64 || to == DType.INT64) {                     // exact for all 64-bit integers
            for (long i = 0; i < in.numel; i++) o.storage.setLong(o.indexOf(i), in.getLong(i));
            return;
        }
        boolean wide = from.computesInDouble() || to.computesInDouble();
        Parallel.forRange(in.numel, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long at = lo; at < hi; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, hi - at);
                if (wide) { in.load(at, n, s.da); o.store(at, n, s.da); }
                else { in.load(at, n, s.fa); o.store(at, n, s.fa); }
            }
        });
    }

    @Override public void fill(Tensor dst, double value) {
        Strided o = new Strided(dst);
        if (o.contiguous) {                                                 // one value's bytes, repeated
            Parallel.forRange(o.numel, Parallel.GRAIN, (lo, hi) -> o.storage.fill(o.offset + lo, hi - lo, value));
            return;
        }
        boolean wide = dst.dtype().computesInDouble();
        Parallel.forRange(o.numel, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            java.util.Arrays.fill(s.da, value);
            java.util.Arrays.fill(s.fa, (float) value);
            for (long at = lo; at < hi; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, hi - at);
                if (wide) o.store(at, n, s.da); else o.store(at, n, s.fa);
            }
        });
    }

    @Override public Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepdim) { return CpuReduce.reduce(op, x, dims, keepdim); }

    @Override public Tensor softmax(Tensor x, int dim, boolean log) { return CpuReduce.softmax(x, dim, log); }

    @Override public Tensor matmul(Tensor a, Tensor b) { return CpuMatmul.matmul(a, b); }

    @Override public Tensor indexSelect(Tensor x, int dim, Tensor index) { return CpuIndexing.indexSelect(x, dim, index); }

    @Override public Tensor gather(Tensor x, int dim, Tensor index) { return CpuIndexing.gather(x, dim, index); }

    @Override public Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) { return CpuIndexing.scatterAdd(x, dim, index, src); }

    @Override public Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        Tensor fast = CpuIndexing.indexAdd(x, dim, index, src);
        return fast != null ? fast : Backend.super.indexAdd(x, dim, index, src);
    }


    /** The OpenBLAS build and thread count, for the environment check. */
    public static String blasInfo() { return Blas.config() + ", one thread per call, large products split over " + Parallel.threads() + " workers"; }
}

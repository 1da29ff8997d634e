package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * y = f(a, b) elementwise for two contiguous float32 tensors of one CPU buffer each (what the fused backward
 * kernels check first): chunks of {@link Scratch#CHUNK} floats copied into per-thread scratch, the kernel, the
 * result copied out, the chunks spread over {@link Parallel}.
 */
final class Zip {
    private Zip() {}

    /** The kernel over one chunk: y[0, len) from a[0, len) and b[0, len). */
    interface Chunk { void run(float[] a, float[] b, float[] y, int len); }

    /** The kernel over a range of the tensors' own buffers (element offsets), for the C kernels. */
    interface Range { void run(FloatBuffer a, long ao, FloatBuffer b, long bo, FloatBuffer y, long yo, long n); }

    /** As {@link #floats(String, Tensor, Tensor, Chunk)}, each piece one call on the buffers themselves (no copies). */
    static Tensor floats(String op, Tensor a, Tensor b, Range kernel) {
        Tensor y = CpuBackend.empty(DType.FLOAT32, a.shape());
        FloatBuffer fa = buf(op, a), fb = buf(op, b), fy = buf(op, y);
        long ao = a.offset(), bo = b.offset(), yo = y.offset();
        Parallel.forRange(a.numel(), Parallel.GRAIN, (lo, hi) -> kernel.run(fa, ao + lo, fb, bo + lo, fy, yo + lo, hi - lo));
        return y;
    }

    static boolean eligible(Tensor t) {
        return t.dtype() == DType.FLOAT32 && t.isContiguous() && t.storage() instanceof CpuStorage c && c.isSingleBuffer();
    }

    /** A new tensor of a's shape; op names the caller in the error of a storage that is not one buffer. */
    static Tensor floats(String op, Tensor a, Tensor b, Chunk kernel) {
        long n = a.numel();
        Tensor y = CpuBackend.empty(DType.FLOAT32, a.shape());
        FloatBuffer fa = buf(op, a), fb = buf(op, b), fy = buf(op, y);
        int ao = (int) a.offset(), bo = (int) b.offset(), yo = (int) y.offset();   // one buffer each, so int indices
        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            Scratch s = Scratch.get();
            for (int at = (int) lo; at < hi; at += Scratch.CHUNK) {
                int len = (int) Math.min(Scratch.CHUNK, hi - at);
                fa.get(ao + at, s.fa, 0, len);
                fb.get(bo + at, s.fb, 0, len);
                kernel.run(s.fa, s.fb, s.fc, len);
                fy.put(yo + at, s.fc, 0, len);
            }
        });
        return y;
    }

    /** t's one float buffer (after {@link #eligible}); op names the caller if it is not one buffer. */
    static FloatBuffer buf(String op, Tensor t) { return ((CpuStorage) t.storage()).floats(op); }
}

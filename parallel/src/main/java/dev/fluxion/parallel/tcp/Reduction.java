package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.cpu.Half;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Element-wise dst = op(dst, src) over raw tensor bytes (native order), as the ring combines a received
 * chunk into its own. Wide dtypes go through small arrays, whose loops the JIT vectorises; 16-bit floats
 * are widened to float32, combined and rounded back (to nearest even), as NCCL and Gloo do per hop. Every
 * rank applies the same sequence of these to the same bytes, so results are bitwise identical everywhere.
 */
final class Reduction {
    private Reduction() {}

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final int BLOCK = 2048;   // elements per array round trip: stays in L1

    /** Checks the dtype is one the TCP backend reduces; bool and the 8-bit types only move, they are not reduced. */
    static void checkSupported(String op, DType dtype, ReduceOp rop) {
        switch (dtype) {
            case FLOAT32, FLOAT64, FLOAT16, BFLOAT16, INT64, INT32 -> { }
            default -> throw new IllegalArgumentException(op + ": " + rop + " reduction of " + dtype
                    + " tensors is not supported (float32, float64, float16, bfloat16, int64, int32 are)");
        }
    }

    /** dst[dOff..] = op(dst, src[sOff..]) for count elements; offsets in bytes. AVG sums here (see {@link #divide}). */
    static void combine(DType dtype, ReduceOp op, ByteBuffer dst, int dOff, ByteBuffer src, int sOff, int count) {
        ByteBuffer d = dst.duplicate().order(ORDER), s = src.duplicate().order(ORDER);
        switch (dtype) {
            case FLOAT32 -> floats(op, d.position(dOff).slice().order(ORDER).asFloatBuffer(), s.position(sOff).slice().order(ORDER).asFloatBuffer(), count);
            case FLOAT64 -> doubles(op, d.position(dOff).slice().order(ORDER).asDoubleBuffer(), s.position(sOff).slice().order(ORDER).asDoubleBuffer(), count);
            case INT32 -> ints(op, d.position(dOff).slice().order(ORDER).asIntBuffer(), s.position(sOff).slice().order(ORDER).asIntBuffer(), count);
            case INT64 -> longs(op, d.position(dOff).slice().order(ORDER).asLongBuffer(), s.position(sOff).slice().order(ORDER).asLongBuffer(), count);
            case FLOAT16, BFLOAT16 -> halves(dtype == DType.BFLOAT16, op, d, dOff, s, sOff, count);
            default -> throw new IllegalArgumentException("cannot reduce " + dtype);
        }
    }

    private static void floats(ReduceOp op, java.nio.FloatBuffer d, java.nio.FloatBuffer s, int count) {
        float[] a = new float[Math.min(BLOCK, count)], b = new float[a.length];
        for (int i = 0; i < count; i += BLOCK) {
            int n = Math.min(BLOCK, count - i);
            d.get(i, a, 0, n);
            s.get(i, b, 0, n);
            switch (op) {
                case SUM, AVG -> { for (int k = 0; k < n; k++) a[k] += b[k]; }
                case MAX -> { for (int k = 0; k < n; k++) a[k] = Math.max(a[k], b[k]); }
                case MIN -> { for (int k = 0; k < n; k++) a[k] = Math.min(a[k], b[k]); }
            }
            d.put(i, a, 0, n);
        }
    }

    private static void doubles(ReduceOp op, java.nio.DoubleBuffer d, java.nio.DoubleBuffer s, int count) {
        double[] a = new double[Math.min(BLOCK, count)], b = new double[a.length];
        for (int i = 0; i < count; i += BLOCK) {
            int n = Math.min(BLOCK, count - i);
            d.get(i, a, 0, n);
            s.get(i, b, 0, n);
            switch (op) {
                case SUM, AVG -> { for (int k = 0; k < n; k++) a[k] += b[k]; }
                case MAX -> { for (int k = 0; k < n; k++) a[k] = Math.max(a[k], b[k]); }
                case MIN -> { for (int k = 0; k < n; k++) a[k] = Math.min(a[k], b[k]); }
            }
            d.put(i, a, 0, n);
        }
    }

    private static void ints(ReduceOp op, java.nio.IntBuffer d, java.nio.IntBuffer s, int count) {
        int[] a = new int[Math.min(BLOCK, count)], b = new int[a.length];
        for (int i = 0; i < count; i += BLOCK) {
            int n = Math.min(BLOCK, count - i);
            d.get(i, a, 0, n);
            s.get(i, b, 0, n);
            switch (op) {
                case SUM, AVG -> { for (int k = 0; k < n; k++) a[k] += b[k]; }
                case MAX -> { for (int k = 0; k < n; k++) a[k] = Math.max(a[k], b[k]); }
                case MIN -> { for (int k = 0; k < n; k++) a[k] = Math.min(a[k], b[k]); }
            }
            d.put(i, a, 0, n);
        }
    }

    private static void longs(ReduceOp op, java.nio.LongBuffer d, java.nio.LongBuffer s, int count) {
        long[] a = new long[Math.min(BLOCK, count)], b = new long[a.length];
        for (int i = 0; i < count; i += BLOCK) {
            int n = Math.min(BLOCK, count - i);
            d.get(i, a, 0, n);
            s.get(i, b, 0, n);
            switch (op) {
                case SUM, AVG -> { for (int k = 0; k < n; k++) a[k] += b[k]; }
                case MAX -> { for (int k = 0; k < n; k++) a[k] = Math.max(a[k], b[k]); }
                case MIN -> { for (int k = 0; k < n; k++) a[k] = Math.min(a[k], b[k]); }
            }
            d.put(i, a, 0, n);
        }
    }

    private static void halves(boolean bf16, ReduceOp op, ByteBuffer d, int dOff, ByteBuffer s, int sOff, int count) {
        for (int k = 0; k < count; k++) {
            float a = Half.toFloat(bf16, d.getShort(dOff + 2 * k)), b = Half.toFloat(bf16, s.getShort(sOff + 2 * k));
            float r = switch (op) {
                case SUM, AVG -> a + b;
                case MAX -> Math.max(a, b);
                case MIN -> Math.min(a, b);
            };
            d.putShort(dOff + 2 * k, Half.fromFloat(bf16, r));
        }
    }

    /** buf[off..] /= n for count elements (the last step of AVG, done once by the chunk's owner). */
    static void divide(DType dtype, ByteBuffer buf, int off, int count, int n) {
        ByteBuffer b = buf.duplicate().order(ORDER);
        int size = dtype.byteSize();
        for (int k = 0; k < count; k++) {
            int at = off + k * size;
            switch (dtype) {
                case FLOAT32 -> b.putFloat(at, b.getFloat(at) / n);
                case FLOAT64 -> b.putDouble(at, b.getDouble(at) / n);
                case INT32 -> b.putInt(at, b.getInt(at) / n);
                case INT64 -> b.putLong(at, b.getLong(at) / n);
                case FLOAT16, BFLOAT16 -> {
                    boolean bf = dtype == DType.BFLOAT16;
                    b.putShort(at, Half.fromFloat(bf, Half.toFloat(bf, b.getShort(at)) / n));
                }
                default -> throw new IllegalArgumentException("cannot average " + dtype);
            }
        }
    }
}

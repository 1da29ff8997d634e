package dev.fluxion.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Factories (zeros, arange, randn, from arrays, ...), reading values back, and moving between devices. */
final class Creation {
    private Creation() {}

    static Tensor full(double value, DType dtype, Device device, int[] shape) {
        if (!dtype.canHold(value))
            throw new IllegalArgumentException("full: value " + value + " does not fit dtype " + dtype);
        Tensor t = Tensor.empty(device, dtype, Shape.checked("full", shape));
        t.backend().fill(t, value);
        return t;
    }

    /**
     * The most elements a factory that stages values in a Java array (arange, linspace, eye, rand, randn,
     * randint) makes in one call: the JVM's array limit. zeros/ones/full/empty have no such limit.
     */
    static final int MAX_STAGED = Integer.MAX_VALUE - 8;

    /**
     * n as an array length, after checking it against {@link #MAX_STAGED} and the free heap (8 bytes an
     * element): a clear error before anything is allocated, instead of an OutOfMemoryError.
     */
    static int staged(String op, long n) {
        if (n > MAX_STAGED)
            throw new IllegalArgumentException(op + ": " + n + " elements is more than the limit of " + MAX_STAGED
                    + " for this factory (its values are staged in a Java array); build large tensors from zeros/full and in-place ops");
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (8 * n > free)
            throw new IllegalArgumentException(op + ": " + n + " elements need " + 8 * n + " bytes of Java heap for staging, but only about " + free
                    + " bytes of the heap (-Xmx " + rt.maxMemory() + ") are free");
        return (int) n;
    }

    static Tensor arange(double start, double end, double step, DType dtype) {
        if (!Double.isFinite(start) || !Double.isFinite(end))
            throw new IllegalArgumentException("arange: start and end must be finite, got start " + start + ", end " + end);
        if (step == 0 || !Double.isFinite(step)) throw new IllegalArgumentException("arange: step must be non-zero and finite, got " + step);
        if ((end - start) / step < 0)
            throw new IllegalArgumentException("arange: step " + step + " moves away from end (start " + start + ", end " + end + ")");
        boolean integral = start == Math.rint(start) && end == Math.rint(end) && step == Math.rint(step);
        DType dt = dtype != null ? dtype : integral ? DType.INT64 : DType.FLOAT32;
        double count = Math.ceil((end - start) / step);
        int n = staged("arange", count >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) count);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = start + i * step;
        return fromDoubles(v, dt, new int[] {n});
    }

    /** As {@link #arange(double, double, double, DType)}, made on device (on the host and uploaded where its backend cannot). */
    static Tensor arange(double start, double end, double step, DType dtype, Device device) {
        if (device.kind() == Device.Kind.CPU) return arange(start, end, step, dtype);
        if (!Double.isFinite(start) || !Double.isFinite(end) || !Double.isFinite(step) || step == 0 || (end - start) / step < 0)
            return arange(start, end, step, dtype);                     // the host op's checks and errors
        boolean integral = start == Math.rint(start) && end == Math.rint(end) && step == Math.rint(step);
        DType dt = dtype != null ? dtype : integral ? DType.INT64 : DType.FLOAT32;
        int n = Shape.intCount("arange", (long) Math.ceil((end - start) / step));
        Tensor t = Backends.of(device).arange(start, step, n, dt);
        return t != null ? t : arange(start, end, step, dt).to(device);
    }

    /**
     * Random values of a float dtype made on device: on the CPU the generator's own stream (as {@link #rand}),
     * elsewhere the backend's device generator keyed by one value of g's stream, else host values uploaded.
     */
    static Tensor random(Backend.Draw draw, Generator g, DType dtype, Device device, int[] shape) {
        String op = draw == Backend.Draw.NORMAL ? "randn" : "rand";
        if (device.kind() == Device.Kind.CPU) return draw == Backend.Draw.NORMAL ? randn(g, dtype, shape) : rand(g, dtype, shape);
        requireFloat(op, dtype);
        int[] s = Shape.checked(op, shape).clone();
        long key = g.nextKey();
        Tensor t = Backends.of(device).random(draw, key, dtype, s);
        if (t != null) return t;
        return (draw == Backend.Draw.NORMAL ? randn(g, dtype, s) : rand(g, dtype, s)).to(device);
    }

    /**
     * Random values that are a pure function of key, made on device: the backend's device generator, else (the CPU,
     * a backend without one) the host values of a {@link Generator} seeded with key, uploaded.
     */
    static Tensor random(Backend.Draw draw, long key, DType dtype, Device device, int[] shape) {
        Tensor t = Backends.of(device).random(draw, key, dtype, shape);
        if (t != null) return t;
        Generator h = new Generator(key);
        return (draw == Backend.Draw.NORMAL ? randn(h, dtype, shape) : rand(h, dtype, shape)).to(device);
    }

    static Tensor linspace(double start, double end, int steps, DType dtype) {
        if (steps < 0) throw new IllegalArgumentException("linspace: steps must be >= 0, got " + steps);
        if (!Double.isFinite(start) || !Double.isFinite(end))
            throw new IllegalArgumentException("linspace: start and end must be finite, got start " + start + ", end " + end);
        double[] v = new double[staged("linspace", steps)];
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        // symmetric evaluation from both ends, as torch.linspace, so that the last value is exactly end;
        // a single step is start, as in torch
        for (int i = 0; i < steps; i++) v[i] = i < steps / 2 || steps == 1 ? start + i * step : end - (steps - 1 - i) * step;
        return fromDoubles(v, dtype, new int[] {steps});
    }

    static Tensor eye(int n, int m, DType dtype) {
        Shape.checked("eye", n, m);
        double[] v = new double[staged("eye", (long) n * m)];
        for (int i = 0; i < Math.min(n, m); i++) v[i * m + i] = 1;
        return fromDoubles(v, dtype, new int[] {n, m});
    }

    static Tensor rand(Generator g, DType dtype, int[] shape) {
        requireFloat("rand", dtype);
        double[] v = new double[staged("rand", Shape.numel(Shape.checked("rand", shape)))];
        synchronized (g) {
            if (dtype == DType.FLOAT64) for (int i = 0; i < v.length; i++) v[i] = g.nextDouble();
            else for (int i = 0; i < v.length; i++) v[i] = g.nextFloat();
        }
        return fromDoubles(v, dtype, shape.clone());
    }

    static Tensor randn(Generator g, DType dtype, int[] shape) {
        requireFloat("randn", dtype);
        double[] v = new double[staged("randn", Shape.numel(Shape.checked("randn", shape)))];
        synchronized (g) { for (int i = 0; i < v.length; i++) v[i] = g.nextGaussian(); }
        return fromDoubles(v, dtype, shape.clone());
    }

    static Tensor randint(Generator g, long low, long high, int[] shape) {
        if (low >= high) throw new IllegalArgumentException("randint: low " + low + " must be less than high " + high);
        long[] v = new long[staged("randint", Shape.numel(Shape.checked("randint", shape)))];
        synchronized (g) { for (int i = 0; i < v.length; i++) v[i] = g.nextLong(low, high); }
        return fromArray(v, shape);
    }

    /**
     * As {@link #randint(Generator, long, long, int[])}, made on device: on the CPU those values; elsewhere the backend's
     * device generator keyed by one value of g's stream (no host values, no upload), else host values uploaded.
     */
    static Tensor randint(Generator g, long low, long high, Device device, int[] shape) {
        if (device.kind() == Device.Kind.CPU) return randint(g, low, high, shape);
        if (low >= high) throw new IllegalArgumentException("randint: low " + low + " must be less than high " + high);
        int[] s = Shape.checked("randint", shape).clone();
        long key = g.nextKey();
        Tensor t = Backends.of(device).randint(key, low, high, s);
        return t != null ? t : randint(g, low, high, s).to(device);
    }

    private static void requireFloat(String op, DType dtype) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException(op + ": dtype must be floating point, got " + dtype);
    }

    private static void checkLength(String kind, int length, int[] shape) {
        long n = Shape.numel(Shape.checked("Tensor.of", shape));
        if (n != length)
            throw new IllegalArgumentException("Tensor.of: " + length + " " + kind + " values cannot fill shape " + Shape.str(shape) + " (" + n + " elements)");
    }

    static Tensor fromArray(float[] data, int... shape) {
        checkLength("float", data.length, shape);
        ByteBuffer b = host(data.length * 4L);
        b.asFloatBuffer().put(data);
        return upload(b, DType.FLOAT32, shape);
    }

    static Tensor fromArray(double[] data, int... shape) {
        checkLength("double", data.length, shape);
        ByteBuffer b = host(data.length * 8L);
        b.asDoubleBuffer().put(data);
        return upload(b, DType.FLOAT64, shape);
    }

    static Tensor fromArray(long[] data, int... shape) {
        checkLength("long", data.length, shape);
        ByteBuffer b = host(data.length * 8L);
        b.asLongBuffer().put(data);
        return upload(b, DType.INT64, shape);
    }

    static Tensor fromArray(int[] data, int... shape) {
        checkLength("int", data.length, shape);
        ByteBuffer b = host(data.length * 4L);
        b.asIntBuffer().put(data);
        return upload(b, DType.INT32, shape);
    }

    static Tensor fromArray(boolean[] data, int... shape) {
        checkLength("boolean", data.length, shape);
        ByteBuffer b = host(data.length);
        for (boolean v : data) b.put((byte) (v ? 1 : 0));
        b.flip();
        return upload(b, DType.BOOL, shape);
    }

    /** Values given as doubles, stored in dtype (via a float64 tensor and a cast). */
    static Tensor fromDoubles(double[] v, DType dtype, int[] shape) {
        Tensor d = fromArray(v, shape);
        if (dtype == DType.FLOAT64) return d;
        Tensor out = Tensor.empty(Device.CPU, dtype, shape);
        out.backend().copy(d, out);
        d.close();
        return out;
    }

    /** A heap buffer for moving values to or from Java arrays (at most 2^31-1 bytes: arrays are int-indexed). */
    private static ByteBuffer host(long bytes) {
        return ByteBuffer.allocate(Shape.intCount("host copy (bytes)", bytes)).order(ByteOrder.nativeOrder());
    }

    private static Tensor upload(ByteBuffer b, DType dtype, int[] shape) {
        Tensor t = Tensor.empty(Device.CPU, dtype, shape.clone());
        t.storage().writeBytes(0, b.rewind());
        return t;
    }

    /** The elements in row-major order as raw bytes of t's dtype. */
    private static ByteBuffer download(Tensor t) {
        Tensor c = t.contiguous();
        ByteBuffer b = host(c.numel() * c.dtype().byteSize());
        c.storage().readBytes(c.offset(), b);
        return b.flip();
    }

    static float[] toFloatArray(Tensor t) {
        int n = Shape.intCount("toFloatArray", t.numel());            // before any conversion copy
        Tensor f = t.dtype() == DType.FLOAT32 ? t : t.detach().to(DType.FLOAT32);
        float[] out = new float[n];
        download(f).asFloatBuffer().get(out);
        return out;
    }

    static double[] toDoubleArray(Tensor t) {
        int n = Shape.intCount("toDoubleArray", t.numel());            // before any conversion copy
        Tensor d = t.dtype() == DType.FLOAT64 ? t : t.detach().to(DType.FLOAT64);
        double[] out = new double[n];
        download(d).asDoubleBuffer().get(out);
        return out;
    }

    static long[] toLongArray(Tensor t) {
        int n = Shape.intCount("toLongArray", t.numel());            // before any conversion copy
        Tensor l = t.dtype() == DType.INT64 ? t : t.detach().to(DType.INT64);
        long[] out = new long[n];
        download(l).asLongBuffer().get(out);
        return out;
    }

    static Tensor toDevice(Tensor t, Device device) {
        if (t.device().equals(device)) return t.alive();
        Tensor out = Tensor.empty(device, t.dtype(), t.shape());
        Tensor c = t.contiguous();
        int size = c.dtype().byteSize();
        long n = c.numel(), piece = (64L << 20) / size;    // staged in pieces: a tensor may be larger than one heap buffer
        ByteBuffer b = host(Math.min(n, piece) * size);
        for (long at = 0; at < n; at += piece) {
            b.clear().limit((int) (Math.min(piece, n - at) * size));
            c.storage().readBytes(c.offset() + at, b);
            out.storage().writeBytes(at, b.flip());
        }
        if (c != t) c.close();
        return out;
    }
}

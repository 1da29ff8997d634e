package dev.fluxion.tensor.cpu;

/** Per-thread chunk buffers, so kernels allocate nothing per call. */
final class Scratch {
    static final int CHUNK = 2048;
    private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);

    final float[] fa = new float[CHUNK], fb = new float[CHUNK], fc = new float[CHUNK], fd = new float[CHUNK];
    final float[] lanes = new float[FloatKernels.SUM_LANES];
    final byte[] bytes = new byte[CHUNK];
    final double[] da = new double[CHUNK], db = new double[CHUNK], dc = new double[CHUNK], dd = new double[CHUNK];

    static Scratch get() { return LOCAL.get(); }
}

package dev.fluxion.nn;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

/**
 * Seeded weight initialisation. One {@code Init} carries the generator, dtype and device every layer
 * built with it uses, so a model built twice with the same seed has identical weights.
 *
 * <pre>{@code var init = Init.seed(1337);  var fc = new Linear(784, 128, true, init); }</pre>
 */
public final class Init {
    private final Generator generator;
    private final DType dtype;
    private final Device device;

    private Init(Generator generator, DType dtype, Device device) {
        this.generator = generator;
        this.dtype = dtype;
        this.device = device;
    }

    /** float32 CPU initialisation drawing from the global generator, which {@link Generator#manualSeed} reseeds (as torch.manual_seed before building a model). */
    public static Init global() { return new Init(Generator.global(), DType.FLOAT32, Device.CPU); }

    /** float32 CPU initialisation with a generator of its own, started from seed. */
    public static Init seed(long seed) { return new Init(new Generator(seed), DType.FLOAT32, Device.CPU); }

    public Init withDtype(DType d) { return new Init(generator, d, device); }

    public Init on(Device d) { return new Init(generator, dtype, d); }

    public Generator generator() { return generator; }

    public DType dtype() { return dtype; }

    public Device device() { return device; }

    private Tensor place(Tensor t) { return t.to(dtype).to(device); }

    /** U(lo, hi). */
    public Tensor uniform(double lo, double hi, int... shape) {
        return place(Tensor.rand(generator, DType.FLOAT64, shape).mul(hi - lo).add(lo));
    }

    /** N(mean, std^2). */
    public Tensor normal(double mean, double std, int... shape) {
        return place(Tensor.randn(generator, DType.FLOAT64, shape).mul(std).add(mean));
    }

    public Tensor zeros(int... shape) { return Tensor.zeros(dtype, device, shape); }

    public Tensor ones(int... shape) { return Tensor.ones(dtype, device, shape); }

    /** Glorot: U(-a, a), a = gain * sqrt(6 / (fanIn + fanOut)). Shape [out, in, ...] as PyTorch. */
    public Tensor xavierUniform(double gain, int... shape) {
        double a = gain * Math.sqrt(6.0 / (fanIn(shape) + fanOut(shape)));
        return uniform(-a, a, shape);
    }

    public Tensor xavierNormal(double gain, int... shape) {
        return normal(0, gain * Math.sqrt(2.0 / (fanIn(shape) + fanOut(shape))), shape);
    }

    /** He, fan-in mode, leaky-relu gain sqrt(2 / (1 + a^2)): U(-b, b), b = gain * sqrt(3 / fanIn). */
    public Tensor kaimingUniform(double a, int... shape) {
        double bound = Math.sqrt(2.0 / (1 + a * a)) * Math.sqrt(3.0 / fanIn(shape));
        return uniform(-bound, bound, shape);
    }

    public Tensor kaimingNormal(double a, int... shape) {
        return normal(0, Math.sqrt(2.0 / (1 + a * a)) / Math.sqrt(fanIn(shape)), shape);
    }

    /** Fan-in of a weight of shape [out, in, k...] (PyTorch's _calculate_fan_in_and_fan_out). */
    public static int fanIn(int... shape) {
        if (shape.length < 2) throw new IllegalArgumentException("Init.fanIn: needs a weight of rank >= 2, got rank " + shape.length);
        return shape[1] * receptive(shape);
    }

    public static int fanOut(int... shape) {
        if (shape.length < 2) throw new IllegalArgumentException("Init.fanOut: needs a weight of rank >= 2, got rank " + shape.length);
        return shape[0] * receptive(shape);
    }

    private static int receptive(int[] shape) {
        int r = 1;
        for (int i = 2; i < shape.length; i++) r *= shape[i];
        return r;
    }
}

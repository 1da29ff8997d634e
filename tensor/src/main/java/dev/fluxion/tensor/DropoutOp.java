package dev.fluxion.tensor;

/**
 * Dropout as one op, for tensors off the CPU: y = keep ? x / (1 - p) : 0 with keep = u &gt;= p for float32
 * uniforms u on [0, 1) that are a pure function of key and the element's row-major index (the values of
 * {@code Tensor.rand(FLOAT32, device, x.shape())} for that key: the device generator of x's backend, or, on a
 * backend without one, a host {@link Generator} seeded with key). Input x (any shape, float dtype) -&gt; y (x's
 * shape and dtype). State: keep, x's shape, bool (1 byte an element: the dtype the composed path's ge gives and
 * where() takes, so either forward's state feeds either backward; a float mask would cost 2 to 8). Backward:
 * dx = keep ? g / (1 - p) : 0, from the mask alone (no input kept).
 *
 * <pre>{@code
 * Tensor y = DropoutOp.drawn(0.1, generator).apply(x);   // what Functional.dropout runs for a CUDA tensor
 * }</pre>
 *
 * <p>p == 1 keeps nothing (the multiplier is 0, never 1/0); a dropped element is 0 even where x or the gradient
 * is NaN or infinite (as where()). The CUDA backend registers one kernel for the forward (y and the mask in
 * one pass, the same uniforms as its rand) and one for the backward. The CPU path of
 * {@code Functional.dropout} does not use this op: it keeps drawing from the generator's own stream.
 */
public record DropoutOp(double p, long key) implements FusedOp {
    public DropoutOp {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("dropout: p must be in [0, 1], got " + p);
    }

    /** The op for one draw: its key is the next value of g's stream (one value per draw, as rand on a device). */
    public static DropoutOp drawn(double p, Generator g) {
        return new DropoutOp(p, g.nextKey());
    }

    /** The multiplier of kept elements: 1 / (1 - p), or 0 when p == 1 (nothing is kept). */
    public double scale() { return p < 1 ? 1 / (1 - p) : 0; }

    @Override public String name() { return "dropout"; }

    @Override public void check(Tensor[] in) {
        if (in.length != 1) throw new IllegalArgumentException("dropout: takes one input, got " + in.length);
        if (!in[0].dtype().isFloatingPoint())
            throw new IllegalArgumentException("dropout: not defined for " + in[0].dtype() + " tensors; cast to a floating dtype first");
    }

    /**
     * The mask this op applies to a tensor of shape on device: bool, true where kept (u &gt;= p for the keyed float32
     * uniforms). Tensor parallelism slices it to give each rank its block of the unsplit tensor's mask.
     */
    public Tensor keep(Device device, int... shape) {
        return Creation.random(Backend.Draw.UNIFORM, key, DType.FLOAT32, device, shape).ge(p);
    }

    /** The composed path: the keep mask, and where(keep, x * scale, 0). */
    @Override public Result compose(Tensor[] in) {
        Tensor x = in[0];
        Tensor keep = keep(x.device(), x.shape());
        return new Result(Tensor.where(keep, x.mul(scale()), Tensor.zerosLike(x)), keep);
    }

    /** Nothing of the input: the backward reads only the mask (the state). */
    @Override public Save save(boolean[] needsGrad) { return Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        return new Tensor[] {Tensor.where(s.state(0), g.mul(scale()), Tensor.zerosLike(g))};
    }
}

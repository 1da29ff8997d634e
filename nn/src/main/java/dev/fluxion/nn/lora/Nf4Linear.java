package dev.fluxion.nn.lora;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * A frozen Linear whose weight stays 4-bit NF4 in memory (QLoRA's base, bitsandbytes' {@code Linear4bit}):
 * y = x W^T + b.  x (..., in) -> (..., out). Forward and backward dequantize W a chunk of rows at a time,
 * multiply, and drop the chunk, so no dense copy of W ever exists: forward computes y[:, rows] = x W[rows]^T,
 * backward accumulates dx += g[:, rows] W[rows]. W gets no gradient (frozen); the bias, if any, is a frozen
 * parameter. Wrap it with {@link LoraLinear} (or {@link Lora#wrap}) to train an adapter on top.
 */
public final class Nf4Linear extends Module {
    /** Dequantized elements per chunk by default: 256 Ki floats (1 MiB), enough for the GEMMs to run at speed. */
    static final int CHUNK_ELEMENTS = 1 << 18;

    private final Nf4Weight weight;   // (out, in), 4-bit
    private final Parameter bias;     // (out) or null, frozen
    private final int in, out;
    private int chunkElements = CHUNK_ELEMENTS;

    public Nf4Linear(Nf4Weight weight, Tensor bias) {
        int[] s = weight.shape();
        if (s.length != 2) throw new IllegalArgumentException("Nf4Linear: weight must be (out, in), got " + Shape.str(s));
        if (bias != null && (bias.dim() != 1 || bias.size(0) != s[0]))
            throw new IllegalArgumentException("Nf4Linear: bias shape " + Shape.str(bias.shape()) + " does not match out=" + s[0]);
        this.weight = weight;
        this.out = s[0];
        this.in = s[1];
        this.bias = bias == null ? null : register("bias", bias.detach().copy());
        if (this.bias != null) this.bias.requiresGrad(false);
    }

    /** Quantizes a Linear's weight (its bias is copied as is). */
    public static Nf4Linear from(Linear linear, boolean doubleQuant) {
        return new Nf4Linear(Nf4Weight.quantize(linear.weight(), doubleQuant), linear.bias());
    }

    public Nf4Weight weight() { return weight; }

    public Parameter bias() { return bias; }

    public int inFeatures() { return in; }

    public int outFeatures() { return out; }

    @Override protected Tensor compute(Tensor x) {
        if (x.size(-1) != in)
            throw new IllegalArgumentException("Nf4Linear: input features " + x.size(-1) + " (input shape " + Shape.str(x.shape()) + ") do not match in=" + in);
        // the tape keeps nothing: the backward needs only W (held here, 4-bit) and the input's shape
        Tensor y = Autodiff.function("nf4_linear", t -> matmul(t[0]), Save.NOTHING,
                (inputs, output, g) -> new Tensor[] {matmulTransposed(g)}, x);
        return bias == null ? y : y.add(bias);
    }

    /** Sets how many weight elements one chunk dequantizes (at least one row); returns this. */
    Nf4Linear chunkElements(int n) {
        if (n <= 0) throw new IllegalArgumentException("Nf4Linear.chunkElements: must be positive, got " + n);
        chunkElements = n;
        return this;
    }

    int chunkRows() { return Math.max(1, Math.min(out, chunkElements / in)); }

    /** Rows [r0, r0 + rows) of W, dequantized.  -> (rows, in), on device and in dtype of like. */
    Tensor rows(int r0, int rows, Tensor like) {
        float[] buf = new float[rows * in];
        weight.dequantize((long) r0 * in, buf, 0, buf.length);
        return Tensor.of(buf, rows, in).to(like.device()).to(like.dtype());
    }

    /**
     * x W^T, a chunk of W's rows at a time.  x (..., in) -> (..., out). Each chunk runs in its own
     * {@link Scope}: the dequantized rows, and every view the matmul makes of them, are freed before the
     * next chunk is dequantized, so at most one chunk exists at a time.
     */
    Tensor matmul(Tensor x) {
        int[] shape = x.shape();
        Tensor x2 = x.reshape(-1, in);                                  // (N, in)
        Tensor y = Tensor.empty(x.dtype(), x.device(), x2.size(0), out);
        for (int r0 = 0, step = chunkRows(); r0 < out; r0 += step) {
            int rows = Math.min(step, out - r0);
            try (var chunk = Scope.open()) {
                y.narrow(1, r0, rows).copy_(x2.matmul(rows(r0, rows, x).t()));   // (N, rows)
            }
        }
        shape[shape.length - 1] = out;
        return y.reshape(shape);
    }

    /** g W, a chunk of W's rows at a time (the input gradient), one {@link Scope} per chunk.  g (..., out) -> (..., in). */
    Tensor matmulTransposed(Tensor g) {
        int[] shape = g.shape();
        Tensor g2 = g.reshape(-1, out);                                 // (N, out)
        Tensor dx = Tensor.zeros(g.dtype(), g.device(), g2.size(0), in);
        for (int r0 = 0, step = chunkRows(); r0 < out; r0 += step) {
            int rows = Math.min(step, out - r0);
            try (var chunk = Scope.open()) {
                dx.add_(g2.narrow(1, r0, rows).matmul(rows(r0, rows, g)));   // (N, in)
            }
        }
        shape[shape.length - 1] = in;
        return dx.reshape(shape);
    }

    @Override protected String extraRepr() {
        return "in=" + in + ", out=" + out + ", bias=" + (bias != null) + ", nf4" + (weight.isDoubleQuantized() ? ", double-quant" : "");
    }
}

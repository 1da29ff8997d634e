package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Normalizes over the last k dims (normalizedShape), then scales and shifts, as torch.nn.LayerNorm.
 * x: (..., *normalizedShape) -> same shape. weight and bias have shape normalizedShape, ones and zeros at
 * init. Runs as the one-dim layer norm over those dims flattened.
 *
 * <pre>{@code
 * var ln = new LayerNorm(new int[] {8, 8}, 1e-5, true, true, init);   // over the last two dims
 * }</pre>
 */
public final class LayerNorm extends Module {
    private final Parameter weight;   // (normalizedShape) or null
    private final Parameter bias;     // (normalizedShape) or null
    private final int[] normalizedShape;
    private final double eps;

    /** Normalizes over a last dim of size dim with epsilon eps; weight ones, bias (if any) zeros. */
    public LayerNorm(int dim, double eps, boolean bias, Init init) { this(new int[] {dim}, eps, true, bias, init); }

    /** LayerNorm(dim, 1e-5, true, init), PyTorch's defaults. */
    public LayerNorm(int dim, Init init) { this(dim, 1e-5, true, init); }

    /** Normalizes over the last normalizedShape.length dims; elementwiseAffine false means no weight and no bias. */
    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias, Init init) {
        if (normalizedShape.length == 0 || Arrays.stream(normalizedShape).anyMatch(d -> d <= 0) || !(eps > 0))
            throw new IllegalArgumentException("LayerNorm: normalizedShape " + Arrays.toString(normalizedShape) + " must be non-empty and positive, eps " + eps + " > 0");
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        this.weight = elementwiseAffine ? register("weight", init.ones(normalizedShape)) : null;
        this.bias = elementwiseAffine && bias ? register("bias", init.zeros(normalizedShape)) : null;
    }

    @Override protected Tensor compute(Tensor x) {
        int k = normalizedShape.length;
        int[] shape = x.shape();
        if (shape.length < k || !Arrays.equals(Arrays.copyOfRange(shape, shape.length - k, shape.length), normalizedShape))
            throw new IllegalArgumentException("LayerNorm: input " + Shape.str(shape) + " must end with the normalized shape " + Shape.str(normalizedShape));
        if (k == 1) return Functional.layerNorm(x, weight, bias, eps);
        int[] flat = Arrays.copyOf(shape, shape.length - k + 1);
        flat[flat.length - 1] = -1;
        Tensor y = Functional.layerNorm(x.reshape(flat), weight == null ? null : weight.reshape(-1), bias == null ? null : bias.reshape(-1), eps);
        return y.reshape(shape);
    }

    @Override protected String extraRepr() {
        return (normalizedShape.length == 1 ? String.valueOf(normalizedShape[0]) : Arrays.toString(normalizedShape)) + ", eps=" + eps;
    }
}

package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Module;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.DropoutOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

/**
 * Dropout on this rank's block of a tensor split along dim, with the mask the unsplit tensor would get: every rank
 * draws the full mask from the same generator, as the single-process model's dropout does (same draws in the same
 * order), and keeps its block. So the masks, and the generator's state afterwards, do not depend on the
 * tensor-parallel degree. On the CPU that is the generator's own stream (as {@code Functional.dropout} there); on
 * another device it is the keyed device draw of {@link DropoutOp} (one value of the generator per mask, as
 * {@code Functional.dropout} there), made on the device. It costs drawing the full mask on every rank. Used for
 * attention weights split by heads (dim 1 of (B, H, T, T)) and for sequence-parallel regions (dim 1 of (B, T, C)).
 * x: any shape -> same shape.
 */
public final class ShardedDropout extends Module {
    private final double p;
    private final Generator generator;
    private final int dim;
    private final ProcessGroup group;

    /** p in [0, 1); generator shared with the rest of the model (the Init's); x arrives split along dim. */
    public ShardedDropout(double p, Generator generator, int dim, ProcessGroup group) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("ShardedDropout: p must be in [0, 1), got " + p);
        this.p = p;
        this.generator = generator;
        this.dim = dim;
        this.group = group;
    }

    @Override protected Tensor compute(Tensor x) { return isTraining() ? apply(x, p, generator, dim, group) : x; }

    /** Dropout of x, this rank's block along dim of a tensor n times larger there, with that tensor's mask. */
    public static Tensor apply(Tensor x, double p, Generator generator, int dim, ProcessGroup group) {
        if (p == 0) return x;
        Tensor keep = keep(x.shape(), p, generator, dim, group, x.device());
        return Tensor.where(keep, x.mul(1 / (1 - p)), Tensor.zerosLike(x));
    }

    /**
     * This rank's block (along dim, of the given local shape) of the keep mask that Functional.dropout draws for
     * the full tensor on device: bool, true where kept, on device. The full mask is drawn, then sliced.
     */
    static Tensor keep(int[] localShape, double p, Generator generator, int dim, ProcessGroup group, Device device) {
        int[] full = localShape.clone();
        int block = full[dim];
        full[dim] = block * group.size();
        if (device.kind() != Device.Kind.CPU) return DropoutOp.drawn(p, generator).keep(device, full).narrow(dim, group.rank() * block, block);
        return Tensor.rand(generator, DType.FLOAT32, full).narrow(dim, group.rank() * block, block).ge(p);
    }

    @Override protected String extraRepr() { return "p=" + p + ", dim=" + dim; }
}

package dev.fluxion.autodiff;

import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

/**
 * The backward rule of a slice (narrow, split, chunk, select): the input's gradient is zero except the sliced
 * region, which is g. Called on its own it makes that full tensor. The engine does better when the sliced
 * tensor is an intermediate that several slices come from (q, k and v split out of one projection): it calls
 * {@link #addInto} on one gradient buffer for the producer, so each slice writes its region of that one tensor
 * instead of each making a full tensor of zeros that the engine then adds up.
 */
final class SliceRule implements Rule {
    private final int dim, start, end, step;

    SliceRule(int dim, int start, int end, int step) {
        this.dim = dim;
        this.start = start;
        this.end = end;
        this.step = step;
    }

    @Override public Save save(boolean[] needsGrad) { return Save.NOTHING; }

    @Override public Tensor[] backward(Saved s, Tensor g) {
        // in a create-graph pass the in-place copy would cut the graph: record it as an op whose gradient is the slice
        if (g.requiresGrad() && Engine.isGradEnabledNow())
            return new Tensor[] {Autodiff.function("slice_backward", in -> scatter(s, in[0]), Save.NOTHING,
                    (in, out, gg) -> new Tensor[] {region(gg)}, g)};
        return new Tensor[] {scatter(s, g)};
    }

    /** True when the engine may write this rule's gradient into a shared buffer (not while building a graph of the backward). */
    static boolean canAccumulate(Tensor g) { return !(g.requiresGrad() && Engine.isGradEnabledNow()); }

    /** True when this slice and other cannot share an element: both contiguous ranges of one dim that do not meet. */
    boolean disjointFrom(SliceRule other) {
        return dim == other.dim && step == 1 && other.step == 1 && (end <= other.start || other.end <= start);
    }

    /** Adds g into this slice's region of a full-size gradient (fresh: the region still holds zeros, so g is copied). */
    void addInto(Tensor full, Tensor g, boolean fresh) {
        Tensor r = region(full);
        if (fresh) r.copy_(g);
        else r.add_(g);
    }

    private Tensor scatter(Saved s, Tensor g) {
        Tensor gx = Tensor.zeros(s.dtype(0), s.device(0), s.shape(0));
        addInto(gx, g, true);
        return gx;
    }

    private Tensor region(Tensor full) { return full.slice(dim, start, end, step); }
}

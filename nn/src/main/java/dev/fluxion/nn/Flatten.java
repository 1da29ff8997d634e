package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/** Merges dims startDim..endDim (default 1..-1): (N, C, H, W) -> (N, C*H*W). */
public final class Flatten extends Module {
    private final int startDim, endDim;

    /** Flattens every dim but the first (the batch): (N, ...) -&gt; (N, rest). */
    public Flatten() { this(1, -1); }

    /** Flattens dims startDim..endDim (negative counts from the end) into one. */
    public Flatten(int startDim, int endDim) {
        this.startDim = startDim;
        this.endDim = endDim;
    }

    @Override protected Tensor compute(Tensor x) { return x.flatten(startDim, endDim); }

    @Override protected String extraRepr() { return "start=" + startDim + ", end=" + endDim; }
}

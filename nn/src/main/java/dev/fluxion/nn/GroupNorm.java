package dev.fluxion.nn;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Group normalization as torch.nn.GroupNorm: the C channels of x (N, C, *) split into G groups, each
 * (sample, group) normalized over its channels and positions (biased variance), then a per-channel weight
 * (C) ones and bias (C) zeros when affine.
 *
 * <pre>{@code
 * var gn = new GroupNorm(4, 32, init);     // 4 groups of 8 channels, eps 1e-5, affine
 * }</pre>
 */
public final class GroupNorm extends Module {
    private final Parameter weight;   // (C) or null
    private final Parameter bias;     // (C) or null
    private final int groups, channels;
    private final double eps;

    /** PyTorch's defaults: eps 1e-5, affine. */
    public GroupNorm(int numGroups, int numChannels, Init init) { this(numGroups, numChannels, 1e-5, true, init); }

    /** numChannels must be a multiple of numGroups. */
    public GroupNorm(int numGroups, int numChannels, double eps, boolean affine, Init init) {
        if (numGroups <= 0 || numChannels <= 0 || numChannels % numGroups != 0 || !(eps > 0))
            throw new IllegalArgumentException("GroupNorm: numChannels " + numChannels + " must be a positive multiple of numGroups " + numGroups + ", eps " + eps + " > 0");
        this.groups = numGroups;
        this.channels = numChannels;
        this.eps = eps;
        this.weight = affine ? register("weight", init.ones(numChannels)) : null;
        this.bias = affine ? register("bias", init.zeros(numChannels)) : null;
    }

    @Override protected Tensor compute(Tensor x) {
        if (x.dim() < 2 || x.size(1) != channels)
            throw new IllegalArgumentException("GroupNorm: expects (N, " + channels + ", *), got " + Shape.str(x.shape()));
        int n = x.size(0);
        Tensor y = Functional.layerNorm(x.reshape(n, groups, -1), null, null, eps).reshape(n, channels, -1);   // (N, C, M)
        if (weight != null) y = y.mul(weight.reshape(channels, 1)).add(bias.reshape(channels, 1));
        return y.reshape(x.shape());
    }

    @Override protected String extraRepr() { return groups + ", " + channels + ", eps=" + eps + ", affine=" + (weight != null); }
}

package dev.fluxion.nn;

import dev.fluxion.tensor.PadMode;

import java.util.Arrays;

/**
 * The settings of a convolution besides its channels and kernel, with torch.nn.Conv*d's defaults: stride 1,
 * padding 0, dilation 1, groups 1, a bias, zero padding. Each of stride, padding and dilation holds one
 * value for every spatial dim or one per dim (PyTorch's int or tuple); padding may instead be "same"
 * (output as large as the input, stride 1 only; an odd total goes one more at the end, as PyTorch) or
 * "valid" (no padding); padMode says what the padding holds (zeros, reflect, replicate, circular).
 *
 * <pre>{@code
 * var conv = new Conv2d(3, 16, new int[] {3, 5}, ConvOptions.DEFAULT.withStride(2, 1).withPadding(1, 2), init);
 * var same = new Conv1d(8, 8, 4, ConvOptions.DEFAULT.withPadding("same").withDilation(2), init);
 * }</pre>
 */
public record ConvOptions(int[] stride, int[] padding, String paddingMode, int[] dilation, int groups, boolean bias, PadMode padMode) {
    /** torch.nn.Conv2d's defaults. */
    public static final ConvOptions DEFAULT = new ConvOptions(new int[] {1}, new int[] {0}, null, new int[] {1}, 1, true, PadMode.CONSTANT);

    public ConvOptions {
        stride = check("stride", stride, 1);
        dilation = check("dilation", dilation, 1);
        padding = check("padding", padding, 0);
        if (paddingMode != null && !paddingMode.equals("same") && !paddingMode.equals("valid"))
            throw new IllegalArgumentException("ConvOptions: padding must be a size, \"same\" or \"valid\", got \"" + paddingMode + "\"");
        if (groups <= 0) throw new IllegalArgumentException("ConvOptions: groups must be positive, got " + groups);
        if (padMode == null) throw new IllegalArgumentException("ConvOptions: padMode must not be null (PadMode.CONSTANT is PyTorch's 'zeros')");
    }

    private static int[] check(String what, int[] v, int min) {
        if (v == null || v.length == 0 || v.length > 3)
            throw new IllegalArgumentException("ConvOptions: " + what + " needs 1 to 3 values, got " + Arrays.toString(v));
        for (int x : v)
            if (x < min) throw new IllegalArgumentException("ConvOptions: " + what + " must be >= " + min + ", got " + Arrays.toString(v));
        return v.clone();
    }

    /** Stride, one value or one per spatial dim. */
    public ConvOptions withStride(int... s) { return new ConvOptions(s, padding, paddingMode, dilation, groups, bias, padMode); }

    /** Zero padding on both sides, one value or one per spatial dim. */
    public ConvOptions withPadding(int... p) { return new ConvOptions(stride, p, null, dilation, groups, bias, padMode); }

    /** "same" or "valid", as PyTorch's string padding. */
    public ConvOptions withPadding(String mode) { return new ConvOptions(stride, new int[] {0}, mode, dilation, groups, bias, padMode); }

    /** Spacing between kernel elements, one value or one per spatial dim. */
    public ConvOptions withDilation(int... d) { return new ConvOptions(stride, padding, paddingMode, d, groups, bias, padMode); }

    /** Channel groups: input and output channels must both be multiples of it. */
    public ConvOptions withGroups(int g) { return new ConvOptions(stride, padding, paddingMode, dilation, g, bias, padMode); }

    /** Whether the layer has a bias. */
    public ConvOptions withBias(boolean b) { return new ConvOptions(stride, padding, paddingMode, dilation, groups, b, padMode); }

    /**
     * What the padding holds, as PyTorch's padding_mode: {@link PadMode#CONSTANT} zeros ('zeros', the
     * default), {@link PadMode#REFLECT}, {@link PadMode#REPLICATE} or {@link PadMode#CIRCULAR}.
     */
    public ConvOptions withPadMode(PadMode mode) { return new ConvOptions(stride, padding, paddingMode, dilation, groups, bias, mode); }

    @Override public int[] stride() { return stride.clone(); }

    @Override public int[] padding() { return padding.clone(); }

    @Override public int[] dilation() { return dilation.clone(); }

    /** v for dims spatial dims: one value repeated or one per dim. */
    static int[] perDim(String op, String what, int[] v, int dims) {
        if (v.length == dims) return v.clone();
        if (v.length == 1) { int[] r = new int[dims]; Arrays.fill(r, v[0]); return r; }
        throw new IllegalArgumentException(op + ": " + what + " " + Arrays.toString(v) + " needs 1 or " + dims + " values");
    }

    @Override public boolean equals(Object o) {
        return o instanceof ConvOptions c && Arrays.equals(stride, c.stride) && Arrays.equals(padding, c.padding)
                && java.util.Objects.equals(paddingMode, c.paddingMode) && Arrays.equals(dilation, c.dilation) && groups == c.groups && bias == c.bias && padMode == c.padMode;
    }

    @Override public int hashCode() { return Arrays.hashCode(stride) * 31 + Arrays.hashCode(padding) + groups; }

    @Override public String toString() {
        return "stride=" + Arrays.toString(stride) + ", padding=" + (paddingMode != null ? paddingMode : Arrays.toString(padding))
                + ", dilation=" + Arrays.toString(dilation) + ", groups=" + groups + ", bias=" + bias + (padMode != PadMode.CONSTANT ? ", padding_mode=" + padMode : "");
    }
}

package dev.fluxion.parallel.fsdp;

import dev.fluxion.tensor.DType;

/**
 * The dtypes FSDP computes and communicates in, as PyTorch's {@code MixedPrecisionPolicy}. The sharded master
 * parameters and the optimizer state keep the model's own dtype (float32); paramDtype is what the gathered
 * parameters are cast to (and so what forward and backward compute in); reduceDtype is what gradients are
 * reduce-scattered and accumulated in. null means "the master dtype".
 *
 * <pre>{@code
 * var config = FsdpConfig.DEFAULT.withMixedPrecision(MixedPrecision.BF16);   // bf16 compute, float32 reduction
 * }</pre>
 */
public record MixedPrecision(DType paramDtype, DType reduceDtype) {
    /** Everything in the master dtype. */
    public static final MixedPrecision FULL = new MixedPrecision(null, null);
    /** Parameters gathered and computed in bfloat16, gradients reduced in float32 (the default reduction). */
    public static final MixedPrecision BF16 = new MixedPrecision(DType.BFLOAT16, DType.FLOAT32);
    /** Parameters gathered and computed in float16, gradients reduced in float32. */
    public static final MixedPrecision FP16 = new MixedPrecision(DType.FLOAT16, DType.FLOAT32);

    public MixedPrecision {
        if (paramDtype != null && !paramDtype.isFloatingPoint())
            throw new IllegalArgumentException("MixedPrecision: paramDtype must be floating point, got " + paramDtype);
        if (reduceDtype != null && !reduceDtype.isFloatingPoint())
            throw new IllegalArgumentException("MixedPrecision: reduceDtype must be floating point, got " + reduceDtype);
    }

    /** The same policy reducing gradients in dtype (e.g. bf16 to halve the reduce-scatter's bytes). */
    public MixedPrecision withReduceDtype(DType dtype) { return new MixedPrecision(paramDtype, dtype); }

    DType param(DType master) { return paramDtype == null ? master : paramDtype; }

    DType reduce(DType master) { return reduceDtype == null ? master : reduceDtype; }
}

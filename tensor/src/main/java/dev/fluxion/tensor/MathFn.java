package dev.fluxion.tensor;

import java.util.Locale;

/**
 * Elementwise functions beyond the backend's {@link UnaryOp}/{@link BinaryOp} kernels (torch.log1p,
 * torch.erf, torch.atan2, torch.fmod, ...). They run as one loop in double precision on the host, the
 * result rounded once to the input's dtype, on every device (a backend needs no kernel for them).
 * FLOOR, CEIL, ROUND and TRUNC are piecewise constant: their gradient is zero, as in PyTorch.
 */
public enum MathFn {
    LOG1P(1), EXPM1(1), ERF(1), TAN(1), ATAN(1),
    FLOOR(1), CEIL(1),
    /** Half to even (banker's rounding), as torch.round: 0.5 -> 0, 1.5 -> 2, -0.5 -> -0. */
    ROUND(1),
    TRUNC(1),
    /** atan2(a, b): the angle of the point (b, a), in (-pi, pi]. */
    ATAN2(2),
    /** The remainder of a / b with a's sign (C's fmod, torch.fmod); not Python's %. */
    FMOD(2);

    private final int arity;

    MathFn(int arity) { this.arity = arity; }

    /** The number of tensor inputs (1 or 2). */
    public int arity() { return arity; }

    /** True for the step functions (floor, ceil, round, trunc): defined on integer tensors too, zero gradient. */
    public boolean isStep() { return this == FLOOR || this == CEIL || this == ROUND || this == TRUNC; }

    public String opName() { return name().toLowerCase(Locale.ROOT); }

    /** The function of one value (unary kinds). */
    public double apply(double v) {
        return switch (this) {
            case LOG1P -> Math.log1p(v);
            case EXPM1 -> Math.expm1(v);
            case ERF -> Erf.erf(v);
            case TAN -> Math.tan(v);
            case ATAN -> Math.atan(v);
            case FLOOR -> Math.floor(v);
            case CEIL -> Math.ceil(v);
            case ROUND -> Math.rint(v);
            case TRUNC -> v < 0 ? Math.ceil(v) : Math.floor(v);
            case ATAN2, FMOD -> throw new IllegalArgumentException(opName() + " takes two values");
        };
    }

    /** The function of two values (binary kinds). */
    public double apply(double a, double b) {
        return switch (this) {
            case ATAN2 -> Math.atan2(a, b);
            case FMOD -> a % b;                        // Java's % on doubles is C's fmod: exact, sign of a
            default -> throw new IllegalArgumentException(opName() + " takes one value");
        };
    }
}

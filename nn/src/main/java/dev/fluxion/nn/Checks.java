package dev.fluxion.nn;

/** Argument checks of the layer constructors and configs; each message names the owner, the setting and the value. NaN never passes. */
final class Checks {
    private Checks() {}

    /** 0 <= p < 1, as a dropout probability. */
    static double probability(String owner, String name, double p) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1), got " + p);
        return p;
    }

    /** A probability in [0, 1], where 1 is meaningful (a dropout that keeps nothing, as PyTorch allows). */
    static double probabilityOrOne(String owner, String name, double p) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1], got " + p);
        return p;
    }

    /** A finite value > 0, as an epsilon or a scale. */
    static double positive(String owner, String name, double v) {
        if (!(v > 0 && v < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException(owner + ": " + name + " must be positive and finite, got " + v);
        return v;
    }

    /** A finite value >= 0, as a normalization epsilon (PyTorch allows 0). */
    static double nonNegative(String owner, String name, double v) {
        if (!(v >= 0 && v < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException(owner + ": " + name + " must be >= 0 and finite, got " + v);
        return v;
    }

    /** A finite value. */
    static double finite(String owner, String name, double v) {
        if (!Double.isFinite(v)) throw new IllegalArgumentException(owner + ": " + name + " must be finite, got " + v);
        return v;
    }

    /** A size > 0. */
    static int positive(String owner, String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(owner + ": " + name + " must be positive, got " + v);
        return v;
    }
}

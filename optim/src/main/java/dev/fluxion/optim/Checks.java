package dev.fluxion.optim;

/** Argument checks shared by the config records; each message names the owner, the setting and the value. */
final class Checks {
    private Checks() {}

    /** value >= 0 and finite (NaN and infinity fail: an infinite lr or decay is never meant). */
    static void nonNegative(String owner, String name, double value) {
        if (!(value >= 0)) throw new IllegalArgumentException(owner + ": " + name + " must be >= 0, got " + value);
        finite(owner, name, value);
    }

    /** 0 <= value < 1 (NaN fails). */
    static void inUnitInterval(String owner, String name, double value) {
        if (!(value >= 0 && value < 1)) throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1), got " + value);
    }

    /** 0 <= value <= 1 (NaN fails). */
    static void inClosedUnitInterval(String owner, String name, double value) {
        if (!(value >= 0 && value <= 1)) throw new IllegalArgumentException(owner + ": " + name + " must be in [0, 1], got " + value);
    }

    static void finite(String owner, String name, double value) {
        if (!Double.isFinite(value)) throw new IllegalArgumentException(owner + ": " + name + " must be finite, got " + value);
    }
}

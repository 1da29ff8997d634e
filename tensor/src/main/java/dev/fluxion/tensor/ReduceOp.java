package dev.fluxion.tensor;

/** Reductions over one or several dims. ARGMAX and ARGMIN reduce one dim and yield int64 indices. */
public enum ReduceOp {
    SUM, MAX, MIN, ARGMAX, ARGMIN;

    public String opName() { return name().toLowerCase(java.util.Locale.ROOT); }
}

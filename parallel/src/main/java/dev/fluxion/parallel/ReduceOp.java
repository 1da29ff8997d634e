package dev.fluxion.parallel;

/**
 * How {@link ProcessGroup#allReduce} and {@link ProcessGroup#reduceScatter} combine the ranks' values,
 * element by element. AVG is the sum divided by the group size (integer dtypes truncate toward zero).
 */
public enum ReduceOp {
    SUM, AVG, MAX, MIN;

    /** The lower-case name used in messages ("sum", "avg", ...). */
    @Override public String toString() { return name().toLowerCase(java.util.Locale.ROOT); }
}

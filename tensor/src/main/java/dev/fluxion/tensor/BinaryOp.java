package dev.fluxion.tensor;

/** Elementwise functions of two tensors of one shape (callers broadcast first). Comparisons yield bool. */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM, EQ, NE, LT, LE, GT, GE;

    public boolean isComparison() { return ordinal() >= EQ.ordinal(); }

    public String opName() { return name().toLowerCase(java.util.Locale.ROOT); }
}

package dev.fluxion.tensor;

/**
 * Element types. 16-bit floats are stored as 16 bits and computed in float32 on the CPU; float64 and the
 * 32/64-bit integers are computed in float64 (exact for int32; int64 beyond 2^53 loses precision in
 * arithmetic, but copies, casts to int64 and indexing stay exact).
 */
public enum DType {
    FLOAT32("float32", 4, true),
    FLOAT64("float64", 8, true),
    FLOAT16("float16", 2, true),
    BFLOAT16("bfloat16", 2, true),
    INT64("int64", 8, false),
    INT32("int32", 4, false),
    INT8("int8", 1, false),
    UINT8("uint8", 1, false),
    BOOL("bool", 1, false);

    private final String displayName;
    private final int byteSize;
    private final boolean floatingPoint;

    DType(String displayName, int byteSize, boolean floatingPoint) {
        this.displayName = displayName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    public int byteSize() { return byteSize; }

    public boolean isFloatingPoint() { return floatingPoint; }

    /** True when CPU kernels compute this dtype in double lanes rather than float lanes. */
    public boolean computesInDouble() { return this == FLOAT64 || this == INT64 || this == INT32; }

    /** Rounds or range-checks a value the way a store into this dtype does (used for scalars). */
    public boolean canHold(double v) {
        return switch (this) {
            case FLOAT32, FLOAT64, FLOAT16, BFLOAT16 -> true;
            case INT64 -> v == Math.rint(v);
            case INT32 -> v == Math.rint(v) && v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
            case INT8 -> v == Math.rint(v) && v >= -128 && v <= 127;
            case UINT8 -> v == Math.rint(v) && v >= 0 && v <= 255;
            case BOOL -> v == 0 || v == 1;
        };
    }

    @Override public String toString() { return displayName; }
}

package dev.fluxion.cuda;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.UnaryOp;

/**
 * The integer codes and name suffixes the kernels use for dtypes and ops; each switch mirrors an enum in
 * native/src/main/cuda (FxType in common.cuh, UnaryCode/BinaryCode in elementwise.cu, ReduceCode in
 * reduce.cu). Exhaustive switches make a new op a compile error here; CodesTest checks the .cu side.
 */
final class Codes {
    private Codes() {}

    /** FxType. */
    static int of(DType t) {
        return switch (t) {
            case FLOAT32 -> 0;
            case FLOAT64 -> 1;
            case FLOAT16 -> 2;
            case BFLOAT16 -> 3;
            case INT64 -> 4;
            case INT32 -> 5;
            case INT8 -> 6;
            case UINT8 -> 7;
            case BOOL -> 8;
        };
    }

    /** The suffix of per-dtype kernel names: fx_unary_f32, fx_reduce_rows_bf16, ... */
    static String suffix(DType t) {
        return switch (t) {
            case FLOAT32 -> "f32";
            case FLOAT64 -> "f64";
            case FLOAT16 -> "f16";
            case BFLOAT16 -> "bf16";
            case INT64 -> "i64";
            case INT32 -> "i32";
            case INT8 -> "i8";
            case UINT8 -> "u8";
            case BOOL -> "bool";
        };
    }

    static int of(UnaryOp op) {
        return switch (op) {
            case NEG -> 0;
            case EXP -> 1;
            case LOG -> 2;
            case SQRT -> 3;
            case RSQRT -> 4;
            case ABS -> 5;
            case SIGN -> 6;
            case SIN -> 7;
            case COS -> 8;
            case TANH -> 9;
            case SIGMOID -> 10;
            case RELU -> 11;
            case GELU -> 12;
            case GELU_TANH -> 13;
            case SILU -> 14;
            case GELU_GRAD -> 15;
            case GELU_TANH_GRAD -> 16;
            case SILU_GRAD -> 17;
        };
    }

    static int of(BinaryOp op) {
        return switch (op) {
            case ADD -> 0;
            case SUB -> 1;
            case MUL -> 2;
            case DIV -> 3;
            case POW -> 4;
            case MAXIMUM -> 5;
            case MINIMUM -> 6;
            case EQ -> 7;
            case NE -> 8;
            case LT -> 9;
            case LE -> 10;
            case GT -> 11;
            case GE -> 12;
        };
    }

    static int of(ReduceOp op) {
        return switch (op) {
            case SUM -> 0;
            case MAX -> 1;
            case MIN -> 2;
            case ARGMAX -> 3;
            case ARGMIN -> 4;
        };
    }

    /** The dtype reductions and norms accumulate in: float32 for 16/32-bit floats, float64, or int64. */
    static DType accumulator(DType t) {
        return switch (t) {
            case FLOAT32, FLOAT16, BFLOAT16 -> DType.FLOAT32;
            case FLOAT64 -> DType.FLOAT64;
            default -> DType.INT64;
        };
    }
}

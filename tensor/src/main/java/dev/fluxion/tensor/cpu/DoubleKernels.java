package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;

import static dev.fluxion.tensor.cpu.SpecialFunctions.INV_SQRT_2PI;
import static dev.fluxion.tensor.cpu.SpecialFunctions.SQRT_2_OVER_PI;

/** Elementwise kernels over double lanes (float64, int64, int32): the precise path gradient checks run on. */
final class DoubleKernels {
    private DoubleKernels() {}

    static void unary(UnaryOp op, double[] x, double[] y, int n) {
        for (int i = 0; i < n; i++) y[i] = scalar(op, x[i]);
    }

    static double scalar(UnaryOp op, double v) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> Math.exp(v);
            case LOG -> Math.log(v);
            case SQRT -> Math.sqrt(v);
            case RSQRT -> 1 / Math.sqrt(v);
            case ABS -> Math.abs(v);
            case SIGN -> Math.signum(v);
            case SIN -> Math.sin(v);
            case COS -> Math.cos(v);
            case TANH -> Math.tanh(v);
            case SIGMOID -> 1 / (1 + Math.exp(-v));
            case RELU -> v > 0 ? v : (v == v ? 0 : v);
            case GELU -> v * SpecialFunctions.normalCdf(v);
            case GELU_TANH -> 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
            case SILU -> v / (1 + Math.exp(-v));
            case GELU_GRAD -> SpecialFunctions.normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
            case GELU_TANH_GRAD -> {
                double u = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
                double t = Math.tanh(u);
                yield 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
            }
            case SILU_GRAD -> {
                double s = 1 / (1 + Math.exp(-v));
                yield s * (1 + v * (1 - s));
            }
        };
    }

    static void binary(BinaryOp op, double[] a, double[] b, double[] y, int n) {
        switch (op) {
            case ADD -> { for (int i = 0; i < n; i++) y[i] = a[i] + b[i]; }
            case SUB -> { for (int i = 0; i < n; i++) y[i] = a[i] - b[i]; }
            case MUL -> { for (int i = 0; i < n; i++) y[i] = a[i] * b[i]; }
            default -> { for (int i = 0; i < n; i++) y[i] = scalar(op, a[i], b[i]); }
        }
    }

    static double scalar(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAXIMUM -> a != a || b != b ? Double.NaN : Math.max(a, b);
            case MINIMUM -> a != a || b != b ? Double.NaN : Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
        };
    }
}

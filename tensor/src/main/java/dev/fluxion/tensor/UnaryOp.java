package dev.fluxion.tensor;

/** Elementwise functions of one tensor. The *_GRAD kinds are the fused derivatives backward rules use. */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, SIGN, SIN, COS, TANH, SIGMOID, RELU,
    /** x * Phi(x), Phi the standard normal CDF (PyTorch's approximate='none'). */
    GELU,
    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (PyTorch's approximate='tanh'). */
    GELU_TANH,
    SILU,
    /** d/dx GELU(x) = Phi(x) + x phi(x). */
    GELU_GRAD,
    /** d/dx GELU_TANH(x). */
    GELU_TANH_GRAD,
    /** d/dx SILU(x) = s (1 + x (1 - s)), s = sigmoid(x). */
    SILU_GRAD;

    public String opName() { return name().toLowerCase(java.util.Locale.ROOT); }
}

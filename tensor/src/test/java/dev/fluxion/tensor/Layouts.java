package dev.fluxion.tensor;

import java.util.List;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Copies of a tensor with the same logical values in other memory layouts, so that one expected result
 * checks the strided code paths too: transposed storage, a stepped slice at a non-zero offset.
 */
final class Layouts {
    private Layouts() {}

    /** Same values, last two dims stored transposed (column-major); rank < 2 falls back to {@link #stepped}. */
    static Tensor transposed(Tensor x) {
        if (x.dim() < 2) return stepped(x);
        Tensor t = x.transpose(-1, -2).contiguous().transpose(-1, -2);
        return t;
    }

    /** Same values, every other element of a larger buffer along the last dim, starting at offset 1. */
    static Tensor stepped(Tensor x) {
        if (x.dim() == 0) return x;
        int[] big = x.shape();
        int n = big[big.length - 1];
        big[big.length - 1] = 2 * n + 1;
        Tensor base = Tensor.zeros(x.dtype(), big);
        Tensor v = base.slice(-1, 1, 2 * n + 1, 2);
        v.copy_(x);
        if (n > 1) assertFalse(v.isContiguous(), "stepped layout should not be contiguous");
        return v;
    }

    /** The layouts a test runs each op on besides the contiguous one. */
    static List<UnaryOperator<Tensor>> variants() {
        return List.of(Layouts::transposed, Layouts::stepped);
    }
}

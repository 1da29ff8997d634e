package dev.fluxion.cuda.amp;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@SuppressWarnings("try")   // scopes opened only to close what the block creates
class AutocastTest {
    @Test void castsByPolicyInsideAScopeOnly() {
        Tensor x = Tensor.ones(2, 2);
        assertSame(x, Autocast.cast(Autocast.Policy.LOWER, x));
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            assertEquals(DType.BFLOAT16, Autocast.current().orElseThrow());
            Tensor low = Autocast.cast(Autocast.Policy.LOWER, x);
            assertEquals(DType.BFLOAT16, low.dtype());
            assertEquals(DType.FLOAT32, Autocast.cast(Autocast.Policy.FLOAT32, low).dtype());
            assertSame(x, Autocast.cast(Autocast.Policy.KEEP, x));
            Tensor ids = Tensor.arange(3);
            assertSame(ids, Autocast.cast(Autocast.Policy.LOWER, ids));
            try (var inner = Autocast.open(DType.FLOAT16)) {
                assertEquals(DType.FLOAT16, Autocast.cast(Autocast.Policy.LOWER, x).dtype());
            }
            assertEquals(DType.BFLOAT16, Autocast.current().orElseThrow());
        }
        assertTrue(Autocast.current().isEmpty());
    }

    @Test void misuseFailsLoudly() {
        assertThrows(IllegalArgumentException.class, () -> Autocast.open(DType.FLOAT64));
        Autocast outer = Autocast.open(DType.FLOAT16);
        Autocast inner = Autocast.open(DType.FLOAT16);
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
    }
}

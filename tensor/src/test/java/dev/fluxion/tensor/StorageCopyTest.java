package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Storage#copyElementsFrom}: FSDP's refill of gathered parameters. */
class StorageCopyTest {

    @Test
    void copiesTheRangeWithoutBumpingTheVersion() {
        try (Tensor src = Tensor.arange(0, 10, 1, DType.FLOAT32); Tensor dst = Tensor.zeros(10)) {
            int before = dst.storage().version();
            dst.storage().copyElementsFrom(src.storage(), 2, 5, 3);
            assertEquals(before, dst.storage().version());
            assertArrayEquals(new float[] {0, 0, 0, 0, 0, 2, 3, 4, 0, 0}, dst.toFloatArray());
        }
    }

    @Test
    void refusesAMismatchedDtypeOrARangeOutside() {
        try (Tensor src = Tensor.arange(0, 10, 1, DType.FLOAT32); Tensor dst = Tensor.zeros(10); Tensor ints = Tensor.zeros(DType.INT32, Device.CPU, 10)) {
            var dtype = assertThrows(IllegalArgumentException.class, () -> ints.storage().copyElementsFrom(src.storage(), 0, 0, 1));
            assertTrue(dtype.getMessage().contains("int32") || dtype.getMessage().contains("INT32"), dtype.getMessage());
            var range = assertThrows(IndexOutOfBoundsException.class, () -> dst.storage().copyElementsFrom(src.storage(), 8, 0, 3));
            assertTrue(range.getMessage().contains("do not fit"), range.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> dst.storage().copyElementsFrom(src.storage(), 0, 0, -1));
        }
    }
}

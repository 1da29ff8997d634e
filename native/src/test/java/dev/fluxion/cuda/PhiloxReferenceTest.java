package dev.fluxion.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Java Philox 4x32-10 that {@link CudaRandomTest} checks the GPU's values against, on Random123's known answers (runs everywhere). */
class PhiloxReferenceTest {
    @Test void random123KnownAnswers() {
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, CudaRandomTest.philox(new int[4], 0, 0));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, CudaRandomTest.philox(new int[] {-1, -1, -1, -1}, -1, -1));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                CudaRandomTest.philox(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, 0xa4093822, 0x299f31d0));
    }

    @Test void unsignedMultiplyHighIsTheTop64BitsOfTheProduct() {      // CudaDropoutTest's randint reference (fx_randint's __umul64hi)
        long[] v = {0, 1, 10, -1, Long.MIN_VALUE, Long.MAX_VALUE, 0x9E3779B97F4A7C15L, 1L << 40};
        java.math.BigInteger two64 = java.math.BigInteger.ONE.shiftLeft(64);
        for (long a : v)
            for (long b : v) {
                java.math.BigInteger ua = new java.math.BigInteger(Long.toUnsignedString(a)), ub = new java.math.BigInteger(Long.toUnsignedString(b));
                assertEquals(ua.multiply(ub).divide(two64).longValue(), CudaDropoutTest.unsignedMultiplyHigh(a, b), a + " * " + b);
            }
    }

    @Test void groupAndKeyLayoutOfRandomCu() {       // counter {group low, group high, 0, 0}, key {low word, high word}
        assertArrayEquals(CudaRandomTest.philox(new int[] {7, 5, 0, 0}, 3, 11), CudaRandomTest.philox(0x0000000500000007L, 0x0000000B00000003L));
    }
}

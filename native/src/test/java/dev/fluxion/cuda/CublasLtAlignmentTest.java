package dev.fluxion.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The alignment CublasLt promises cuBLASLt for a matrix address (no GPU needed; the GPU test runs offset views). */
class CublasLtAlignmentTest {
    @Test void largestPowerOfTwoDividingTheAddressUpTo256() {
        assertEquals(256, CublasLt.alignment(0x7f00_0000_1000L), "a fresh pool block");
        assertEquals(256, CublasLt.alignment(0x7f00_0000_1200L));
        assertEquals(128, CublasLt.alignment(0x7f00_0000_1080L));
        assertEquals(2, CublasLt.alignment(0x7f00_0000_1002L), "a bfloat16 view at an odd element offset");
        assertEquals(4, CublasLt.alignment(0x7f00_0000_100cL), "a float32 view at offset 3");
        assertEquals(1, CublasLt.alignment(0x7f00_0000_1001L));
        assertEquals(true, CublasLt.alignment(0x7f00_0000_1004L) < CublasLt.BIAS_ALIGNMENT, "such a bias is copied to an aligned block");
    }
}

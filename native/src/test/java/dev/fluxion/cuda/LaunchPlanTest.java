package dev.fluxion.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host-side launch decisions, which need no GPU. */
class LaunchPlanTest {
    @Test void fullReductionSplitsAcrossBlocks() {
        CudaReduce.Plan p = CudaReduce.Plan.of(1, 100_000_000, true, 132);
        assertFalse(p.columns());
        assertTrue(p.splits() > 100, "one long row must be split, got " + p);
        assertEquals(256, p.threads());
    }

    @Test void manyShortRowsUseOneBlockEach() {
        CudaReduce.Plan p = CudaReduce.Plan.of(1_000_000, 64, true, 132);
        assertEquals(1, p.splits());
        assertEquals(64, p.threads());
    }

    @Test void reducingTheLeadingDimReadsColumns() {
        CudaReduce.Plan p = CudaReduce.Plan.of(4096, 8192, false, 132);   // sum over batch of [8192, 4096]
        assertTrue(p.columns());
        assertTrue(p.splits() >= 1);
    }

    @Test void rowThreadsGrowWithRowLength() {
        assertEquals(32, CudaReduce.rowThreads(10));
        assertEquals(1024, CudaReduce.rowThreads(50257));
    }

    @Test void blasLayouts() {
        assertEquals(new CudaMatmul.Layout(false, 5), CudaMatmul.Layout.of(3, 5, 5, 1));   // row-major
        assertEquals(new CudaMatmul.Layout(true, 3), CudaMatmul.Layout.of(3, 5, 1, 3));   // transposed
        assertNotNull(CudaMatmul.Layout.of(1, 5, 0, 1));                                  // a broadcast row
        assertNull(CudaMatmul.Layout.of(3, 5, 10, 2));                                    // gapped both ways: copy
    }
}

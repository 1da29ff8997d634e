package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A rank that dies, stalls or calls the wrong collective makes the others fail within the timeout, naming it. */
class FailureTest {
    static final Duration TIMEOUT = Duration.ofSeconds(3);

    @Test void aRankThatDropsItsConnectionsIsNamedByEveryOther() throws Exception {
        var out = LocalCluster.runAll(4, TIMEOUT, pg -> {
            Tensor t = Tensor.ones(DType.FLOAT32, 200_000);
            pg.allReduce(t, ReduceOp.SUM).waitFor();
            if (pg.rank() == 2) { pg.abort(); return null; }   // as if the process died: sockets close, no report
            pg.allReduce(t, ReduceOp.SUM).waitFor();
            return null;
        });
        for (int r : new int[] {0, 1, 3}) {
            Throwable e = out.get(r).error();
            assertInstanceOf(DistributedException.class, e, "rank " + r);
            if (Boolean.getBoolean("fluxion.test.verbose")) System.err.println(e.getMessage());
            assertTrue(e.getMessage().contains("rank 2 has died"), "rank " + r + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("allReduce #1"), e.getMessage());
            assertTrue(out.get(r).nanos() < TIMEOUT.toNanos() + 1_000_000_000L, "rank " + r + " took " + out.get(r).nanos() / 1e9 + " s");
        }
    }

    @Test void aStalledRankIsNamedWithinTheTimeout() throws Exception {
        var out = LocalCluster.runAll(3, TIMEOUT, pg -> {
            Tensor t = Tensor.ones(DType.FLOAT32, 1000);
            if (pg.rank() == 1) { Thread.sleep(TIMEOUT.toMillis() + 2500); return null; }   // never joins this allReduce in time
            pg.allReduce(t, ReduceOp.SUM).waitFor();
            return null;
        });
        for (int r : new int[] {0, 2}) {
            Throwable e = out.get(r).error();
            assertNotNull(e, "rank " + r + " should have failed");
            if (Boolean.getBoolean("fluxion.test.verbose")) System.err.println(e.getMessage());
            assertTrue(e.getMessage().contains("rank 1 did not reach or finish this operation"), "rank " + r + ": " + e.getMessage());
            assertTrue(out.get(r).nanos() < TIMEOUT.toNanos() + 1_500_000_000L, "rank " + r + " took " + out.get(r).nanos() / 1e9 + " s");
        }
    }

    @Test void differentCollectivesOnDifferentRanksAreReportedAsSuch() throws Exception {
        var out = LocalCluster.runAll(2, TIMEOUT, pg -> {
            Tensor t = Tensor.ones(DType.FLOAT32, 10);
            if (pg.rank() == 0) pg.allReduce(t, ReduceOp.SUM).waitFor();
            else pg.broadcast(t, 0).waitFor();
            return null;
        });
        Throwable e = out.get(1).error() != null ? out.get(1).error() : out.get(0).error();
        assertNotNull(e);
        assertTrue(e.getMessage().contains("called different operations") || e.getMessage().contains("same operations in the same order"), e.getMessage());
    }

    @Test void aBrokenGroupFailsLaterOperationsAtOnce() throws Exception {
        var out = LocalCluster.runAll(2, TIMEOUT, pg -> {
            if (pg.rank() == 1) { pg.abort(); return null; }
            Tensor t = Tensor.ones(DType.FLOAT32, 10);
            assertThrows(DistributedException.class, () -> pg.allReduce(t, ReduceOp.SUM).waitFor());
            long t0 = System.nanoTime();
            var e = assertThrows(DistributedException.class, () -> pg.barrier().waitFor());
            assertTrue(System.nanoTime() - t0 < 500_000_000L);
            assertTrue(e.getMessage().contains("broke earlier"), e.getMessage());
            return null;
        });
        assertNull(out.get(0).error(), String.valueOf(out.get(0).error()));
    }

    @Test void badArgumentsFailOnTheCallersThreadWithTheValues() throws Exception {
        LocalCluster.run(2, TIMEOUT, pg -> {
            var e = assertThrows(IllegalArgumentException.class, () -> pg.allGather(Tensor.zeros(3), Tensor.zeros(2)));
            assertTrue(e.getMessage().contains("size * input.numel() = 2 * 2"), e.getMessage());
            var nc = assertThrows(IllegalArgumentException.class, () -> pg.allReduce(Tensor.zeros(3, 4).t(), ReduceOp.SUM));
            assertTrue(nc.getMessage().contains("not contiguous"), nc.getMessage());
            var b = assertThrows(IllegalArgumentException.class, () -> pg.allReduce(Tensor.zeros(DType.BOOL, 3), ReduceOp.SUM));
            assertTrue(b.getMessage().contains("bool"), b.getMessage());
            assertThrows(IllegalArgumentException.class, () -> pg.send(Tensor.zeros(3), pg.rank()));
            assertThrows(IllegalArgumentException.class, () -> pg.broadcast(Tensor.zeros(3), 5));
            return List.of();
        });
    }
}

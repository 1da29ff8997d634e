package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** forRange, with the calling thread taking pieces beside the workers: every index once, failures surface after all pieces. */
class ParallelTest {
    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {1, Parallel.GRAIN, Parallel.GRAIN + 1, 5 * Parallel.GRAIN + 3, 100 * Parallel.GRAIN + 7}) {
            AtomicIntegerArray seen = new AtomicIntegerArray(n);
            Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> { for (long i = lo; i < hi; i++) seen.incrementAndGet((int) i); });
            for (int i = 0; i < n; i++) assertEquals(1, seen.get(i), "n = " + n + ", index " + i);
        }
    }

    @Test
    void aFailingPieceIsRethrownAfterTheOthersFinish() {
        int n = 8 * Parallel.GRAIN;
        AtomicInteger done = new AtomicInteger();
        var e = assertThrows(IllegalArgumentException.class, () -> Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> {
            if (lo == 0) throw new IllegalArgumentException("piece 0");
            done.addAndGet((int) (hi - lo));
        }));
        assertEquals("piece 0", e.getMessage());
        if (Parallel.threads() > 1) {
            int firstPiece = n - done.get();
            assertEquals(true, firstPiece > 0 && firstPiece < n, "the other pieces ran before forRange returned: " + done.get());
        }
    }

    /** Ranks as threads share one pool: every caller's job completes with each index once, however they interleave. */
    @Test
    void concurrentCallersEachSeeEveryIndexOnce() throws Exception {
        int callers = 4, n = 16 * Parallel.GRAIN + 5;
        ExecutorService ex = Executors.newFixedThreadPool(callers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < callers; c++)
                done.add(ex.submit(() -> {
                    for (int round = 0; round < 40; round++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(n);
                        Parallel.forRange(n, Parallel.GRAIN, (lo, hi) -> { for (long i = lo; i < hi; i++) seen.incrementAndGet((int) i); });
                        for (int i = 0; i < n; i++) assertEquals(1, seen.get(i), "round " + round + ", index " + i);
                    }
                    return null;
                }));
            for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        } finally {
            ex.shutdownNow();
        }
    }

    /** A forRange inside a piece (a kernel calling another) runs and covers its range; it does not wait on the pool it is part of. */
    @Test
    void nestedCallsComplete() {
        int outer = 4 * Parallel.GRAIN, inner = 3 * Parallel.GRAIN;
        AtomicInteger total = new AtomicInteger(), outerPieces = new AtomicInteger();
        Parallel.forRange(outer, Parallel.GRAIN, (lo, hi) -> {
            outerPieces.incrementAndGet();
            Parallel.forRange(inner, Parallel.GRAIN, (a, b) -> total.addAndGet((int) (b - a)));
        });
        assertEquals(outerPieces.get() * inner, total.get());
    }
}

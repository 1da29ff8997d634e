package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** forRange, with the calling thread running the first piece: every index once, failures surface after all pieces. */
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
            if (lo == 0) throw new IllegalArgumentException("piece 0");   // the calling thread's piece
            done.addAndGet((int) (hi - lo));
        }));
        assertEquals("piece 0", e.getMessage());
        if (Parallel.threads() > 1) {
            int firstPiece = n - done.get();
            assertEquals(true, firstPiece > 0 && firstPiece < n, "the other pieces ran before forRange returned: " + done.get());
        }
    }
}

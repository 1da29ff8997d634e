package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.DistributedException;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The NCCL communicator's guard and instance keys, without NCCL: the abort (which frees the communicator) waits
 * for a call in progress on another thread, runs once, and no call runs after it; each re-created group gets
 * fresh store keys for its unique id.
 */
class CommGuardTest {
    @Test void abortWaitsForTheCallInProgressAndRunsOnce() throws Exception {
        AtomicInteger aborts = new AtomicInteger(), destroys = new AtomicInteger(), inside = new AtomicInteger();
        CommGuard g = new CommGuard(() -> {
            assertEquals(0, inside.get(), "the communicator is freed while a thread is inside an NCCL call");
            aborts.incrementAndGet();
        }, destroys::incrementAndGet);
        CountDownLatch entered = new CountDownLatch(1), leave = new CountDownLatch(1);
        Thread caller = new Thread(() -> g.call("allReduce", () -> {
            inside.incrementAndGet();
            entered.countDown();
            try { leave.await(); } catch (InterruptedException e) { throw new RuntimeException(e); }
            inside.decrementAndGet();
            return 0;
        }));
        caller.start();
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        Thread watchdog = new Thread(g::abort);                        // what the watchdog does on a timeout
        watchdog.start();
        watchdog.join(200);
        assertTrue(watchdog.isAlive(), "abort must wait while the call is in progress");
        assertTrue(g.isDead(), "no new call may start once the abort was requested");
        assertEquals(0, aborts.get());
        leave.countDown();
        watchdog.join(10_000);
        caller.join(10_000);
        assertFalse(watchdog.isAlive());
        assertEquals(1, aborts.get(), "aborted once the call returned");
        assertTrue(g.isReleased());
        var e = assertThrows(DistributedException.class, () -> g.call("broadcast", () -> 0));
        assertTrue(e.getMessage().contains("aborted"), e.getMessage());
        g.abort();
        g.destroy();
        assertEquals(1, aborts.get(), "abort is idempotent");
        assertEquals(0, destroys.get(), "an aborted communicator is never destroyed as well");
    }

    @Test void cleanCloseDestroysOnce() {
        AtomicInteger aborts = new AtomicInteger(), destroys = new AtomicInteger();
        CommGuard g = new CommGuard(aborts::incrementAndGet, destroys::incrementAndGet);
        assertEquals(7, g.call("ncclCommFinalize", () -> 7));
        g.destroy();
        g.abort();
        assertEquals(1, destroys.get());
        assertEquals(0, aborts.get(), "no abort of a destroyed communicator");
    }

    @Test void eachGroupInstanceHasItsOwnKeys() {
        Object rank0 = new Object(), rank1 = new Object();
        String a0 = GroupGenerations.next(rank0, "job/nccl-world"), b0 = GroupGenerations.next(rank1, "job/nccl-world");
        assertEquals(a0, b0, "the ranks of one instance agree on its keys");
        String a1 = GroupGenerations.next(rank0, "job/nccl-world");
        assertNotEquals(a0, a1, "a re-created group must not read the earlier instance's unique id");
        assertEquals(a1, GroupGenerations.next(rank1, "job/nccl-world"));
        assertEquals("other@0", GroupGenerations.next(rank0, "other"));
    }
}

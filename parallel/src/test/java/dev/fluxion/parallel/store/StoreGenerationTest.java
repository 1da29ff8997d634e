package dev.fluxion.parallel.store;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.fluxion.parallel.store.TcpStoreTest.TOKEN;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A restarted job's ranks (generation = restart count) never join the previous run's store, which may still be
 * up for a moment on another node: they wait for the new one. Seen on a real network: node 1's restarted ranks
 * reached node 0's old store, which then died, and the job could not resume.
 */
class StoreGenerationTest {

    @Test void aRestartedRankWaitsForTheStoreOfItsGeneration() throws Exception {
        var old = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, 0);
        int port = old.port();
        var client = CompletableFuture.supplyAsync(() -> TcpStore.connect("127.0.0.1", port, TOKEN, Duration.ofSeconds(10), "rank 2", 1));
        Thread.sleep(400);
        assertFalse(client.isDone(), "a client of restart 1 must not join the store of restart 0");
        old.close();
        try (var fresh = startWhenFree(port, 1); var c = client.get(10, TimeUnit.SECONDS)) {
            c.set("addr/2", "here");
            try (var other = TcpStore.connect("127.0.0.1", port, TOKEN, Duration.ofSeconds(5), "rank 0", 1)) {
                assertEquals("here", other.getString("addr/2"));
            }
        }
    }

    /** The old listener's port is released once its acceptor thread has left accept(), a moment after close. */
    static TcpStoreServer startWhenFree(int port, int generation) throws Exception {
        for (int attempt = 0; ; attempt++)
            try {
                return TcpStoreServer.start(new InetSocketAddress("127.0.0.1", port), TOKEN, generation);
            } catch (java.io.IOException e) {
                if (attempt == 50) throw e;
                Thread.sleep(50);
            }
    }

    @Test void aStaleStoreUntilTheTimeoutFailsNamingBothGenerations() throws Exception {
        try (var old = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, 0)) {
            var e = assertThrows(StoreException.class, () -> TcpStore.connect("127.0.0.1", old.port(), TOKEN, Duration.ofMillis(600), "rank 3", 2));
            assertTrue(e.getMessage().contains("restart 0") && e.getMessage().contains("restart 2"), e.getMessage());
        }
    }

    @Test void aRankLeftOverFromAnEarlierRunIsRefusedAtOnce() throws Exception {
        try (var current = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN, 3)) {
            long start = System.nanoTime();
            var e = assertThrows(StoreException.class, () -> TcpStore.connect("127.0.0.1", current.port(), TOKEN, Duration.ofSeconds(20), "rank 1", 2));
            assertTrue(e.getMessage().contains("left over"), e.getMessage());
            assertTrue(System.nanoTime() - start < 10_000_000_000L, "refused without waiting for the timeout");
        }
    }
}

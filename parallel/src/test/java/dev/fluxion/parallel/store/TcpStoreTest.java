package dev.fluxion.parallel.store;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class TcpStoreTest {
    static final byte[] TOKEN = "s3cret".getBytes(StandardCharsets.UTF_8);
    static final Duration T = Duration.ofSeconds(5);

    static TcpStore client(TcpStoreServer s) { return TcpStore.connect("127.0.0.1", s.port(), TOKEN, T, "test client"); }

    @Test void setGetAddCompareAndSetDelete() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN); var a = client(server); var b = client(server)) {
            a.set("k", "v1");
            assertEquals("v1", b.getString("k"));
            assertTrue(b.tryGet("missing").isEmpty());
            assertEquals(3, a.add("n", 3));
            assertEquals(1, b.add("n", -2));
            assertEquals("1", b.getString("n"));
            assertNull(a.compareAndSet("c", "x".getBytes(), "y".getBytes()), "absent key, expected value given: no change");
            assertArrayEquals("first".getBytes(), a.compareAndSet("c", null, "first".getBytes()), "absent key, expected absent: set");
            assertArrayEquals("first".getBytes(), b.compareAndSet("c", null, "second".getBytes()), "present key, expected absent: unchanged");
            assertArrayEquals("third".getBytes(), b.compareAndSet("c", "first".getBytes(), "third".getBytes()));
            assertTrue(a.delete("c"));
            assertFalse(a.delete("c"));
            assertTrue(a.tryGet("c").isEmpty());
        }
    }

    @Test void getAndWaitBlockUntilAnotherClientSets() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN); var a = client(server); var b = client(server)) {
            var got = CompletableFuture.supplyAsync(() -> a.getString("late"));
            var waited = CompletableFuture.runAsync(() -> { try (var c = client(server)) { c.waitFor(List.of("late", "later")); } });
            Thread.sleep(100);
            assertFalse(got.isDone());
            b.set("late", "here");
            assertEquals("here", got.get(5, TimeUnit.SECONDS));
            assertFalse(waited.isDone());
            b.set("later", "too");
            waited.get(5, TimeUnit.SECONDS);
        }
    }

    @Test void waitsTimeOutNamingTheKey() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN); var a = client(server)) {
            long t0 = System.nanoTime();
            var e = assertThrows(StoreException.class, () -> a.get("never", Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("never") && e.getMessage().contains("300 ms"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 3_000_000_000L);
            var w = assertThrows(StoreException.class, () -> a.waitFor(List.of("x", "y"), Duration.ofMillis(200)));
            assertTrue(w.getMessage().contains("[x, y]"), w.getMessage());
        }
    }

    @Test void refusesAClientWithTheWrongToken() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN)) {
            var e = assertThrows(StoreException.class, () -> TcpStore.connect("127.0.0.1", server.port(), "guess".getBytes(), T, "rank 2"));
            assertTrue(e.getMessage().contains("refused") && e.getMessage().contains("wrong token") && e.getMessage().contains("rank 2"), e.getMessage());
            var none = assertThrows(StoreException.class, () -> TcpStore.connect("127.0.0.1", server.port(), null, T, "rank 3"));
            assertTrue(none.getMessage().contains("no store token") && none.getMessage().contains("FLUXION_STORE_TOKEN"), none.getMessage());
            try (var ok = client(server)) { ok.set("still", "works"); }
        }
    }

    @Test void connectingGivesUpAfterTheTimeoutWhenNobodyListens() throws Exception {
        int port;
        try (var s = java.nio.channels.ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); port = ((InetSocketAddress) s.getLocalAddress()).getPort(); }
        long t0 = System.nanoTime();
        var e = assertThrows(StoreException.class, () -> TcpStore.connect("127.0.0.1", port, TOKEN, Duration.ofMillis(500), "rank 1"));
        assertTrue(e.getMessage().contains("cannot reach the store at 127.0.0.1:" + port), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 3_000_000_000L);
    }

    @Test void aClosedServerFailsPendingCallsWithAClearMessage() throws Exception {
        var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN);
        try (var a = client(server)) {
            var pending = CompletableFuture.supplyAsync(() -> a.get("k", Duration.ofSeconds(10)));
            Thread.sleep(100);
            server.close();
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> pending.get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof StoreException && e.getCause().getMessage().contains("rank 0"), String.valueOf(e.getCause()));
        }
    }

    @Test void aStoreWithoutATokenCannotBeStarted() {
        for (byte[] none : new byte[][] {null, new byte[0]}) {
            var e = assertThrows(IllegalArgumentException.class, () -> TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), none));
            assertTrue(e.getMessage().contains("token is empty"), e.getMessage());
        }
    }
}

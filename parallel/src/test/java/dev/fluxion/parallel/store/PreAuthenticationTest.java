package dev.fluxion.parallel.store;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** What a client without the token can make the store hold: a hello's worth of memory, for a bounded number of connections. */
class PreAuthenticationTest {
    static final byte[] TOKEN = "pre-auth".getBytes(StandardCharsets.UTF_8);

    /** Reads the server's answer to a connection: its DENIED message, or "closed" when it hung up without one. */
    static String answer(SocketChannel c) throws IOException {
        c.socket().setSoTimeout(10_000);
        var in = c.socket().getInputStream();
        byte[] len = in.readNBytes(4);
        if (len.length < 4) return "closed";
        byte[] body = in.readNBytes(ByteBuffer.wrap(len).getInt());
        ByteBuffer b = ByteBuffer.wrap(body);
        if (b.get() != Protocol.DENIED) return "status " + body[0];
        return new String(Protocol.bytes(b, 4096, "reason"), StandardCharsets.UTF_8);
    }

    static long heapInUse() {
        long used = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) used += p.getPeakUsage().getUsed();
        return used;
    }

    @Test void twoHundredConnectionsAnnouncingHugeFramesAreRefusedBeforeAnythingIsAllocated() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN)) {
            System.gc();
            for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) p.resetPeakUsage();
            long before = heapInUse();
            List<SocketChannel> conns = new ArrayList<>();
            try {
                for (int i = 0; i < 200; i++) {
                    SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", server.port()));
                    c.write(ByteBuffer.allocate(4).putInt(0, 64 << 20));   // a 64 MiB frame is coming (it never does)
                    conns.add(c);
                }
                int refused = 0;
                for (SocketChannel c : conns) {
                    String a = answer(c);
                    if (a.contains("must be a hello of at most " + Protocol.MAX_HELLO + " bytes")) refused++;
                    else assertEquals("closed", a, "each is refused or, when more than " + TcpStoreServer.MAX_PENDING + " wait, closed");
                }
                assertTrue(refused > 0, "the server names why it refuses");
            } finally {
                for (SocketChannel c : conns) c.close();
            }
            long grew = heapInUse() - before;
            // one 64 MiB buffer would show; the heap pools' peaks hold every allocation since the reset, live or not
            assertTrue(grew < 48L << 20, "the heap's peak grew by " + (grew >> 20) + " MiB while 200 unauthenticated clients announced 64 MiB frames");
            try (var ok = TcpStore.connect("127.0.0.1", server.port(), TOKEN, java.time.Duration.ofSeconds(5), "rank 1")) {
                ok.set("still", "serving");
                assertEquals("serving", ok.getString("still"));
            }
        }
    }

    @Test void idleConnectionsBeyondTheLimitCloseTheOldestAndRealClientsStillGetIn() throws Exception {
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), TOKEN)) {
            List<SocketChannel> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 100; i++) idle.add(SocketChannel.open(new InetSocketAddress("127.0.0.1", server.port())));
                try (var ok = TcpStore.connect("127.0.0.1", server.port(), TOKEN, java.time.Duration.ofSeconds(5), "rank 1")) {
                    ok.set("k", "v");
                    assertEquals("v", ok.getString("k"));
                }
                long until = System.nanoTime() + 5_000_000_000L;
                while (server.pendingCount() > TcpStoreServer.MAX_PENDING && System.nanoTime() < until) Thread.sleep(10);
                assertTrue(server.pendingCount() <= TcpStoreServer.MAX_PENDING, server.pendingCount() + " connections wait to be admitted");
                assertEquals("closed", answer(idle.get(0)), "the oldest idle connection was closed");
            } finally {
                for (SocketChannel c : idle) c.close();
            }
        }
    }
}

package dev.fluxion.parallel;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The store never runs without a token: ranks started without FLUXION_STORE_TOKEN refuse and say how to set one. */
class DistributedTokenTest {
    @Test void aRankOfSeveralWithoutATokenRefusesToStart() {
        var env = Distributed.Env.from(Map.of("RANK", "0", "WORLD_SIZE", "2", "MASTER_PORT", "0", "FLUXION_TIMEOUT", "1"));
        var e = assertThrows(DistributedException.class, () -> Distributed.init(env));
        assertTrue(e.getMessage().contains("FLUXION_STORE_TOKEN is not set") && e.getMessage().contains("openssl rand"), e.getMessage());
    }

    @Test void aWorldOfOneMakesItsOwnToken() throws Exception {
        int port;
        try (var s = java.nio.channels.ServerSocketChannel.open()) {
            s.bind(new java.net.InetSocketAddress("127.0.0.1", 0));
            port = ((java.net.InetSocketAddress) s.getLocalAddress()).getPort();
        }
        try (ProcessGroup pg = Distributed.init(Distributed.Env.from(Map.of("MASTER_PORT", String.valueOf(port), "FLUXION_TIMEOUT", "5", "FLUXION_BACKEND", "tcp")))) {
            assertEquals(1, pg.size());
        }
    }
}

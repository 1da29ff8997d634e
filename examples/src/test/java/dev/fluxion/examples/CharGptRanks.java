package dev.fluxion.examples;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs CharGpt as two rank processes on 127.0.0.1, with the environment bin/fluxrun would give them. */
final class CharGptRanks {
    private CharGptRanks() {}

    /** Starts both ranks with args, waits for them, asserts exit code 0, and returns each rank's output. */
    static List<String> run(String... args) throws Exception {
        int port;
        try (var s = ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); port = ((InetSocketAddress) s.getLocalAddress()).getPort(); }
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), CharGpt.class.getName()));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().putAll(Map.of("RANK", "" + r, "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + port,
                    "FLUXION_TIMEOUT", "60", "FLUXION_STORE_TOKEN", "test"));
            pb.redirectErrorStream(true);
            ranks.add(pb.start());
        }
        List<String> outputs = new ArrayList<>();
        for (Process p : ranks) {
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), text);
            outputs.add(text);
        }
        return outputs;
    }
}

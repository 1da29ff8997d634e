package dev.fluxion.examples;

import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The main job as two data-parallel processes on 127.0.0.1, as bin/fluxrun --nproc-per-node 2 starts it. */
class CharGptDistributedTest {
    @Test
    void trainsWithTwoRanksAndOnlyRankZeroWrites(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data.txt"), out = dir.resolve("run");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        int port;
        try (var s = ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); port = ((InetSocketAddress) s.getLocalAddress()).getPort(); }
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            ProcessBuilder pb = new ProcessBuilder(System.getProperty("java.home") + "/bin/java", "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), CharGpt.class.getName(),
                    "--data", data.toString(), "--out", out.toString(), "--steps", "6", "--batch", "2", "--context", "16", "--layers", "1",
                    "--heads", "2", "--width", "16", "--eval-every", "3", "--checkpoint-every", "3", "--sample", "10");
            pb.environment().putAll(java.util.Map.of("RANK", "" + r, "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + port,
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
        assertTrue(outputs.get(0).contains("2 ranks (DDP)") && outputs.get(0).contains("step 6/6"), outputs.get(0));
        assertFalse(outputs.get(1).contains("step "), "rank 1 prints no progress: " + outputs.get(1));
        assertEquals(7, Files.readAllLines(out.resolve("metrics.csv")).size(), "one writer: a header and six rows");
        TrainingCheckpoint c = CheckpointDir.loadLatest(out).orElseThrow();
        assertEquals(6, c.step());
        assertTrue(c.section("rng").containsKey("data.rank1"), "rank 1's data stream is saved for resuming: " + c.section("rng").keySet());
    }
}

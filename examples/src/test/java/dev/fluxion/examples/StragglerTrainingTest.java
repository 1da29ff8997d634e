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

/** CharGpt's straggler modes as two processes on 127.0.0.1 (as bin/fluxrun starts them): they train, checkpoint and resume. */
class StragglerTrainingTest {
    static List<String> runRanks(Path data, Path out, String... flags) throws Exception {
        int port;
        try (var s = ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); port = ((InetSocketAddress) s.getLocalAddress()).getPort(); }
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), CharGpt.class.getName(),
                    "--data", data.toString(), "--out", out.toString(), "--batch", "2", "--context", "16", "--layers", "1",
                    "--heads", "2", "--width", "16", "--eval-every", "3", "--checkpoint-every", "3"));
            cmd.addAll(List.of(flags));
            ProcessBuilder pb = new ProcessBuilder(cmd);
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
        return outputs;
    }

    static Path data(Path dir) throws Exception {
        Path data = dir.resolve("data.txt");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        return data;
    }

    @Test void parameterServerWithSspAndASlowRankTrainsCheckpointsAndResumes(@TempDir Path dir) throws Exception {
        Path data = data(dir), out = dir.resolve("run");
        List<String> first = runRanks(data, out, "--ps", "--staleness", "1", "--slow-rank", "1:2x", "--steps", "6");
        assertTrue(first.get(0).contains("ps SSP(s=1)") && first.get(0).contains("stopped at step 6"), first.get(0));
        for (int shard = 0; shard < 2; shard++)
            assertTrue(Files.exists(out.resolve("ps").resolve("shard-" + shard).resolve(CheckpointDir.LATEST)), "shard " + shard + " checkpointed");
        assertEquals(6, CheckpointDir.loadLatest(out).orElseThrow().step());
        List<String> again = runRanks(data, out, "--ps", "--staleness", "1", "--steps", "9", "--resume");
        assertTrue(again.get(0).contains("stopped at step 9"), again.get(0));
        assertEquals(9, CheckpointDir.loadLatest(out).orElseThrow().step());
        List<String> rows = Files.readAllLines(out.resolve("trace.csv"));
        assertEquals(List.of("7", "9"), rows.stream().skip(1).map(r -> r.split(",")[1]).toList(), "trace rows: the first step after resuming, then every 3rd: " + rows);
    }

    @Test void diLoCoTrainsAndCheckpointsAtSynchronisations(@TempDir Path dir) throws Exception {
        Path data = data(dir), out = dir.resolve("run");
        List<String> outputs = runRanks(data, out, "--diloco", "3", "--slow-rank", "1:3x", "--steps", "6");
        assertTrue(outputs.get(0).contains("DiLoCo H=3") && outputs.get(0).contains("stopped at step 6"), outputs.get(0));
        TrainingCheckpoint c = CheckpointDir.loadLatest(out).orElseThrow();
        assertEquals(6, c.step());
        assertEquals(6, c.section("diloco").get("inner_steps").toLongArray()[0]);
    }
}

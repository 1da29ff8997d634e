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

/** CharGpt --tp 2 --sp as two processes on 127.0.0.1 (as bin/fluxrun starts them); its checkpoint resumes in one process. */
class TensorParallelCharGptTest {
    @Test
    void trainsTensorParallelAndWritesASingleProcessCheckpoint(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data.txt"), out = dir.resolve("run");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        int port;
        try (var s = ServerSocketChannel.open()) { s.bind(new InetSocketAddress("127.0.0.1", 0)); port = ((InetSocketAddress) s.getLocalAddress()).getPort(); }
        String[] common = {"--data", data.toString(), "--out", out.toString(), "--batch", "2", "--context", "16", "--layers", "1",
                "--heads", "2", "--width", "16", "--eval-every", "2", "--checkpoint-every", "2", "--sample", "5"};
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java", "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                    "-XX:+UseSerialGC", "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), CharGpt.class.getName(),
                    "--tp", "2", "--sp", "--steps", "4"));
            cmd.addAll(List.of(common));
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
        assertTrue(outputs.get(0).contains("tp=2") && outputs.get(0).contains("sequence parallel") && outputs.get(0).contains("step 4/4"), outputs.get(0));
        TrainingCheckpoint c = CheckpointDir.loadLatest(out).orElseThrow();
        assertEquals(4, c.step());
        assertArrayEquals(new int[] {256, 16}, c.section("model").get("head.weight").shape(), "the checkpoint holds full (single-process) tensors");
        assertArrayEquals(new int[] {48, 16}, c.section("model").get("blocks.0.attn.qkv.weight").shape());

        // one process continues from it with plain CharGpt
        List<String> resume = new ArrayList<>(List.of("--steps", "5", "--resume"));
        resume.addAll(List.of(common));
        CharGpt.main(resume.toArray(String[]::new));
        assertEquals(5, CheckpointDir.loadLatest(out).orElseThrow().step());
    }
}

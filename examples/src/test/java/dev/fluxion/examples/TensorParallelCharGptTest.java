package dev.fluxion.examples;

import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** CharGpt --tp 2 --sp as two processes on 127.0.0.1 (as bin/fluxrun starts them); its checkpoint resumes in one process. */
class TensorParallelCharGptTest {
    @Test
    void trainsTensorParallelAndWritesASingleProcessCheckpoint(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data.txt"), out = dir.resolve("run");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        String[] common = {"--data", data.toString(), "--out", out.toString(), "--batch", "2", "--context", "16", "--layers", "1",
                "--heads", "2", "--width", "16", "--eval-every", "2", "--checkpoint-every", "2", "--sample", "5"};
        List<String> args = new ArrayList<>(List.of("--tp", "2", "--sp", "--steps", "4"));
        args.addAll(List.of(common));
        List<String> outputs = CharGptRanks.run(args.toArray(String[]::new));
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

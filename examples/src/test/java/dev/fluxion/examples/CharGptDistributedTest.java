package dev.fluxion.examples;

import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The main job as two data-parallel processes on 127.0.0.1, as bin/fluxrun --nproc-per-node 2 starts it. */
class CharGptDistributedTest {
    @Test
    void trainsWithTwoRanksAndOnlyRankZeroWrites(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data.txt"), out = dir.resolve("run");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        List<String> outputs = CharGptRanks.run("--data", data.toString(), "--out", out.toString(), "--steps", "6", "--batch", "2", "--context", "16",
                "--layers", "1", "--heads", "2", "--width", "16", "--eval-every", "3", "--checkpoint-every", "3", "--sample", "10");
        assertTrue(outputs.get(0).contains("2 ranks (DDP)") && outputs.get(0).contains("step 6/6"), outputs.get(0));
        assertFalse(outputs.get(1).contains("step "), "rank 1 prints no progress: " + outputs.get(1));
        assertEquals(7, Files.readAllLines(out.resolve("metrics.csv")).size(), "one writer: a header and six rows");
        TrainingCheckpoint c = CheckpointDir.loadLatest(out).orElseThrow();
        assertEquals(6, c.step());
        assertTrue(c.section("rng").containsKey("data.rank1"), "rank 1's data stream is saved for resuming: " + c.section("rng").keySet());
    }
}

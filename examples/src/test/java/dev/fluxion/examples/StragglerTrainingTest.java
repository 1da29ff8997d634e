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

/** CharGpt's straggler modes as two processes on 127.0.0.1 (as bin/fluxrun starts them): they train, checkpoint and resume. */
class StragglerTrainingTest {
    static List<String> runRanks(Path data, Path out, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("--data", data.toString(), "--out", out.toString(), "--batch", "2", "--context", "16",
                "--layers", "1", "--heads", "2", "--width", "16", "--eval-every", "3", "--checkpoint-every", "3"));
        args.addAll(List.of(flags));
        return CharGptRanks.run(args.toArray(String[]::new));
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
        // a run without --resume into the same folder starts afresh: the old shards go first. Many old files make two
        // ranks deleting the same tree at once (as they did) meet a file the other has just removed.
        for (int i = 0; i < 400; i++) Files.writeString(out.resolve("ps").resolve("shard-" + (i % 2)).resolve("old-" + i + ".tmp"), "x");
        List<String> fresh = runRanks(data, out, "--ps", "--staleness", "1", "--steps", "3");
        assertTrue(fresh.get(0).contains("stopped at step 3"), fresh.get(0));
        assertEquals(3, CheckpointDir.loadLatest(out).orElseThrow().step());
        for (int shard = 0; shard < 2; shard++)
            try (var left = Files.list(out.resolve("ps").resolve("shard-" + shard))) {
                assertTrue(left.noneMatch(f -> f.getFileName().toString().startsWith("old-")), "shard " + shard + " kept files of the earlier run");
            }
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

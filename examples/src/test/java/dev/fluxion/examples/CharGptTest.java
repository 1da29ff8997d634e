package dev.fluxion.examples;

import dev.fluxion.nn.io.CheckpointDir;
import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The main job end to end on a tiny model: outputs written, and an interrupted run resumed bitwise. */
class CharGptTest {
    private static String[] args(Path data, Path out, String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("--data", data.toString(), "--out", out.toString(), "--steps", "12", "--batch", "4",
                "--context", "16", "--layers", "1", "--heads", "2", "--width", "16", "--dropout", "0.1", "--eval-every", "6",
                "--checkpoint-every", "6", "--sample", "20"));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    private static Path corpus(Path dir) throws Exception {
        Path data = dir.resolve("data.txt");
        Files.writeString(data, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        return data;
    }

    @Test
    void writesMetricsPlotCheckpointAndSample(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run");
        CharGpt.main(args(corpus(dir), out));
        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        assertEquals("step,loss,val_loss,lr,tokens_per_s", csv.get(0));
        assertEquals(13, csv.size(), "a header and one row per step");
        assertTrue(Files.size(out.resolve("loss.png")) > 1000);
        assertEquals(12, CheckpointDir.loadLatest(out).orElseThrow().step());
    }

    @Test
    void anInterruptedRunResumesBitwise(@TempDir Path dir) throws Exception {
        Path data = corpus(dir), straight = dir.resolve("straight"), resumed = dir.resolve("resumed");
        CharGpt.main(args(data, straight));
        CharGpt.main(args(data, resumed, "--stop-after", "6"));
        assertEquals(6, CheckpointDir.loadLatest(resumed).orElseThrow().step());
        CharGpt.main(args(data, resumed, "--resume"));
        TrainingCheckpoint a = CheckpointDir.loadLatest(straight).orElseThrow(), b = CheckpointDir.loadLatest(resumed).orElseThrow();
        assertEquals(12, b.step());
        for (String section : List.of("model", "optim", "sched", "rng")) {
            Map<String, Tensor> sa = a.section(section), sb = b.section(section);
            assertEquals(sa.keySet(), sb.keySet(), section);
            for (String k : sa.keySet())
                assertArrayEquals(sa.get(k).toDoubleArray(), sb.get(k).toDoubleArray(), 0.0, section + "." + k + " differs after resuming");
        }
        List<String> la = Files.readAllLines(straight.resolve("metrics.csv")), lb = Files.readAllLines(resumed.resolve("metrics.csv"));
        assertEquals(la.size(), lb.size());
        for (int i = 0; i < la.size(); i++)                                   // same losses step by step (tokens/s aside)
            assertEquals(la.get(i).split(",")[1], lb.get(i).split(",")[1], "loss at row " + i);
    }
}

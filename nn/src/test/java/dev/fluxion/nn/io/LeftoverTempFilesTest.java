package dev.fluxion.nn.io;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** A save killed mid-way leaves its temporary file; the next save or start removes it, and nothing else. */
class LeftoverTempFilesTest {
    /** A pid no process has now (the leftover's writer was killed). */
    static long deadPid() {
        for (long p = 4_000_000; p > 1000; p -= 7919) if (ProcessHandle.of(p).isEmpty()) return p;
        throw new IllegalStateException("no free pid found");
    }

    static Set<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) { return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList()); }
    }

    static TrainingCheckpoint checkpoint(long step) {
        return new TrainingCheckpoint(step, Map.of("model", Map.of("w", Tensor.ones(DType.FLOAT32, 4))), Map.of());
    }

    /** Leftovers of killed saves (both name formats), a live writer's file, and files that are not ours. */
    static void litter(Path dir, String target) throws IOException {
        Files.createDirectories(dir);
        Files.write(dir.resolve("." + target + "." + deadPid() + ".3f9a0c11d2e4b5a6.tmp"), new byte[1000]);   // killed writer
        Files.write(dir.resolve("." + target + ".7e4d2c.tmp"), new byte[10]);                                 // older versions' name
        Files.write(dir.resolve("." + target + ".1.abcdef.tmp"), new byte[10]);                               // pid 1 is alive: still writing
        Files.write(dir.resolve("." + target + ".notes.tmp"), new byte[1]);                                   // not our pattern
        Files.write(dir.resolve("other.tmp"), new byte[1]);
        Files.write(dir.resolve(".other.safetensors.7e4d2c.tmp"), new byte[1]);                               // another target's
    }

    static final Set<String> KEPT_BESIDE = Set.of(".1.abcdef.tmp", ".notes.tmp");

    static void assertOnlyLeftoversRemoved(Path dir, String target, Set<String> expectedOthers) throws IOException {
        Set<String> expected = new TreeSet<>(expectedOthers);
        for (String suffix : KEPT_BESIDE) expected.add("." + target + suffix);
        expected.add("other.tmp");
        expected.add(".other.safetensors.7e4d2c.tmp");
        assertEquals(expected, names(dir));
    }

    @Test void theNextCheckpointSaveRemovesTheLeftoversOfAKilledOne(@TempDir Path dir) throws IOException {
        litter(dir, CheckpointDir.LATEST);
        CheckpointDir.save(dir, checkpoint(1));
        assertOnlyLeftoversRemoved(dir, CheckpointDir.LATEST, Set.of(CheckpointDir.LATEST));
    }

    @Test void loadingAtStartRemovesThemToo(@TempDir Path dir) throws IOException {
        CheckpointDir.save(dir, checkpoint(5));
        litter(dir, CheckpointDir.LATEST);
        assertEquals(5, CheckpointDir.loadLatest(dir).orElseThrow().step());
        assertOnlyLeftoversRemoved(dir, CheckpointDir.LATEST, Set.of(CheckpointDir.LATEST));
    }

    @Test void savingAPlainFileRemovesTheLeftoversOfThatFileOnly(@TempDir Path dir) throws IOException {
        litter(dir, "model.safetensors");
        Safetensors.save(dir.resolve("model.safetensors"), Map.of("w", Tensor.ones(DType.FLOAT32, 2)));
        assertOnlyLeftoversRemoved(dir, "model.safetensors", Set.of("model.safetensors"));
    }
}

package dev.fluxion.nn.io;

import dev.fluxion.tensor.Device;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;

/**
 * A run's checkpoints in one directory: the newest as {@value #LATEST} and the one before it as
 * {@value #PREVIOUS}. {@link #save} writes and syncs the new file before it renames anything, so at every
 * moment the directory holds a complete checkpoint; if the newest one is ever refused (corrupt), the
 * previous one is still there to load by hand.
 *
 * <pre>{@code
 * Path dir = Path.of("runs/1");
 * long start = CheckpointDir.loadLatest(dir).map(c -> { model.loadStateDict(c.section("model")); return c.step(); }).orElse(0L);
 * for (long step = start; step < steps; step++) {
 *     ...
 *     if (step % 1000 == 0) CheckpointDir.save(dir, new TrainingCheckpoint(step, Map.of("model", model.stateDict()), Map.of()));
 * }
 * }</pre>
 */
public final class CheckpointDir {
    public static final String LATEST = "checkpoint.safetensors";
    public static final String PREVIOUS = "checkpoint.prev.safetensors";

    private CheckpointDir() {}

    /** Saves ckpt as dir/{@value #LATEST} (creating dir); the file it replaces becomes {@value #PREVIOUS}. */
    public static Path save(Path dir, TrainingCheckpoint ckpt) throws IOException {
        Files.createDirectories(dir);
        Path latest = dir.resolve(LATEST);
        try (AtomicFile.Pending pending = AtomicFile.prepare(latest, ckpt::write)) {
            if (Files.exists(latest)) Files.move(latest, dir.resolve(PREVIOUS), ATOMIC_MOVE, REPLACE_EXISTING);
            pending.commit();
        }
        return latest;
    }

    /**
     * Deletes the temporary files of saves into dir that were killed mid-way (".checkpoint.safetensors.PID.HEX.tmp"
     * whose process PID is gone); returns how many. {@link #save} and {@link #loadLatest} do it too.
     */
    public static int removeLeftovers(Path dir) throws IOException {
        return AtomicFile.removeLeftovers(dir.resolve(LATEST));
    }

    /**
     * The newest checkpoint file of dir: {@value #LATEST}, or {@value #PREVIOUS} alone when a crash fell
     * between the two renames of {@link #save}; empty when there is none.
     */
    public static Optional<Path> latest(Path dir) {
        for (String name : new String[] {LATEST, PREVIOUS}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /**
     * The newest checkpoint of dir, loaded on the CPU and verified; a corrupt file is refused, not skipped.
     * Temporary files that a save killed mid-way left in dir are deleted first (see {@link #removeLeftovers}).
     */
    public static Optional<TrainingCheckpoint> loadLatest(Path dir) throws IOException {
        return loadLatest(dir, Device.CPU);
    }

    public static Optional<TrainingCheckpoint> loadLatest(Path dir, Device device) throws IOException {
        removeLeftovers(dir);
        Optional<Path> p = latest(dir);
        return p.isEmpty() ? Optional.empty() : Optional.of(TrainingCheckpoint.load(p.get(), device));
    }
}

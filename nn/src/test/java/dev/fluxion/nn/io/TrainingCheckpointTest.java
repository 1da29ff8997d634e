package dev.fluxion.nn.io;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static dev.fluxion.nn.io.TestFiles.assertRefused;
import static dev.fluxion.nn.io.TestFiles.assertSameTensor;
import static dev.fluxion.nn.io.TestFiles.randomBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Training checkpoints: round trip, checksum, refusal of corrupt files, atomic replacement, rotation. */
class TrainingCheckpointTest {
    @TempDir Path dir;

    private static TrainingCheckpoint state(long step) {
        Random rng = new Random(step);
        Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
        sections.put("model", Map.of("fc1.weight", Tensor.randn(new Generator(step), 4, 3), "fc1.bias", Tensor.zeros(4),
                "emb", randomBits(DType.BFLOAT16, rng, 5, 2)));
        sections.put("optim", Map.of("fc1.weight.exp_avg", Tensor.randn(new Generator(step + 1), 4, 3), "step", Tensor.scalar(step, DType.INT64)));
        sections.put("sched", Map.of("last_lr", Tensor.scalar(3e-4, DType.FLOAT64)));
        sections.put("rng", Map.of("state", randomBits(DType.UINT8, rng, 16)));
        sections.put("extra", Map.of());                                          // empty sections survive
        return new TrainingCheckpoint(step, sections, Map.of("run", "test", "note", "\u2713"));
    }

    private static void assertSameState(TrainingCheckpoint want, TrainingCheckpoint got) {
        assertEquals(want.step(), got.step());
        assertEquals(want.metadata(), got.metadata());
        assertEquals(List.copyOf(want.sections().keySet()), List.copyOf(got.sections().keySet()));
        want.sections().forEach((s, tensors) -> {
            assertEquals(tensors.keySet(), got.section(s).keySet(), s);
            tensors.forEach((n, t) -> assertSameTensor(s + "." + n, t, got.section(s).get(n)));
        });
    }

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void roundTripsSectionsStepAndMetadata() throws IOException {
        TrainingCheckpoint ckpt = state(1234);
        Path file = dir.resolve("ckpt.safetensors");
        ckpt.save(file);
        TrainingCheckpoint loaded = TrainingCheckpoint.load(file);
        assertSameState(ckpt, loaded);
        assertTrue(loaded.section("extra").isEmpty());
        assertEquals(List.of("ckpt.safetensors"), files(), "no temporary file left behind");

        // a plain safetensors file underneath, tensors prefixed by section
        SafetensorsHeader h = Safetensors.readHeader(file);
        assertTrue(h.tensors().containsKey("model.fc1.weight") && h.tensors().containsKey("rng.state"), h.tensors().keySet().toString());
        assertEquals("1234", h.metadata().get("fluxion.step"));
        assertEquals("extra,model,optim,rng,sched", h.metadata().get("fluxion.sections"));
        assertTrue(h.metadata().get("fluxion.crc32c").matches("[0-9a-f]{8}"));

        Path again = dir.resolve("again.safetensors");
        state(1234).save(again);
        assertArrayEquals(Files.readAllBytes(file), Files.readAllBytes(again), "equal states give equal files");
    }

    @Test
    void flippedDataByteIsRefusedAndNothingIsLeftLoaded() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        state(7).save(file);
        byte[] b = Files.readAllBytes(file);
        b[b.length - 10] ^= 0x04;                                                // one bit, deep in the data
        Files.write(file, b);
        long before = CpuMemory.stats().inUse();
        assertRefused(file, () -> TrainingCheckpoint.load(file), "checksum mismatch: the file records crc32c ", "the file is corrupt");
        assertTrue(CpuMemory.stats().inUse() <= before, "tensors read before the mismatch was found are freed");
    }

    @Test
    void changedHeaderValueIsRefused() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        state(1234).save(file);
        byte[] b = Files.readAllBytes(file);
        String s = new String(b, StandardCharsets.ISO_8859_1);
        int at = s.indexOf("\"fluxion.step\":\"1234\"");
        b[at + "\"fluxion.step\":\"".length()] = '9';                              // still valid JSON: step 9234
        Files.write(file, b);
        assertRefused(file, () -> TrainingCheckpoint.load(file), "checksum mismatch");
    }

    @Test
    void refusesFilesThatAreNotCheckpoints() throws IOException {
        Path plain = dir.resolve("plain.safetensors");
        Safetensors.save(plain, Map.of("model.w", Tensor.ones(2)));
        assertRefused(plain, () -> TrainingCheckpoint.load(plain), "not a Fluxion training checkpoint (no fluxion.format in __metadata__)");
        Path other = dir.resolve("other.safetensors");
        Safetensors.save(other, Map.of("model.w", Tensor.ones(2)), Map.of("fluxion.format", "training-checkpoint/9"));
        assertRefused(other, () -> TrainingCheckpoint.load(other), "checkpoint format 'training-checkpoint/9' is not supported");
        Path stray = dir.resolve("stray.safetensors");
        Safetensors.save(stray, Map.of("model.w", Tensor.ones(2), "opt.m", Tensor.ones(2)), Map.of("fluxion.format", "training-checkpoint/1",
                "fluxion.crc32c", "00000000", "fluxion.step", "3", "fluxion.sections", "model"));
        assertRefused(stray, () -> TrainingCheckpoint.load(stray), "tensor 'opt.m' is in none of the sections [model]");
    }

    @Test
    void failedSaveLeavesThePreviousCheckpointUntouched() throws IOException {
        Path file = dir.resolve("ckpt.safetensors");
        TrainingCheckpoint good = state(100);
        good.save(file);
        byte[] before = Files.readAllBytes(file);

        Tensor broken = Tensor.ones(8);
        broken.close();                                                          // reading it throws, as a failing device copy would
        Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>(state(200).sections());
        sections.put("zzz", Map.of("broken", broken));
        assertThrows(IllegalStateException.class, () -> new TrainingCheckpoint(200, sections, Map.of()).save(file));

        assertArrayEquals(before, Files.readAllBytes(file));
        assertSameState(good, TrainingCheckpoint.load(file));
        assertEquals(List.of("ckpt.safetensors"), files(), "the temporary file is removed");
    }

    @Test
    void failureMidWriteLeavesThePreviousFileUntouched() throws IOException {
        Path file = dir.resolve("model.safetensors");
        Safetensors.save(file, Map.of("w", Tensor.ones(3)));
        byte[] before = Files.readAllBytes(file);

        // header and the first tensor ("a", 4 MiB) are written before "b" fails
        Tensor b = Tensor.ones(4);
        b.close();
        assertThrows(IllegalStateException.class, () -> Safetensors.save(file, Map.of("a", Tensor.zeros(1 << 20), "b", b)));
        assertArrayEquals(before, Files.readAllBytes(file));

        // the disk fills up after some bytes are out
        IOException full = assertThrows(IOException.class, () -> AtomicFile.write(file, ch -> {
            ch.write(ByteBuffer.wrap(new byte[1000]));
            throw new IOException("No space left on device (simulated)");
        }));
        assertEquals("No space left on device (simulated)", full.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file));
        assertEquals(List.of("model.safetensors"), files());
    }

    @Test
    void checkpointDirKeepsTheLatestAndThePrevious() throws IOException {
        Path run = dir.resolve("run");
        assertTrue(CheckpointDir.loadLatest(run).isEmpty());
        CheckpointDir.save(run, state(1));
        CheckpointDir.save(run, state(2));
        assertEquals(2, CheckpointDir.loadLatest(run).orElseThrow().step());
        assertEquals(1, TrainingCheckpoint.load(run.resolve(CheckpointDir.PREVIOUS)).step());
        Path latest = CheckpointDir.save(run, state(3));
        assertEquals(run.resolve(CheckpointDir.LATEST), latest);
        assertSameState(state(3), CheckpointDir.loadLatest(run).orElseThrow());
        assertEquals(2, TrainingCheckpoint.load(run.resolve(CheckpointDir.PREVIOUS)).step());
        try (Stream<Path> s = Files.list(run)) {
            assertEquals(List.of(CheckpointDir.PREVIOUS, CheckpointDir.LATEST), s.map(p -> p.getFileName().toString()).sorted().toList());
        }

        // a failed save moves nothing
        Tensor broken = Tensor.ones(2);
        broken.close();
        assertThrows(IllegalStateException.class, () -> CheckpointDir.save(run, new TrainingCheckpoint(4, Map.of("model", Map.of("w", broken)), Map.of())));
        assertEquals(3, CheckpointDir.loadLatest(run).orElseThrow().step());
        assertEquals(2, TrainingCheckpoint.load(run.resolve(CheckpointDir.PREVIOUS)).step());

        // a crash between save's two renames leaves only the previous file: latest() finds it
        Files.delete(run.resolve(CheckpointDir.LATEST));
        assertEquals(run.resolve(CheckpointDir.PREVIOUS), CheckpointDir.latest(run).orElseThrow());
        assertEquals(2, CheckpointDir.loadLatest(run).orElseThrow().step());
    }

    @Test
    void refusesInvalidCheckpoints() {
        var e = assertThrows(IllegalArgumentException.class, () -> new TrainingCheckpoint(1, Map.of("mo.del", Map.of()), Map.of()));
        assertTrue(e.getMessage().contains("section name 'mo.del'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new TrainingCheckpoint(1, Map.of(), Map.of("fluxion.step", "2")));
        assertTrue(e.getMessage().contains("reserved prefix"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TrainingCheckpoint(-1, Map.of(), Map.of()));
        e = assertThrows(IllegalArgumentException.class, () -> state(1).section("optimizer"));
        assertTrue(e.getMessage().contains("no section 'optimizer'; the checkpoint has [extra, model, optim, rng, sched]"), e.getMessage());
        assertFalse(state(1).sections().isEmpty());
    }
}

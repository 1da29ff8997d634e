package dev.fluxion.nn.io;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzzing of the safetensors header parser (Jazzer). An input is the data section's size
 * (8 bytes, little-endian, as a file's header length) followed by header bytes. Every input must either
 * parse into a header that tiles the data section exactly, or be refused with a {@link SafetensorsException}
 * naming the file; any other exception (a parser crash, an OutOfMemoryError) is a finding.
 *
 * <p>Under plain JUnit this runs the seeds in {@code src/test/resources/dev/fluxion/nn/io/SafetensorsHeaderFuzzTestInputs/header/}
 * (regression mode). nn/pom.xml runs it once more in its own JVM with {@code JAZZER_FUZZ=1}: it fuzzes for
 * {@code maxDuration}, and a crash is saved next to the seeds, where it stays as a regression input.
 */
class SafetensorsHeaderFuzzTest {
    private static final Path FILE = Path.of("fuzz.safetensors");

    @FuzzTest(maxDuration = "10s")
    void header(byte[] input) {
        if (input.length < 8) return;
        long dataSize = ByteBuffer.wrap(input, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong() & ((1L << 40) - 1);
        byte[] header = Arrays.copyOfRange(input, 8, input.length);
        SafetensorsHeader h;
        try {
            h = SafetensorsHeader.parse(FILE, header, dataSize);
        } catch (SafetensorsException e) {
            assertTrue(e.getMessage().startsWith(FILE + ": "), e.getMessage());
            return;
        }
        // accepted: the entries must be consistent and tile [0, dataSize) exactly
        assertTrue(h.tensors().size() <= SafetensorsHeader.MAX_TENSORS);
        long covered = 0;
        for (var e : h.tensors().entrySet()) {
            var entry = e.getValue();
            assertTrue(!e.getKey().isEmpty() && e.getKey().length() <= SafetensorsHeader.MAX_NAME_CHARS);
            long numel = 1;
            for (int d : entry.shape()) numel *= d;
            assertEquals(numel * entry.dtype().byteSize(), entry.byteSize(), e.getKey());
            covered += entry.byteSize();
        }
        assertEquals(dataSize, covered, "tensors tile the data section");
        assertEquals(dataSize, h.dataSize());
    }
}

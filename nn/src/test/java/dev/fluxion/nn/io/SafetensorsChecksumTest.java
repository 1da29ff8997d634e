package dev.fluxion.nn.io;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static dev.fluxion.nn.io.TestFiles.assertRefused;
import static dev.fluxion.nn.io.TestFiles.handMade;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every file Fluxion writes carries a CRC32C in its metadata; loading verifies it when present. */
class SafetensorsChecksumTest {
    @TempDir Path dir;

    private Path saved() throws IOException {
        Path file = dir.resolve("w.safetensors");
        Safetensors.save(file, Map.of("a", Tensor.of(1f, 2f, 3f, 4f, 5f, 6f).reshape(2, 3), "b", Tensor.of(7L, 8L)), Map.of("k", "v"));
        return file;
    }

    private static long headerLength(byte[] file) {
        return ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    @Test
    void everyWrittenFileCarriesAChecksumThatMetadataHides() throws IOException {
        Path file = saved();
        String header = new String(Files.readAllBytes(file), 8, (int) headerLength(Files.readAllBytes(file)), StandardCharsets.UTF_8);
        assertTrue(header.matches("\\{\"__metadata__\":\\{\"fluxion.crc32c\":\"[0-9a-f]{8}\",\"k\":\"v\"},.*"), header);
        try (var c = Safetensors.read(file)) {
            assertEquals(Map.of("k", "v"), c.metadata(), "the checksum is verified, not shown as user metadata");
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.tensors().get("a").toFloatArray());
        }
    }

    @Test
    void everySingleBitFlipInTheDataIsRefusedNamingTheFile() throws IOException {
        Path file = saved();
        byte[] good = Files.readAllBytes(file);
        int dataStart = 8 + (int) headerLength(good);
        int flips = 0;
        for (int i = dataStart; i < good.length; i++)
            for (int bit = 0; bit < 8; bit++) {
                byte[] b = good.clone();
                b[i] ^= (byte) (1 << bit);
                Files.write(file, b);
                assertRefused(file, () -> Safetensors.load(file), "checksum mismatch", "the file is corrupt");
                flips++;
            }
        assertEquals((good.length - dataStart) * 8, flips);
        assertTrue(flips >= 32 * 8, "all bits of both tensors: " + flips);
    }

    @Test
    void headerChangesThatStillParseAreRefused() throws IOException {
        Path file = saved();
        byte[] b = Files.readAllBytes(file);
        String s = new String(b, StandardCharsets.ISO_8859_1);
        int at = s.indexOf("\"shape\":[2,3]");
        b[at + 9] = '3';
        b[at + 11] = '2';                                                        // [3,2]: same size, same tiling
        Files.write(file, b);
        assertRefused(file, () -> Safetensors.load(file), "checksum mismatch");
        b = Files.readAllBytes(saved());
        at = new String(b, StandardCharsets.ISO_8859_1).indexOf("\"k\":\"v\"");
        b[at + 5] = 'w';                                                         // a metadata value
        Files.write(file, b);
        assertRefused(file, () -> Safetensors.load(file), "checksum mismatch");
    }

    @Test
    void filesWithoutAChecksumStillLoad() throws IOException {
        Path file = handMade(dir, "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[] {5, 6});
        try (var c = Safetensors.read(file)) {
            assertEquals(Map.of("format", "pt"), c.metadata());
            assertArrayEquals(new long[] {5, 6}, c.tensors().get("a").toLongArray());
        }
    }

    @Test
    void malformedChecksumIsRefused() throws IOException {
        Path file = handMade(dir, "{\"__metadata__\":{\"fluxion.crc32c\":\"xyz\"},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        assertRefused(file, () -> Safetensors.load(file), "checksum fluxion.crc32c 'xyz' is not 8 lowercase hex digits");
    }

    @Test
    void aChecksumGivenInMetadataIsReplacedSoResavingALoadedFileWorks() throws IOException {
        Path file = dir.resolve("x.safetensors");
        Safetensors.save(file, Map.of("a", Tensor.of(1f)), Map.of(Safetensors.CHECKSUM_KEY, "deadbeef", "k", "v"));
        try (var c = Safetensors.read(file)) {
            assertEquals(Map.of("k", "v"), c.metadata());
        }
        assertTrue(!Safetensors.readHeader(file).metadata().get(Safetensors.CHECKSUM_KEY).equals("deadbeef"));
    }

    @Test
    void emptyFileChecksumsTheHeaderAlone() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        Safetensors.save(file, Map.of(), Map.of("step", "3"));
        assertEquals(Map.of("step", "3"), Safetensors.read(file).metadata());
        byte[] b = Files.readAllBytes(file);
        int at = new String(b, StandardCharsets.ISO_8859_1).indexOf("\"3\"");
        b[at + 1] = '4';
        Files.write(file, b);
        assertRefused(file, () -> Safetensors.load(file), "checksum mismatch");
    }
}

package dev.fluxion.nn.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static dev.fluxion.nn.io.TestFiles.assertRefused;
import static dev.fluxion.nn.io.TestFiles.handMade;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Hostile headers (deep nesting, huge names, too many tensors or dimensions) are refused with our exception, never a parser crash. */
class SafetensorsLimitsTest {
    @TempDir Path dir;

    private static void refused(Path file, String... fragments) {
        assertRefused(file, () -> Safetensors.load(file), fragments);
        assertRefused(file, () -> Safetensors.readHeader(file), fragments);
    }

    private static String entry(String name, int begin, int end) {
        return "\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[" + (end - begin) + "],\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void deeplyNestedJsonIsRefused() throws IOException {
        int depth = 1000;
        String nested = "[".repeat(depth) + "]".repeat(depth);
        refused(handMade(dir, "{\"a\":" + nested + "}", new byte[0]), "nest", "limit");
        String objects = "{\"k\":".repeat(depth) + "1" + "}".repeat(depth);
        refused(handMade(dir, "{\"__metadata__\":" + objects + "}", new byte[0]), "nest", "limit");
        // nesting deeper than a valid header needs (3 levels) is refused even when small
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[[[[1]]]],\"data_offsets\":[0,1]}}", new byte[1]), "nest");
    }

    @Test
    void hugeTensorNameIsRefused() throws IOException {
        String name = "n".repeat(1 << 20);
        refused(handMade(dir, "{" + entry(name, 0, 1) + "}", new byte[1]), "name", "limit", String.valueOf(SafetensorsHeader.MAX_NAME_CHARS));
        refused(handMade(dir, "{\"__metadata__\":{\"" + name + "\":\"v\"}}", new byte[0]), "name", "limit");
    }

    @Test
    void longButLegalNameIsAccepted() throws IOException {
        String name = "w".repeat(SafetensorsHeader.MAX_NAME_CHARS);
        assertEquals(1, Safetensors.load(handMade(dir, "{" + entry(name, 0, 1) + "}", new byte[1])).size());
    }

    @Test
    void tooManyTensorsIsRefused() throws IOException {
        // the count is checked while parsing; a limit of 10 stands in for MAX_TENSORS (2^20), whose header would take seconds to parse
        StringBuilder h = new StringBuilder("{\"__metadata__\":{},");
        for (int i = 0; i <= 10; i++) h.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}");
        byte[] header = h.append('}').toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path file = Path.of("many.safetensors");
        assertRefused(file, () -> SafetensorsHeader.parse(file, header, 0, 10), "more than 10 tensors, the limit");
        assertEquals(11, SafetensorsHeader.parse(file, header, 0, 11).tensors().size(), "11 tensors and the metadata are within a limit of 11");
    }

    @Test
    void tooManyDimensionsIsRefused() throws IOException {
        String dims = "1," .repeat(SafetensorsHeader.MAX_RANK) + "1";
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[" + dims + "],\"data_offsets\":[0,1]}}", new byte[1]),
                "tensor 'a'", SafetensorsHeader.MAX_RANK + " dimensions");
    }

    @Test
    void hugeNumbersAndEmptyNamesAreRefused() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[" + "9".repeat(5000) + "],\"data_offsets\":[0,1]}}", new byte[1]), "tensor 'a'");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1e400],\"data_offsets\":[0,1]}}", new byte[1]), "tensor 'a'", "shape");
        refused(handMade(dir, "{" + entry("", 0, 1) + "}", new byte[1]), "empty tensor name");
    }

    @Test
    void headerLengthOverTheLimitIsRefusedBeforeReading() throws IOException {
        Path file = dir.resolve("sparse.safetensors");
        long n = SafetensorsHeader.MAX_HEADER_BYTES + 8;
        try (var raf = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(8 + n);                                     // sparse: no disk used
            raf.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(n).array());
        }
        refused(file, "header length " + n + " exceeds the limit of " + SafetensorsHeader.MAX_HEADER_BYTES + " bytes");
    }

    @Test
    void controlCharactersAndLoneSurrogatesInNamesAreReported() throws IOException {
        // a NUL inside a name is legal JSON ("\u0000"); the file is accepted and the name kept as written
        assertEquals(1, Safetensors.load(handMade(dir, "{" + entry("a\\u0000b", 0, 1) + "}", new byte[1])).size());
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", new byte[1]), "not valid JSON");
    }
}

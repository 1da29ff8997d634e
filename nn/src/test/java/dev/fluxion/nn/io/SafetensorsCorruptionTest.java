package dev.fluxion.nn.io;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static dev.fluxion.nn.io.TestFiles.assertRefused;
import static dev.fluxion.nn.io.TestFiles.handMade;

/** Every kind of bad file is refused before any tensor is made, with a message naming the file and the problem. */
class SafetensorsCorruptionTest {
    @TempDir Path dir;

    private static final String A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    private Path valid() throws IOException {
        Path file = dir.resolve("valid.safetensors");
        Safetensors.save(file, Map.of("a", Tensor.of(1f, 2f), "b", Tensor.of(3f, 4f, 5f)), Map.of("k", "v"));
        return file;
    }

    /** Refused by both load and readHeader (header problems need no data to be detected). */
    private static void refused(Path file, String... fragments) {
        assertRefused(file, () -> Safetensors.load(file), fragments);
        assertRefused(file, () -> Safetensors.readHeader(file), fragments);
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        Path file = Files.write(dir.resolve("short.safetensors"), new byte[] {1, 2, 3, 4, 5});
        refused(file, "file has 5 bytes, too few for the 8-byte header length");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        Path file = valid();
        byte[] b = Files.readAllBytes(file);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 10_000);
        Files.write(file, b);
        refused(file, "header length 10000 is larger than the rest of the file (" + (b.length - 8) + " bytes)", "truncated or not safetensors");
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1);       // 2^64 - 1, unsigned
        Files.write(file, b);
        refused(file, "header length 18446744073709551615 is larger than the rest of the file");
    }

    @Test
    void fileTruncatedInTheHeader() throws IOException {
        Path file = valid();
        byte[] b = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(b, 30));
        refused(file, "is larger than the rest of the file (22 bytes)");
    }

    @Test
    void fileTruncatedInTheData() throws IOException {
        Path file = valid();
        byte[] b = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(b, b.length - 4));
        refused(file, "tensor 'b': data_offsets [8, 20] run past the end of the data section (16 bytes); the file is truncated");
    }

    @Test
    void trailingBytesAfterTheData() throws IOException {
        Path file = valid();
        byte[] b = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(b, b.length + 3));
        refused(file, "the data section has 23 bytes but the tensors cover only 20 (trailing bytes)");
    }

    @Test
    void invalidJson() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",", new byte[0]), "header is not valid JSON");
        refused(handMade(dir, "{'a': 1}", new byte[0]), "header is not valid JSON", "(at character 1)");
        refused(handMade(dir, "", new byte[0]), "header does not begin with '{' (it must be a JSON object)");
        refused(handMade(dir, " {}", new byte[0]), "header does not begin with '{'");
        refused(handMade(dir, "[1, 2]", new byte[0]), "header does not begin with '{'");
        refused(handMade(dir, "{} {}", new byte[0]), "header has characters after its JSON object");
        refused(handMade(dir, "{\"a\": 1}", new byte[0]), "tensor 'a' must be a JSON object with dtype, shape and data_offsets, got 1");
    }

    @Test
    void invalidUtf8() throws IOException {
        Path file = handMade(dir, "{\"__metadata__\":{\"k\":\"xx\"}}", new byte[0]);
        byte[] b = Files.readAllBytes(file);
        b[8 + 22] = (byte) 0xff;                                                 // inside "xx"
        Files.write(file, b);
        refused(file, "header is not valid UTF-8");
    }

    @Test
    void duplicateNames() throws IOException {
        refused(handMade(dir, "{" + A + "," + A + "}", new byte[16]), "duplicate tensor name 'a' in header");
    }

    @Test
    void unknownDtype() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]),
                "tensor 'a': unknown dtype 'F8_E4M3' (Fluxion reads F64, F32, F16, BF16, I64, I32, I8, U8, BOOL)");
        refused(handMade(dir, "{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]), "tensor 'a': dtype must be a string, got 7");
    }

    @Test
    void malformedEntries() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
                "tensor 'a': shape must be an array of non-negative integers, got [-2]");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", new byte[8]), "shape must be an array");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", new byte[8]), "shape must be an array", "got null");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", new byte[8]),
                "tensor 'a': data_offsets must be an array of 2 non-negative integers, got [8]");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", new byte[8]),
                "tensor 'a' has an unknown field 'extra'");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[65536,65536],\"data_offsets\":[0,8]}}", new byte[8]),
                "U8 [65536, 65536] needs 4294967296 x 1 = 4294967296 bytes");      // over 2^31 elements is allowed
        refused(handMade(dir, "{\"a\":{\"dtype\":\"U8\",\"shape\":[2147483647,2147483647,4],\"data_offsets\":[0,8]}}", new byte[8]),
                "shape [2147483647, 2147483647, 4] has more than 2^60 elements");
        refused(handMade(dir, "{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__ must map strings to strings, but 'k' maps to 1");
    }

    @Test
    void byteSizeDisagreesWithShape() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", new byte[12]),
                "tensor 'a': F32 [2, 2] needs 4 x 4 = 16 bytes, but data_offsets [0, 12] span 12");
    }

    @Test
    void offsetsOutOfRangeOverlappingOrLeavingGaps() throws IOException {
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", new byte[8]), "data_offsets [8, 0] end before they begin");
        refused(handMade(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[8]),
                "data_offsets [4, 12] run past the end of the data section (8 bytes)");
        refused(handMade(dir, "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
                "tensors 'a' [0, 8) and 'b' [4, 12) overlap");
        refused(handMade(dir, "{" + A + ",\"b\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[4,5]}}", new byte[8]), "overlap");
        refused(handMade(dir, "{" + A + ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", new byte[20]),
                "bytes [8, 12) of the data section belong to no tensor");
        refused(handMade(dir, "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", new byte[12]),
                "bytes [0, 4) of the data section belong to no tensor");
    }

    @Test
    void validHandMadeFilesAreAccepted() throws IOException {
        // the same checks accept unpadded headers, any header order, empty tensors anywhere in the tiling, null metadata
        String header = "{\"__metadata__\":null,\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}," + A
                + ",\"e\":{\"dtype\":\"F64\",\"shape\":[0,4],\"data_offsets\":[8,8]}}";
        Path file = handMade(dir, header, new byte[16]);
        org.junit.jupiter.api.Assertions.assertEquals(3, Safetensors.load(file).size());
    }
}

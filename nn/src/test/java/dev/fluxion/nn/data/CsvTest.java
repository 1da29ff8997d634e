package dev.fluxion.nn.data;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CsvTest {
    @TempDir Path dir;

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    @Test void readsNumericColumnsByNameAndIndex() throws IOException {
        Path f = write("houses.csv", "area, rooms,\"city, state\",price\n\n50,2,\"Paris, FR\",100.5\n72.5,3,\"\"\"Q\"\"\",1e3\n");
        Csv csv = Csv.read(f);
        assertEquals(List.of("area", "rooms", "city, state", "price"), csv.header());
        assertEquals(2, csv.rows());
        assertEquals("\"Q\"", csv.cell(1, 2));
        Tensor x = csv.tensor("area", "rooms");
        assertArrayEquals(new int[] {2, 2}, x.shape());
        assertEquals(DType.FLOAT32, x.dtype());
        assertArrayEquals(new float[] {50, 2, 72.5f, 3}, x.toFloatArray());
        assertArrayEquals(new float[] {100.5f, 1000}, csv.column("price").toFloatArray());
        assertArrayEquals(new float[] {1000, 72.5f}, csv.tensor(3, 0).select(0, 1).toFloatArray());
        Tensor rooms = csv.column("rooms", DType.INT64);
        assertEquals(DType.INT64, rooms.dtype());
        assertArrayEquals(new long[] {2, 3}, rooms.toLongArray());
        TensorDataset ds = csv.dataset(List.of("area", "rooms"), List.of("price"));
        assertEquals(2, ds.size());
        assertArrayEquals(new float[] {72.5f, 3}, ds.get(1).get(0).toFloatArray());
    }

    @Test void badValuesNameTheFileLineAndColumn() throws IOException {
        Path f = write("bad.csv", "a,b\n1,2\n\n3,x7\n");
        Csv csv = Csv.read(f);
        var e = assertThrows(IllegalArgumentException.class, () -> csv.tensor("a", "b"));
        assertEquals("Csv: " + f + " line 4, column 2 'b': cannot read 'x7' as a number", e.getMessage());
        assertEquals(3.0, csv.column("a").toFloatArray()[1]);   // other columns still read
        e = assertThrows(IllegalArgumentException.class, () -> Csv.read(write("frac.csv", "n\n1.5\n")).column("n", DType.INT64));
        assertEquals("Csv: " + dir.resolve("frac.csv") + " line 2, column 1 'n': cannot read '1.5' as an integer for int64", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Csv.read(write("short.csv", "a,b\n1\n")));
        assertEquals("Csv: " + dir.resolve("short.csv") + " line 2 has 1 fields, the header has 2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> csv.tensor("a", "c"));
        assertEquals("Csv: " + f + " has no column 'c'; its columns are [a, b]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> csv.tensor(2));
        assertEquals("Csv: column index 2 out of range for " + f + " with 2 columns [a, b]", e.getMessage());
    }
}

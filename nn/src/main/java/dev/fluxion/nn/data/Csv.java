package dev.fluxion.nn.data;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A CSV file with a header row, read into memory as text, whose numeric columns become tensors (as
 * pandas.read_csv followed by torch.tensor(df[cols].values)).
 *
 * <pre>{@code
 * Csv csv = Csv.read(Path.of("houses.csv"));                    // header: area,rooms,price
 * Tensor x = csv.tensor("area", "rooms");                       // (rows, 2) float32
 * Tensor y = csv.column("price");                               // (rows) float32
 * TensorDataset ds = csv.dataset(List.of("area", "rooms"), List.of("price"));
 * }</pre>
 *
 * Fields are separated by the delimiter (',' by default); a field in double quotes may hold the delimiter and
 * doubled quotes ("" for "), but not a line break. Blank lines are skipped. A row with another number of fields
 * than the header, or a value that does not parse as a number (empty fields included), fails with the file,
 * the line number (1 is the header) and the column.
 */
public final class Csv {
    private final String source;
    private final List<String> header;
    private final Map<String, Integer> byName = new HashMap<>();
    private final List<String[]> rows;
    private final int[] lines;   // the file line of each row

    private Csv(String source, List<String> header, List<String[]> rows, int[] lines) {
        this.source = source;
        this.header = List.copyOf(header);
        for (int i = 0; i < header.size(); i++) byName.putIfAbsent(header.get(i), i);
        this.rows = rows;
        this.lines = lines;
    }

    /** Reads a comma-separated UTF-8 file. */
    public static Csv read(Path file) { return read(file, ','); }

    /** Reads a UTF-8 file whose fields are separated by {@code delimiter}. */
    public static Csv read(Path file, char delimiter) {
        Objects.requireNonNull(file, "Csv.read: file is null");
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            return parse(file.toString(), in, delimiter);
        } catch (IOException e) {
            throw new UncheckedIOException("Csv.read: cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Parses CSV text; {@code source} names it in errors. */
    public static Csv parse(String source, BufferedReader in, char delimiter) throws IOException {
        List<String> header = null;
        List<String[]> rows = new ArrayList<>();
        List<Integer> lines = new ArrayList<>();
        String line;
        int lineNo = 0;
        while ((line = in.readLine()) != null) {
            lineNo++;
            if (line.isBlank()) continue;
            if (lineNo == 1 && !line.isEmpty() && line.charAt(0) == '\uFEFF') line = line.substring(1);   // a UTF-8 byte order mark
            List<String> fields = split(line, delimiter, source, lineNo);
            if (header == null) {
                header = fields;
                continue;
            }
            if (fields.size() != header.size())
                throw new IllegalArgumentException("Csv: " + source + " line " + lineNo + " has " + fields.size() + " fields, the header has "
                        + header.size());
            rows.add(fields.toArray(new String[0]));
            lines.add(lineNo);
        }
        if (header == null) throw new IllegalArgumentException("Csv: " + source + " is empty; expected a header row");
        return new Csv(source, header, rows, lines.stream().mapToInt(Integer::intValue).toArray());
    }

    private static List<String> split(String line, char delimiter, String source, int lineNo) {
        List<String> out = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') { field.append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.append(c);
            } else if (c == '"' && field.toString().isBlank()) {
                quoted = true;
                field.setLength(0);
            } else if (c == delimiter) {
                out.add(field.toString().trim());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        if (quoted) throw new IllegalArgumentException("Csv: " + source + " line " + lineNo + " ends inside a quoted field (line breaks in fields are not supported)");
        out.add(field.toString().trim());
        return out;
    }

    /** The column names, in file order. */
    public List<String> header() { return header; }

    /** Data rows (the header and blank lines not counted). */
    public int rows() { return rows.size(); }

    /** The text of a cell (row counts data rows from 0). */
    public String cell(int row, int column) { return rows.get(row)[checkIndex(column)]; }

    /** The named columns as a float32 (rows, k) tensor. */
    public Tensor tensor(String... columns) { return tensor(DType.FLOAT32, indices(columns)); }

    /** The columns at these 0-based indices as a float32 (rows, k) tensor. */
    public Tensor tensor(int... columns) { return tensor(DType.FLOAT32, columns); }

    /** The columns at these indices as a (rows, k) tensor of {@code dtype} (integer dtypes refuse fractions). */
    public Tensor tensor(DType dtype, int... columns) {
        Objects.requireNonNull(columns, "Csv.tensor: columns is null");
        if (columns.length == 0) throw new IllegalArgumentException("Csv.tensor: no columns selected");
        for (int c : columns) checkIndex(c);
        int n = rows.size(), k = columns.length;
        double[] values = new double[n * k];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < k; j++) values[r * k + j] = number(r, columns[j], dtype);
        Tensor t = Tensor.of(values, n, k);
        return dtype == DType.FLOAT64 ? t : t.to(dtype);
    }

    /** One named column as a float32 (rows) tensor, for targets. */
    public Tensor column(String name) { return column(name, DType.FLOAT32); }

    /** One named column as a (rows) tensor of {@code dtype}, e.g. INT64 class labels. */
    public Tensor column(String name, DType dtype) { return tensor(dtype, indices(name)).reshape(rows.size()); }

    /** A dataset of (features (k), targets (m)) float32 rows. */
    public TensorDataset dataset(List<String> features, List<String> targets) {
        return new TensorDataset(tensor(features.toArray(new String[0])), tensor(targets.toArray(new String[0])));
    }

    /** The indices of the named columns; an unknown name fails listing the header. */
    public int[] indices(String... names) {
        Objects.requireNonNull(names, "Csv: column names are null");
        int[] out = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            Integer c = byName.get(names[i]);
            if (c == null) throw new IllegalArgumentException("Csv: " + source + " has no column '" + names[i] + "'; its columns are " + header);
            out[i] = c;
        }
        return out;
    }

    private int checkIndex(int column) {
        if (column < 0 || column >= header.size())
            throw new IllegalArgumentException("Csv: column index " + column + " out of range for " + source + " with " + header.size() + " columns " + header);
        return column;
    }

    private double number(int row, int column, DType dtype) {
        String text = rows.get(row)[column];
        double v;
        try {
            v = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw bad(row, column, text, "a number");
        }
        if (!dtype.isFloatingPoint() && v != Math.rint(v)) throw bad(row, column, text, "an integer for " + dtype);
        return v;
    }

    private IllegalArgumentException bad(int row, int column, String text, String expected) {
        return new IllegalArgumentException("Csv: " + source + " line " + lines[row] + ", column " + (column + 1) + " '" + header.get(column)
                + "': cannot read '" + text + "' as " + expected);
    }

    @Override public String toString() { return "Csv(" + source + ": " + rows.size() + " rows, columns " + header + ")"; }
}

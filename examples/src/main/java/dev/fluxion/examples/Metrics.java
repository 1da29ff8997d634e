package dev.fluxion.examples;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** metrics.csv: step,loss,val_loss,lr,tokens_per_s (val_loss empty between evaluations); kept in memory for the plot. */
final class Metrics implements AutoCloseable {
    /** One row; valLoss is NaN where there was no evaluation. */
    record Row(long step, double loss, double valLoss) {}

    private final BufferedWriter out;
    private final List<Row> rows = new ArrayList<>();

    Metrics(Path file, boolean append) throws IOException {
        boolean header = !append || !Files.exists(file);
        if (append && Files.exists(file)) rows.addAll(readRows(file));
        out = Files.newBufferedWriter(file, append ? new StandardOpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.APPEND}
                : new StandardOpenOption[] {StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE});
        if (header) { out.write("step,loss,val_loss,lr,tokens_per_s\n"); out.flush(); }
    }

    private static List<Row> readRows(Path file) throws IOException {
        List<Row> r = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String[] f = line.split(",", -1);
            if (f.length < 3 || f[0].equals("step")) continue;
            r.add(new Row(Long.parseLong(f[0]), Double.parseDouble(f[1]), f[2].isEmpty() ? Double.NaN : Double.parseDouble(f[2])));
        }
        return r;
    }

    void append(long step, double loss, double valLoss, double lr, double tokensPerSecond) {
        rows.add(new Row(step, loss, valLoss));
        try {
            out.write(String.format(Locale.ROOT, "%d,%.6f,%s,%.6g,%.1f%n", step, loss, Double.isNaN(valLoss) ? "" : String.format(Locale.ROOT, "%.6f", valLoss), lr, tokensPerSecond));
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<Row> rows() { return List.copyOf(rows); }

    /**
     * Draws the rows into a PNG ({@link LossPlot}) and returns its path, or null where the Java runtime has no
     * java.desktop to draw with (the GPU bundle's trimmed runtime); metrics.csv holds the same figures either way.
     * LossPlot is not touched then: loading it there would fail on its AWT types.
     */
    Path plot(Path file, String title) throws IOException {
        if (ModuleLayer.boot().findModule("java.desktop").isEmpty()) return null;
        LossPlot.write(file, rows(), title);
        return file;
    }

    @Override public void close() throws IOException { out.close(); }
}

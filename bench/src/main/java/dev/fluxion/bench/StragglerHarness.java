package dev.fluxion.bench;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Training with a straggler: CharGpt on 4 ranks of this machine, rank 2 three times slower, in six modes: DDP
 * (bulk synchronous), parameter servers with SSP s = 1 and s = 3 and with ASP, and DiLoCo with H = 10 and 50.
 * Each mode runs for the same wall time through {@code bin/fluxrun}; rank 0's trace (validation loss against
 * wall time and bytes through rank 0) gives the table: time and bytes to reach a target validation loss (by
 * default the highest of the runs' best losses, so that every run reaches it), and the validation loss when
 * the time was up. It writes the plot (loss against wall time, loss against bytes) as a PNG.
 *
 * <pre>
 * mvn -B -q -DskipTests package
 * java -cp bench/target/classes dev.fluxion.bench.StragglerHarness [--seconds 30] [--target LOSS] [--out runs/straggler]
 * </pre>
 * Clocks start after each run's first step (loading and compiling) and pause while rank 0 evaluates.
 */
public final class StragglerHarness {
    private StragglerHarness() {}

    record Mode(String name, List<String> flags, Color color) {}

    record Point(double wall, long step, long bytes, double val) {}

    static final List<Mode> MODES = List.of(
            new Mode("DDP (BSP)", List.of(), new Color(0x222222)),
            new Mode("PS SSP s=1", List.of("--staleness", "1"), new Color(0x1f77b4)),
            new Mode("PS SSP s=3", List.of("--staleness", "3"), new Color(0x2ca02c)),
            new Mode("PS ASP", List.of("--asp"), new Color(0xd62728)),
            new Mode("DiLoCo H=10", List.of("--diloco", "10"), new Color(0x9467bd)),
            new Mode("DiLoCo H=50", List.of("--diloco", "50"), new Color(0xff7f0e)));

    public static void main(String[] args) throws Exception {
        double seconds = 30, target = Double.NaN;
        Path out = Path.of("runs/straggler");
        String data = "README.md";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds" -> seconds = Double.parseDouble(args[++i]);
                case "--target" -> target = Double.parseDouble(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--data" -> data = args[++i];
                default -> throw new IllegalArgumentException("StragglerHarness: unknown argument " + args[i]);
            }
        }
        Files.createDirectories(out);
        List<List<Point>> traces = new ArrayList<>();
        for (Mode m : MODES) {
            Path dir = out.resolve(m.name().replaceAll("[^A-Za-z0-9=]+", " ").strip().replace(' ', '-').toLowerCase(Locale.ROOT));
            List<String> cmd = new ArrayList<>(List.of("bin/fluxrun", "--nproc-per-node", "4", "dev.fluxion.examples.CharGpt"));
            cmd.addAll(m.flags());
            cmd.addAll(List.of("--slow-rank", "2:3x", "--time-limit", Double.toString(seconds), "--steps", "100000", "--eval-every", "5",
                    "--checkpoint-every", "1000000", "--layers", "1", "--width", "32", "--context", "16", "--batch", "4", "--lr", "3e-3",
                    "--data", data, "--out", dir.toString()));
            System.out.println("running " + m.name() + ": " + String.join(" ", cmd));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolveSibling(dir.getFileName() + ".log").toFile()).start();
            int rc = p.waitFor();
            if (rc != 0) throw new IllegalStateException(m.name() + " failed with exit code " + rc + "; see " + dir + ".log");
            traces.add(read(dir.resolve("trace.csv")));
        }
        if (Double.isNaN(target)) {
            target = -Double.MAX_VALUE;
            for (List<Point> t : traces) target = Math.max(target, t.stream().mapToDouble(Point::val).min().orElse(Double.NaN));
        }
        System.out.printf(Locale.ROOT, "%nCharGpt (1 layer, width 32, context 16, batch 4 per rank), 4 ranks, rank 2 slowed 3x, %.0f s per mode; target val loss %.3f%n", seconds, target);
        System.out.printf("%-12s | %9s | %13s | %14s | %17s | %16s%n", "mode", "steps r0", "s to target", "MB to target", "val loss at " + (int) seconds + " s", "MB/s (rank 0)");
        System.out.println("-------------+-----------+---------------+----------------+-------------------+-----------------");
        for (int i = 0; i < MODES.size(); i++) {
            List<Point> t = traces.get(i);
            Point reach = null;
            for (Point p : t) if (p.val() <= target) { reach = p; break; }
            Point atTime = null;
            for (Point p : t) if (p.wall() <= seconds) atTime = p;
            Point last = t.get(t.size() - 1);
            System.out.printf(Locale.ROOT, "%-12s | %9d | %13s | %14s | %17.3f | %16.2f%n", MODES.get(i).name(), last.step(),
                    reach == null ? "not reached" : String.format(Locale.ROOT, "%.1f", reach.wall()),
                    reach == null ? "-" : String.format(Locale.ROOT, "%.1f", reach.bytes() / 1e6),
                    atTime == null ? Double.NaN : atTime.val(), last.bytes() / 1e6 / Math.max(1e-9, last.wall()));
        }
        Path png = out.resolve("straggler.png");
        plot(png, traces, target);
        System.out.println("wrote " + png);
    }

    static List<Point> read(Path csv) throws IOException {
        List<Point> r = new ArrayList<>();
        for (String line : Files.readAllLines(csv)) {
            if (line.startsWith("wall")) continue;
            String[] f = line.split(",");
            r.add(new Point(Double.parseDouble(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), Double.parseDouble(f[3])));
        }
        if (r.isEmpty()) throw new IOException(csv + " has no rows");
        return r;
    }

    static void plot(Path file, List<List<Point>> traces, double target) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 1200, h = 520;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        panel(g, 0, w / 2, h, traces, Point::wall, "wall time (s)", target);
        panel(g, w / 2, w / 2, h, traces, p -> p.bytes() / 1e6, "MB through rank 0", target);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        for (int i = 0; i < MODES.size(); i++) {                  // legend, top right of the first panel
            g.setColor(MODES.get(i).color());
            g.fillRect(w / 2 - 150, 50 + 18 * i, 14, 4);
            g.drawString(MODES.get(i).name(), w / 2 - 130, 56 + 18 * i);
        }
        g.dispose();
        ImageIO.write(img, "png", file.toFile());
    }

    private static void panel(Graphics2D g, int x0, int w, int h, List<List<Point>> traces, ToDoubleFunction<Point> x, String xLabel, double target) {
        int left = x0 + 60, right = x0 + w - 20, top = 40, bottom = h - 50;
        double xMax = 1e-9, lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (List<Point> t : traces)
            for (Point p : t) { xMax = Math.max(xMax, x.applyAsDouble(p)); lo = Math.min(lo, p.val()); hi = Math.max(hi, p.val()); }
        if (hi <= lo) hi = lo + 1;
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString("validation loss vs " + xLabel + " (rank 2 slowed 3x)", left, 25);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int i = 0; i <= 5; i++) {
            int yy = bottom - (bottom - top) * i / 5, xx = left + (right - left) * i / 5;
            g.setColor(new Color(0xdddddd));
            g.drawLine(left, yy, right, yy);
            g.drawLine(xx, top, xx, bottom);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.2f", lo + (hi - lo) * i / 5), left - 40, yy + 4);
            g.drawString(String.format(Locale.ROOT, "%.0f", xMax * i / 5), xx - 8, bottom + 16);
        }
        g.drawString(xLabel, (left + right) / 2 - 40, bottom + 34);
        int ty = bottom - (int) ((target - lo) / (hi - lo) * (bottom - top));
        g.setColor(Color.GRAY);
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {5f, 5f}, 0f));
        g.drawLine(left, ty, right, ty);
        g.drawString("target", right - 40, ty - 4);
        g.setStroke(new BasicStroke(2f));
        for (int i = 0; i < traces.size(); i++) {
            g.setColor(MODES.get(i).color());
            int px = -1, py = -1;
            for (Point p : traces.get(i)) {
                int cx = left + (int) (x.applyAsDouble(p) / xMax * (right - left));
                int cy = bottom - (int) ((p.val() - lo) / (hi - lo) * (bottom - top));
                if (px >= 0) g.drawLine(px, py, cx, cy);
                px = cx;
                py = cy;
            }
        }
        g.setStroke(new BasicStroke(1f));
    }
}

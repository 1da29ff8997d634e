package dev.fluxion.examples;

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
import java.util.List;
import java.util.Locale;

/** Draws the training loss (and validation loss where measured) against the step into a PNG, headless. */
final class LossPlot {
    private LossPlot() {}

    static void write(Path file, List<Metrics.Row> rows, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        int w = 800, h = 500, left = 70, right = 20, top = 40, bottom = 50;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(title, left, 25);
        if (rows.isEmpty()) { ImageIO.write(img, "png", file.toFile()); return; }
        long minStep = rows.get(0).step(), maxStep = Math.max(rows.get(rows.size() - 1).step(), minStep + 1);
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (Metrics.Row r : rows) {
            for (double v : new double[] {r.loss(), r.valLoss()}) if (Double.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        }
        if (hi <= lo) hi = lo + 1;
        int pw = w - left - right, ph = h - top - bottom;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {                                   // axes, grid and labels
            int y = top + ph * i / 5;
            g.setColor(new Color(230, 230, 230));
            g.drawLine(left, y, left + pw, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.2f", hi - (hi - lo) * i / 5), 10, y + 4);
            int x = left + pw * i / 5;
            g.drawString(Long.toString(minStep + (maxStep - minStep) * i / 5), x - 10, h - bottom + 18);
        }
        g.drawString("step", left + pw / 2, h - 10);
        g.drawRect(left, top, pw, ph);
        g.setStroke(new BasicStroke(1.5f));
        plot(g, rows, true, new Color(31, 119, 180), left, top, pw, ph, minStep, maxStep, lo, hi);
        g.setStroke(new BasicStroke(2.5f));
        plot(g, rows, false, new Color(214, 39, 40), left, top, pw, ph, minStep, maxStep, lo, hi);
        g.setColor(new Color(31, 119, 180));
        g.drawString("train loss", left + pw - 150, top + 18);
        g.setColor(new Color(214, 39, 40));
        g.drawString("validation loss", left + pw - 150, top + 34);
        g.dispose();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        ImageIO.write(img, "png", tmp.toFile());
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void plot(Graphics2D g, List<Metrics.Row> rows, boolean train, Color color, int left, int top, int pw, int ph,
                             long minStep, long maxStep, double lo, double hi) {
        g.setColor(color);
        int px = -1, py = -1;
        for (Metrics.Row r : rows) {
            double v = train ? r.loss() : r.valLoss();
            if (!Double.isFinite(v)) continue;
            int x = left + (int) ((r.step() - minStep) * (double) pw / (maxStep - minStep));
            int y = top + (int) ((hi - v) / (hi - lo) * ph);
            if (px >= 0) g.drawLine(px, py, x, y);
            px = x;
            py = y;
        }
    }
}

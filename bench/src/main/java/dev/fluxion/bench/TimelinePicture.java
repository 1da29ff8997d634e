package dev.fluxion.bench;

import dev.fluxion.parallel.pipeline.Action;
import dev.fluxion.parallel.pipeline.Simulator;

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

/**
 * A pipeline timeline as a PNG: ranks as rows, computations as coloured boxes labelled with their micro-batch,
 * time to the right; with virtual stages, the boxes of a rank's odd-numbered chunks are darker.
 */
final class TimelinePicture {
    private TimelinePicture() {}

    private static final int WIDTH = 1200, ROW = 34, LEFT = 70, TOP = 40, BOTTOM = 40;

    static Color colour(Action.Kind k) {
        return switch (k) {
            case FORWARD -> new Color(0x4C78A8);
            case BACKWARD -> new Color(0x54A24B);
            case BACKWARD_INPUT -> new Color(0x88D27A);
            case BACKWARD_WEIGHT -> new Color(0xF58518);
            default -> Color.LIGHT_GRAY;
        };
    }

    /** Writes the slots of ranks 0..ranks-1 (transfers are left out; a receive's wait shows as a gap). */
    static void write(Path file, String title, int ranks, List<Simulator.Slot> slots, String unit) throws IOException {
        double end = 0;
        for (Simulator.Slot s : slots) end = Math.max(end, s.end());
        int height = TOP + ranks * ROW + BOTTOM;
        BufferedImage img = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, LEFT, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        double scale = (WIDTH - LEFT - 20) / Math.max(end, 1e-12);
        for (int r = 0; r < ranks; r++) {
            int y = TOP + r * ROW;
            g.setColor(Color.BLACK);
            g.drawString("rank " + r, 10, y + ROW / 2 + 4);
            g.setColor(new Color(0xEEEEEE));
            g.fillRect(LEFT, y + 3, WIDTH - LEFT - 20, ROW - 6);
        }
        for (Simulator.Slot s : slots) {
            if (s.action().kind().isTransfer()) continue;
            int x0 = LEFT + (int) Math.round(s.start() * scale), x1 = LEFT + (int) Math.round(s.end() * scale);
            int y = TOP + s.rank() * ROW + 3;
            Color c = colour(s.action().kind());
            g.setColor(s.action().stage() / ranks % 2 == 1 ? c.darker() : c);     // interleaving: odd chunks darker
            g.fillRect(x0, y, Math.max(1, x1 - x0), ROW - 6);
            g.setColor(Color.WHITE);
            g.setStroke(new BasicStroke(1));
            g.drawRect(x0, y, Math.max(1, x1 - x0), ROW - 6);
            String label = Integer.toString(s.action().microbatch());
            if (x1 - x0 > 12) {
                g.setColor(Color.BLACK);
                g.drawString(label, x0 + 3, y + ROW / 2 + 1);
            }
        }
        int ly = TOP + ranks * ROW + 22, lx = LEFT;
        for (Action.Kind k : new Action.Kind[] {Action.Kind.FORWARD, Action.Kind.BACKWARD, Action.Kind.BACKWARD_INPUT, Action.Kind.BACKWARD_WEIGHT}) {
            g.setColor(colour(k));
            g.fillRect(lx, ly - 10, 14, 12);
            g.setColor(Color.BLACK);
            String name = switch (k) { case FORWARD -> "forward"; case BACKWARD -> "backward"; case BACKWARD_INPUT -> "input grad (I)"; default -> "weight grad (W)"; };
            g.drawString(name, lx + 18, ly);
            lx += 130;
        }
        g.drawString(String.format("%.3g %s", end, unit), WIDTH - 140, ly);
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }
}

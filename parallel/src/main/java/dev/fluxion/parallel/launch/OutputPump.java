package dev.fluxion.parallel.launch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Copies a child's stream to ours line by line, each line prefixed with the rank ("[rank 3] "), and hands
 * every line to a listener (the launcher reads the ranks' failure reports from them).
 */
final class OutputPump extends Thread {
    private final InputStream in;
    private final PrintStream out;
    private final byte[] prefix;
    private final Consumer<String> listener;

    OutputPump(InputStream in, PrintStream out, String prefix, Consumer<String> listener) {
        super("fluxrun-pump " + prefix.trim());
        setDaemon(true);
        this.in = in;
        this.out = out;
        this.prefix = prefix.getBytes(StandardCharsets.UTF_8);
        this.listener = listener;
    }

    @Override public void run() {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try (in) {
            int n;
            while ((n = in.read(buf)) > 0) {
                for (int i = 0; i < n; i++) {
                    line.write(buf[i]);
                    if (buf[i] == '\n') { emit(line); line.reset(); }
                }
            }
        } catch (IOException e) {
            // the child is gone; what it wrote is flushed below
        }
        if (line.size() > 0) { line.write('\n'); emit(line); }
    }

    /**
     * Writes prefix and line in one call: stdout and stderr pumps of several ranks often share one terminal or
     * pipe, and a prefix written on its own (an autoflushing stream sends it at once) let another rank's line
     * land between a prefix and its text.
     */
    private void emit(ByteArrayOutputStream line) {
        listener.accept(line.toString(StandardCharsets.UTF_8));
        byte[] whole = new byte[prefix.length + line.size()];
        System.arraycopy(prefix, 0, whole, 0, prefix.length);
        System.arraycopy(line.toByteArray(), 0, whole, prefix.length, line.size());
        synchronized (out) {
            out.write(whole, 0, whole.length);
            out.flush();
        }
    }
}

package dev.fluxion.parallel;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The line a rank writes to its standard error when a process group breaks and the ranks agree on whom to
 * blame, so that {@code bin/fluxrun} can name the cause rather than the first rank that exited:
 *
 * <pre>
 * FLUXION_FAILED_PEER rank=2 reporter=1 op=allReduce #41 (FLOAT32 [2000000], SUM)
 * </pre>
 *
 * Written only when the launcher asks for it (it sets {@value #ENV} to 1), one line per rank named, with
 * global ranks.
 */
public final class FailedPeer {
    private FailedPeer() {}

    /** The variable with which the launcher asks its ranks for these lines. */
    public static final String ENV = "FLUXION_FAILED_PEER_LINES";

    private static final String TAG = "FLUXION_FAILED_PEER";
    private static final Pattern LINE = Pattern.compile("FLUXION_FAILED_PEER rank=(\\d+) reporter=(\\d+)");

    /** A parsed line: reporter names rank as the cause. */
    public record Blame(int rank, int reporter) {}

    /** Writes one line per culprit to System.err when the launcher asked for them (see {@link #ENV}). */
    public static void print(int reporter, int[] culprits, String op) {
        print(System.getenv(), reporter, culprits, op);
    }

    static void print(Map<String, String> env, int reporter, int[] culprits, String op) {
        if (!"1".equals(env.get(ENV)) || culprits.length == 0) return;
        StringBuilder b = new StringBuilder();
        for (int c : culprits) b.append(line(c, reporter, op)).append('\n');
        System.err.print(b);
        System.err.flush();
    }

    /** The line itself (op is free text; line breaks in it become spaces). */
    public static String line(int rank, int reporter, String op) {
        return TAG + " rank=" + rank + " reporter=" + reporter + " op=" + op.replace('\n', ' ').replace('\r', ' ');
    }

    /** The blames in one line of a rank's output (empty when it is not such a line; a prefix before the tag is allowed). */
    public static List<Blame> parse(String line) {
        List<Blame> out = new ArrayList<>();
        if (!line.contains(TAG)) return out;
        Matcher m = LINE.matcher(line);
        while (m.find()) {
            try { out.add(new Blame(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)))); } catch (NumberFormatException ignored) { }
        }
        return out;
    }
}

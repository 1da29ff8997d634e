package dev.fluxion.parallel.launch;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which rank fluxrun blames for a failed job, from what it saw of its own ranks during the grace period
 * after the first failure. In order: a rank killed by a signal it did not send (its death is the cause; its
 * peers only noticed it); else the rank most named by the others' {@code FLUXION_FAILED_PEER} lines (a
 * stalled or unreachable rank exits last, or never, while its peers fail first); else the first rank that
 * exited non-zero.
 */
record Culprit(int rank, String why, int exitCode) {
    /** What fluxrun knows of one of its ranks: its exit code (null while running), whether it is stopped, whom it named. */
    record Seen(int rank, Integer exit, boolean stopped, Set<Integer> named) {}

    static Culprit of(List<Seen> ranks, int firstFailed, int firstCode) { return of(ranks, firstFailed, firstCode, r -> -1); }

    /** nodeOf gives the node a rank runs on (-1: unknown), to name it when the culprit is not one of this launcher's ranks. */
    static Culprit of(List<Seen> ranks, int firstFailed, int firstCode, java.util.function.IntUnaryOperator nodeOf) {
        for (Seen s : ranks)
            if (s.exit() != null && s.exit() > 128)
                return new Culprit(s.rank(), "was killed by signal " + (s.exit() - 128) + " (exit code " + s.exit() + ")" + namedBy(ranks, s.rank()), s.exit());
        Map<Integer, Set<Integer>> accusers = new TreeMap<>();
        for (Seen s : ranks) for (int n : s.named()) if (n != s.rank()) accusers.computeIfAbsent(n, k -> new TreeSet<>()).add(s.rank());
        int best = -1;
        for (Map.Entry<Integer, Set<Integer>> e : accusers.entrySet())
            if (best < 0 || e.getValue().size() > accusers.get(best).size()) best = e.getKey();
        if (best >= 0) {
            Seen s = find(ranks, best);
            String named = namedBy(ranks, best);
            if (s == null) {
                int node = nodeOf.applyAsInt(best);
                return new Culprit(best, "(on " + (node >= 0 ? "node " + node : "another node") + ") failed or is unreachable" + named, firstCode);
            }
            if (s.exit() == null)
                return new Culprit(best, (s.stopped() ? "was stopped (SIGSTOP)" : "stalled: it was still running") + named, firstCode);
            return new Culprit(best, describe(s.exit()) + named, s.exit() != 0 ? s.exit() : firstCode);
        }
        return new Culprit(firstFailed, describe(firstCode), firstCode);
    }

    private static Seen find(List<Seen> ranks, int rank) {
        for (Seen s : ranks) if (s.rank() == rank) return s;
        return null;
    }

    private static String namedBy(List<Seen> ranks, int culprit) {
        List<String> who = new ArrayList<>();
        for (Seen s : ranks) if (s.rank() != culprit && s.named().contains(culprit)) who.add(String.valueOf(s.rank()));
        if (who.isEmpty()) return "";
        return who.size() == 1 ? "; rank " + who.get(0) + " names it as the cause" : "; ranks " + String.join(", ", who) + " name it as the cause";
    }

    static String describe(int code) {
        return code > 128 ? "was killed by signal " + (code - 128) + " (exit code " + code + ")" : "failed with exit code " + code;
    }
}

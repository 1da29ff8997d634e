package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.store.Store;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.IntFunction;

/**
 * Works out which rank to blame when an operation fails. A rank only sees its own neighbours: in a ring
 * where rank 3 died, rank 1 merely times out waiting for rank 0. So each failing rank files a report in the
 * store (what it saw, and about whom), then reads the others' for a short grace period: a rank that others
 * lost their connection to and that filed nothing has died; a rank that filed nothing while the rest timed
 * out is stalled (or dead). The verdict leads the exception's message; this rank's own view follows it.
 */
final class Diagnosis {
    private Diagnosis() {}

    record Report(LinkFailure.Kind kind, int peer, String op, String detail) {
        String encode() { return kind + "\n" + peer + "\n" + op + "\n" + detail; }

        static Report decode(byte[] b) {
            String[] f = new String(b, StandardCharsets.UTF_8).split("\n", 4);
            return new Report(LinkFailure.Kind.valueOf(f[0]), Integer.parseInt(f[1]), f[2], f.length > 3 ? f[3] : "");
        }
    }

    /** The verdict's sentence and the group ranks it names as the cause (culprits; empty when it names none). */
    record Verdict(String text, List<Integer> culprits) {}

    private static String key(String ns, int rank) { return ns + "/failed/" + rank; }

    /** Files this rank's report; false when the store cannot be reached. */
    static boolean file(Store store, String ns, int rank, Report r) {
        try {
            store.set(key(ns, rank), r.encode());
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * Collects the reports of the other ranks until d and returns the verdict, a sentence naming the rank(s)
     * responsible. storeOk says whether this rank could file its own report; storeHost is the group rank of
     * world rank 0, which hosts the store (-1 when it is not in this group).
     */
    static Verdict verdict(Store store, String ns, int rank, int size, Report mine, boolean storeOk, Deadline d, int storeHost, IntFunction<String> names) {
        if (!storeOk)
            return new Verdict("the store on world rank 0 is unreachable, so rank 0 has probably died, stalled or exited", storeHost < 0 ? List.of() : List.of(storeHost));
        Map<Integer, Report> reports = new TreeMap<>();
        reports.put(rank, mine);
        boolean storeLost = false;
        while (true) {
            for (int p = 0; p < size; p++) {
                if (reports.containsKey(p)) continue;
                try {
                    Optional<byte[]> b = store.tryGet(key(ns, p));
                    if (b.isPresent()) reports.put(p, Report.decode(b.get()));
                } catch (RuntimeException e) {
                    storeLost = !d.passed();   // a call cut short by this rank's own deadline says nothing about the store
                    if (d.passed()) break;
                }
            }
            if (storeLost || d.passed() || reports.size() == size || everyMissingIsAccused(reports, size) || d.passed()) break;
            try { Thread.sleep(Math.min(50, Math.max(1, d.millisLeft()))); } catch (InterruptedException e) { Thread.currentThread().interrupt(); break; }
        }
        for (Report r : reports.values())
            if (r.kind() == LinkFailure.Kind.MISMATCH) return new Verdict("ranks called different operations: " + r.detail(), List.of());
        TreeMap<Integer, List<Integer>> accused = new TreeMap<>();   // silent rank -> ranks that lost their link to it
        TreeSet<Integer> silent = new TreeSet<>();
        for (int p = 0; p < size; p++) if (!reports.containsKey(p)) silent.add(p);
        for (Map.Entry<Integer, Report> e : reports.entrySet()) {
            Report r = e.getValue();
            if (r.peer() >= 0 && r.kind() != LinkFailure.Kind.TIMEOUT && silent.contains(r.peer()))
                accused.computeIfAbsent(r.peer(), k -> new ArrayList<>()).add(e.getKey());
        }
        if (!accused.isEmpty()) {
            List<String> parts = new ArrayList<>();
            for (Map.Entry<Integer, List<Integer>> e : accused.entrySet())
                parts.add(names.apply(e.getKey()) + " has died or dropped its connections (" + list(e.getValue(), names) + " lost " + (e.getValue().size() == 1 ? "its link" : "their links") + " to it)");
            return new Verdict(String.join("; ", parts), List.copyOf(accused.keySet()));
        }
        if (!silent.isEmpty()) {
            String who = list(new ArrayList<>(silent), names);
            if (storeLost)
                return new Verdict(who + " did not report, and the store on world rank 0 stopped answering (rank 0 has probably died)",
                        storeHost < 0 ? List.copyOf(silent) : List.of(storeHost));
            return new Verdict(who + " did not reach or finish this operation within the timeout and filed no report: stalled or dead", List.copyOf(silent));
        }
        if (mine.peer() >= 0) return new Verdict(names.apply(mine.peer()) + ", which this rank waited on, failed too: " + reports.get(mine.peer()).detail(), List.of());
        return new Verdict("every rank reported a failure; see this rank's view", List.of());
    }

    private static boolean everyMissingIsAccused(Map<Integer, Report> reports, int size) {
        for (int p = 0; p < size; p++) {
            if (reports.containsKey(p)) continue;
            boolean accused = false;
            for (Report r : reports.values()) accused |= r.peer() == p && r.kind() != LinkFailure.Kind.TIMEOUT;
            if (!accused) return false;
        }
        return true;
    }

    private static String list(List<Integer> ranks, IntFunction<String> names) {
        List<String> s = new ArrayList<>();
        for (int i = 0; i < ranks.size() && i < 8; i++) s.add(names.apply(ranks.get(i)));
        if (ranks.size() > 8) s.add("and " + (ranks.size() - 8) + " more");
        return String.join(", ", s);
    }
}

package dev.fluxion.parallel.pipeline;

import java.util.ArrayList;
import java.util.List;

/**
 * Generators of the usual schedules. Each first orders a rank's computations (forwards and backwards), then
 * {@link #withTransfers} adds the transfers: a receive just before the computation that needs the data, a
 * send just after the computation that makes it.
 */
public final class Schedules {
    private Schedules() {}

    /** Names accepted by {@link #byName}. */
    public static final List<String> NAMES = List.of("gpipe", "1f1b", "interleaved", "zb-h1");

    /** A generator by name: gpipe, 1f1b, interleaved (with v virtual stages per rank) or zb-h1. */
    public static Schedule byName(String name, int ranks, int microbatches, int virtualStages) {
        return switch (name) {
            case "gpipe" -> gpipe(ranks, microbatches);
            case "1f1b" -> oneForwardOneBackward(ranks, microbatches);
            case "interleaved" -> interleaved(ranks, virtualStages, microbatches);
            case "zb-h1" -> zeroBubbleH1(ranks, microbatches);
            default -> throw new IllegalArgumentException("Schedules: unknown schedule '" + name + "'; expected one of " + NAMES);
        };
    }

    /** GPipe: every forward, then every backward (in micro-batch order); m micro-batches of activations in flight. */
    public static Schedule gpipe(int p, int m) {
        check(p, m);
        List<List<Action>> order = new ArrayList<>();
        for (int r = 0; r < p; r++) {
            List<Action> l = new ArrayList<>();
            for (int i = 0; i < m; i++) l.add(Action.forward(r, i));
            for (int i = 0; i < m; i++) l.add(Action.backward(r, i));
            order.add(l);
        }
        return withTransfers("gpipe", p, p, m, order);
    }

    /**
     * 1F1B (PipeDream-Flush) as Megatron's forward_backward_pipelining_without_interleaving: rank r runs
     * min(p - r - 1, m) warm-up forwards, then alternates one forward and one backward of the oldest in-flight
     * micro-batch, then drains the remaining backwards; at most p - r micro-batches are in flight.
     */
    public static Schedule oneForwardOneBackward(int p, int m) {
        check(p, m);
        List<List<Action>> order = new ArrayList<>();
        for (int r = 0; r < p; r++) {
            int warmup = Math.min(p - r - 1, m), remaining = m - warmup;
            List<Action> l = new ArrayList<>();
            for (int i = 0; i < warmup; i++) l.add(Action.forward(r, i));
            for (int i = 0; i < remaining; i++) {
                l.add(Action.forward(r, i + warmup));
                l.add(Action.backward(r, i));
            }
            for (int i = remaining; i < m; i++) l.add(Action.backward(r, i));
            order.add(l);
        }
        return withTransfers("1f1b", p, p, m, order);
    }

    /**
     * Interleaved 1F1B (Megatron's virtual pipeline): v stages per rank, stage c*p + r on rank r. Micro-batches
     * go in groups of p through each chunk in turn; warm-up is (p - r - 1) * 2 + (v - 1) * p forwards (clamped
     * to m * v), then one forward and one backward alternate. m must be a multiple of p.
     */
    public static Schedule interleaved(int p, int v, int m) {
        check(p, m);
        if (v < 2) throw new IllegalArgumentException("Schedules.interleaved: " + v + " virtual stages per rank; expected >= 2 (v = 1 is 1f1b)");
        if (m % p != 0) throw new IllegalArgumentException("Schedules.interleaved: " + m + " micro-batches is not a multiple of the " + p + " ranks");
        int total = m * v;
        List<List<Action>> order = new ArrayList<>();
        for (int r = 0; r < p; r++) {
            int warmup = Math.min((p - r - 1) * 2 + (v - 1) * p, total);
            List<Action> l = new ArrayList<>();
            for (int k = 0; k < warmup; k++) l.add(virtual(p, v, r, k, true));
            for (int k = 0; k < total - warmup; k++) {
                l.add(virtual(p, v, r, k + warmup, true));
                l.add(virtual(p, v, r, k, false));
            }
            for (int k = total - warmup; k < total; k++) l.add(virtual(p, v, r, k, false));
            order.add(l);
        }
        return withTransfers("interleaved", p, p * v, m, order);
    }

    /** The k-th forward (or backward) of rank r in the interleaved order: chunk changes every p micro-batches. */
    private static Action virtual(int p, int v, int r, int k, boolean forward) {
        int group = k / (p * v), within = k % (p * v);
        int chunk = within / p, mb = group * p + within % p;
        if (!forward) chunk = v - 1 - chunk;
        return forward ? Action.forward(chunk * p + r, mb) : Action.backward(chunk * p + r, mb);
    }

    /**
     * ZB-H1 (Qi et al., "Zero Bubble Pipeline Parallelism", handcrafted schedule 1): the backward split into
     * the input gradient (I) and the weight gradient (W). Rank r runs 1F1B's p - r warm-up forwards, then for
     * each micro-batch j: I(j), W(j - r) (the W's start r micro-batches late), and the next forward, then the
     * remaining W's, which fill what were 1F1B's drain bubbles. Every rank then holds at most p micro-batches
     * of activations (forward run, W not yet), 1F1B's peak; with equal F, I and W times a rank idles p - 1
     * units where 1F1B idles 3(p - 1).
     */
    public static Schedule zeroBubbleH1(int p, int m) {
        check(p, m);
        List<List<Action>> order = new ArrayList<>();
        for (int r = 0; r < p; r++) {
            List<Action> l = new ArrayList<>();
            int f = 0, w = 0;
            for (; f < Math.min(p - r, m); f++) l.add(Action.forward(r, f));
            for (int j = 0; j < m; j++) {
                l.add(Action.backwardInput(r, j));
                if (j >= r) l.add(Action.backwardWeight(r, w++));
                if (f < m) l.add(Action.forward(r, f++));
            }
            while (w < m) l.add(Action.backwardWeight(r, w++));
            order.add(l);
        }
        return withTransfers("zb-h1", p, p, m, order);
    }

    /**
     * Adds transfers to per-rank computation orders (stage s on rank s % p): before a forward, the receive of
     * its input activation from the previous stage's rank; after it, the send to the next stage's rank; before
     * an input backward (B or I), the receive of its output gradient; after it, the send of its input gradient.
     * Stages on the same rank hand data over without a transfer.
     */
    public static Schedule withTransfers(String name, int ranks, int stages, int m, List<List<Action>> computeOrder) {
        List<List<Action>> out = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            List<Action> l = new ArrayList<>();
            for (Action a : computeOrder.get(r)) {
                int s = a.stage(), i = a.microbatch();
                boolean prevRemote = s > 0 && (s - 1) % ranks != r, nextRemote = s < stages - 1 && (s + 1) % ranks != r;
                if (a.kind() == Action.Kind.FORWARD) {
                    if (prevRemote) l.add(new Action(Action.Kind.RECV_ACTIVATION, s, i));
                    l.add(a);
                    if (nextRemote) l.add(new Action(Action.Kind.SEND_ACTIVATION, s, i));
                } else if (a.kind().producesInputGradient()) {
                    if (nextRemote) l.add(new Action(Action.Kind.RECV_GRADIENT, s, i));
                    l.add(a);
                    if (prevRemote) l.add(new Action(Action.Kind.SEND_GRADIENT, s, i));
                } else {
                    l.add(a);
                }
            }
            out.add(l);
        }
        return new Schedule(name, ranks, stages, m, out);
    }

    private static void check(int p, int m) {
        if (p < 1 || m < 1) throw new IllegalArgumentException("Schedules: " + p + " ranks and " + m + " micro-batches; both must be >= 1");
    }
}

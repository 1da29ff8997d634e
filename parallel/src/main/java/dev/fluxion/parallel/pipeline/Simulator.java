package dev.fluxion.parallel.pipeline;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Replays a schedule on a model of the machine: each rank runs its actions in order; a send is eager (it
 * posts its message and goes on); a receive waits for the message, and the messages between two ranks in
 * one direction, activations and gradients each, are matched in order (as a process group's send/recv are).
 * The replay checks every dependency as it goes, so it also serves {@link ScheduleValidator}: it throws a
 * {@link ScheduleException} naming the rank and the action for a backward before its forward, a forward
 * before its input arrived, a receive that gets another action's message, a deadlock, or a send nobody receives.
 *
 * <p>Times: {@link Costs} give the cost of one micro-batch through one rank's share of the model; a stage
 * action costs that divided by the stages per rank. Idle time of a rank = step time - its compute time;
 * the bubble fraction is the idle time over all ranks divided by ranks x step time.
 */
public final class Simulator {
    private Simulator() {}

    /**
     * Costs of one micro-batch through one rank's share of the model (any unit).
     *
     * @param forward        a forward
     * @param backwardInput  the input-gradient part of a backward
     * @param backwardWeight the weight-gradient part (a whole backward costs both)
     * @param latency        from a send to the earliest matching receive's end
     * @param messageBytes   bytes of one transfer (an activation or its gradient of one micro-batch)
     */
    public record Costs(double forward, double backwardInput, double backwardWeight, double latency, long messageBytes) {
        /** Forward 1, backward 2 (1 + 1), free transfers of 0 bytes. */
        public static final Costs UNIT = new Costs(1, 1, 1, 0, 0);

        public Costs {
            if (!(forward >= 0 && backwardInput >= 0 && backwardWeight >= 0 && latency >= 0) || messageBytes < 0
                    || !Double.isFinite(forward + backwardInput + backwardWeight + latency))
                throw new IllegalArgumentException("Simulator.Costs: every cost must be >= 0 and finite, got " + forward + ", " + backwardInput + ", " + backwardWeight + ", " + latency + ", " + messageBytes);
        }

        public Costs withMessageBytes(long b) { return new Costs(forward, backwardInput, backwardWeight, latency, b); }

        public Costs withLatency(double l) { return new Costs(forward, backwardInput, backwardWeight, l, messageBytes); }
    }

    /** When one action ran. */
    public record Slot(int rank, Action action, double start, double end) {}

    /**
     * What a replay predicts.
     *
     * @param stepTime     when the last action ends
     * @param busy         per rank, its compute time
     * @param peakInFlight per rank, the most (stage, micro-batch) activations held at once (forward run, backward not finished)
     * @param bytesSent    per rank, bytes it sent
     * @param timeline     every action with its start and end
     */
    public record Result(Schedule schedule, double stepTime, double[] busy, int[] peakInFlight, long[] bytesSent, List<Slot> timeline) {
        /** Idle time over all ranks divided by ranks x step time. */
        public double bubbleFraction() {
            double idle = 0;
            for (double b : busy) idle += stepTime - b;
            return idle / (busy.length * stepTime);
        }

        /** Idle time over compute time, (p-1)/m for GPipe and 1F1B: what interleaving divides by v. */
        public double bubbleOverCompute() {
            double idle = 0, work = 0;
            for (double b : busy) { idle += stepTime - b; work += b; }
            return idle / work;
        }

        public long totalBytesSent() {
            long s = 0;
            for (long b : bytesSent) s += b;
            return s;
        }

        public int maxPeakInFlight() {
            int m = 0;
            for (int k : peakInFlight) m = Math.max(m, k);
            return m;
        }
    }

    /** Replays the schedule with the given costs; throws {@link ScheduleException} if it cannot run. */
    public static Result simulate(Schedule s, Costs costs) { return replay(s, costs, -1); }

    /** As {@link #simulate}; also rejects a rank holding more than maxInFlight activations (-1: no bound). */
    static Result replay(Schedule s, Costs costs, int maxInFlight) {
        return new Replay(s, costs, maxInFlight).run();
    }

    private record Message(Action send, double arrival) {}

    private static final class Replay {
        final Schedule s;
        final Costs c;
        final int bound, p, S, m;
        final int[] pc;
        final double[] clock, busy;
        final int[] inFlight, peak;
        final long[] bytes;
        final boolean[][] fDone, inGradDone, wDone, inputReady, gradReady, split;
        final Map<Long, ArrayDeque<Message>> channels = new HashMap<>();
        final List<Slot> timeline = new ArrayList<>();

        Replay(Schedule s, Costs c, int bound) {
            this.s = s; this.c = c; this.bound = bound;
            p = s.ranks(); S = s.stages(); m = s.microbatches();
            pc = new int[p]; clock = new double[p]; busy = new double[p]; inFlight = new int[p]; peak = new int[p]; bytes = new long[p];
            fDone = new boolean[S][m]; inGradDone = new boolean[S][m]; wDone = new boolean[S][m];
            inputReady = new boolean[S][m]; gradReady = new boolean[S][m]; split = new boolean[S][m];
        }

        ScheduleException fail(int rank, Action a, String why) { return new ScheduleException(s.name(), rank, a, why); }

        /** Channel key: from, to, and whether it carries gradients. */
        long channel(int from, int to, boolean grad) { return ((long) from * p + to) * 2 + (grad ? 1 : 0); }

        Result run() {
            boolean progress = true;
            while (progress) {
                progress = false;
                for (int r = 0; r < p; r++)
                    while (pc[r] < s.actions(r).size() && step(r, s.actions(r).get(pc[r]))) { pc[r]++; progress = true; }
            }
            List<String> blocked = new ArrayList<>();
            int firstRank = -1;
            for (int r = 0; r < p; r++)
                if (pc[r] < s.actions(r).size()) {
                    if (firstRank < 0) firstRank = r;
                    Action a = s.actions(r).get(pc[r]);
                    blocked.add("rank " + r + " waits at action #" + pc[r] + " " + a + " for rank " + peer(a));
                }
            if (firstRank >= 0) throw fail(firstRank, s.actions(firstRank).get(pc[firstRank]), "deadlock: " + String.join("; ", blocked));
            for (var e : channels.entrySet())
                if (!e.getValue().isEmpty()) {
                    int from = (int) (e.getKey() / 2 / p), to = (int) (e.getKey() / 2 % p);
                    throw fail(from, e.getValue().peek().send(), "send without a receive: rank " + to + " never receives it");
                }
            for (int st = 0; st < S; st++)
                for (int i = 0; i < m; i++) {
                    int r = s.rankOf(st);
                    if (!fDone[st][i]) throw fail(r, Action.forward(st, i), "missing: the schedule never runs this forward");
                    if (!inGradDone[st][i]) throw fail(r, Action.backward(st, i), "missing: the schedule never runs this micro-batch's backward");
                    if (split[st][i] && !wDone[st][i]) throw fail(r, Action.backwardWeight(st, i), "missing: the weight gradient of an I is never computed");
                }
            double end = 0;
            for (double t : clock) end = Math.max(end, t);
            return new Result(s, end, busy, peak, bytes, timeline);
        }

        int peer(Action a) {
            return switch (a.kind()) {
                case SEND_ACTIVATION, RECV_GRADIENT -> s.rankOf(a.stage() + 1);
                case RECV_ACTIVATION, SEND_GRADIENT -> s.rankOf(a.stage() - 1);
                default -> -1;
            };
        }

        /** Runs a at rank r if it can run now; false if it must wait for a message; throws if it can never run. */
        boolean step(int r, Action a) {
            int st = a.stage(), i = a.microbatch();
            if (st >= S) throw fail(r, a, "stage " + st + " is outside 0.." + (S - 1));
            if (i >= m) throw fail(r, a, "micro-batch " + i + " is outside 0.." + (m - 1));
            if (s.rankOf(st) != r) throw fail(r, a, "stage " + st + " lives on rank " + s.rankOf(st) + " (stage s on rank s % " + p + ")");
            double v = s.stagesPerRank();
            switch (a.kind()) {
                case FORWARD -> {
                    if (fDone[st][i]) throw fail(r, a, "runs a second time");
                    if (st > 0 && !inputReady[st][i])
                        throw fail(r, a, "runs before its input: no earlier " + (s.rankOf(st - 1) == r ? Action.forward(st - 1, i) : new Action(Action.Kind.RECV_ACTIVATION, st, i)) + " on this rank");
                    fDone[st][i] = true;
                    if (st + 1 < S && s.rankOf(st + 1) == r) inputReady[st + 1][i] = true;
                    hold(r, a, +1);
                    compute(r, a, c.forward() / v);
                }
                case BACKWARD, BACKWARD_INPUT -> {
                    if (!fDone[st][i]) throw fail(r, a, "runs a backward before its forward " + Action.forward(st, i));
                    if (inGradDone[st][i]) throw fail(r, a, "runs a second backward of this micro-batch");
                    if (st < S - 1 && !gradReady[st][i])
                        throw fail(r, a, "runs before its output gradient: no earlier " + (s.rankOf(st + 1) == r ? "backward of stage " + (st + 1) : new Action(Action.Kind.RECV_GRADIENT, st, i)) + " on this rank");
                    inGradDone[st][i] = true;
                    split[st][i] = a.kind() == Action.Kind.BACKWARD_INPUT;
                    if (st > 0 && s.rankOf(st - 1) == r) gradReady[st - 1][i] = true;
                    if (!split[st][i]) hold(r, a, -1);
                    compute(r, a, (split[st][i] ? c.backwardInput() : c.backwardInput() + c.backwardWeight()) / v);
                }
                case BACKWARD_WEIGHT -> {
                    if (!inGradDone[st][i] || !split[st][i]) throw fail(r, a, "runs before its input-gradient backward " + Action.backwardInput(st, i));
                    if (wDone[st][i]) throw fail(r, a, "runs a second time");
                    wDone[st][i] = true;
                    hold(r, a, -1);
                    compute(r, a, c.backwardWeight() / v);
                }
                case SEND_ACTIVATION, SEND_GRADIENT -> {
                    boolean grad = a.kind() == Action.Kind.SEND_GRADIENT;
                    int to = grad ? st - 1 : st + 1;
                    if (to < 0 || to >= S) throw fail(r, a, "stage " + st + " has no " + (grad ? "previous" : "next") + " stage to send to");
                    if (s.rankOf(to) == r) throw fail(r, a, "stage " + to + " is on this rank too; it needs no transfer");
                    if (grad ? !inGradDone[st][i] : !fDone[st][i]) throw fail(r, a, "sends before computing what it sends");
                    channels.computeIfAbsent(channel(r, s.rankOf(to), grad), k -> new ArrayDeque<>()).add(new Message(a, clock[r] + c.latency()));
                    bytes[r] += c.messageBytes();
                    timeline.add(new Slot(r, a, clock[r], clock[r]));
                }
                case RECV_ACTIVATION, RECV_GRADIENT -> {
                    boolean grad = a.kind() == Action.Kind.RECV_GRADIENT;
                    int from = grad ? st + 1 : st - 1;
                    if (from < 0 || from >= S) throw fail(r, a, "stage " + st + " has no " + (grad ? "next" : "previous") + " stage to receive from");
                    if (s.rankOf(from) == r) throw fail(r, a, "stage " + from + " is on this rank too; it needs no transfer");
                    ArrayDeque<Message> q = channels.get(channel(s.rankOf(from), r, grad));
                    if (q == null || q.isEmpty()) return false;
                    Action expected = new Action(grad ? Action.Kind.SEND_GRADIENT : Action.Kind.SEND_ACTIVATION, from, i);
                    if (!q.peek().send().equals(expected))
                        throw fail(r, a, "would receive the data of rank " + s.rankOf(from) + "'s " + q.peek().send() + " (transfers between two ranks are matched in order); expected " + expected);
                    double arrival = q.poll().arrival(), start = clock[r];
                    clock[r] = Math.max(clock[r], arrival);
                    timeline.add(new Slot(r, a, start, clock[r]));
                    if (grad) gradReady[st][i] = true; else inputReady[st][i] = true;
                }
            }
            return true;
        }

        void hold(int r, Action a, int delta) {
            inFlight[r] += delta;
            peak[r] = Math.max(peak[r], inFlight[r]);
            if (bound >= 0 && inFlight[r] > bound)
                throw fail(r, a, "holds the activations of " + inFlight[r] + " micro-batches (stage x micro-batch) at once, over the bound of " + bound);
        }

        void compute(int r, Action a, double cost) {
            timeline.add(new Slot(r, a, clock[r], clock[r] + cost));
            clock[r] += cost;
            busy[r] += cost;
        }
    }
}

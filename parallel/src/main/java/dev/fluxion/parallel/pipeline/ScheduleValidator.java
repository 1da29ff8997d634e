package dev.fluxion.parallel.pipeline;

/**
 * Checks a schedule before anything runs, by replaying it with the {@link Simulator}'s rules: every stage
 * on its rank, every forward and backward exactly once per micro-batch and in dependency order (no backward
 * before its forward, no forward before its input), every send received in order and every receive sent,
 * no deadlock (each rank's receives can all be satisfied), and, if given, at most {@code maxInFlight}
 * (stage, micro-batch) activations held on any rank at once. A rejection is a {@link ScheduleException}
 * naming the rank and the action.
 */
public final class ScheduleValidator {
    private ScheduleValidator() {}

    /** Validates without a memory bound. */
    public static void validate(Schedule s) { Simulator.replay(s, Simulator.Costs.UNIT, -1); }

    /** Validates and also rejects a rank that would hold more than maxInFlight activations at once. */
    public static void validate(Schedule s, int maxInFlight) {
        if (maxInFlight < 1) throw new IllegalArgumentException("ScheduleValidator: the activation bound " + maxInFlight + " must be >= 1");
        Simulator.replay(s, Simulator.Costs.UNIT, maxInFlight);
    }
}

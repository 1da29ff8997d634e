package dev.fluxion.parallel.pipeline;

/** A schedule that cannot run as written; names the rank and the action at fault (or -1 and null for the whole schedule). */
public final class ScheduleException extends IllegalArgumentException {
    private final int rank;
    private final transient Action action;

    public ScheduleException(String schedule, int rank, Action action, String why) {
        super("schedule " + schedule + (rank >= 0 ? ": rank " + rank : "") + (action != null ? ", action " + action : "") + ": " + why);
        this.rank = rank;
        this.action = action;
    }

    /** The rank at fault, or -1. */
    public int rank() { return rank; }

    /** The action at fault, or null. */
    public Action action() { return action; }
}

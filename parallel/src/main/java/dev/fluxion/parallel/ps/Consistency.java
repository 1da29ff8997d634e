package dev.fluxion.parallel.ps;

/**
 * When a worker may go on with stale parameters. A worker's clock counts the gradients it has pushed; a worker
 * about to compute step c pulls parameters, and the pull answers:
 * <ul>
 *   <li>BSP (bulk synchronous): once every worker's gradient of steps &lt; c has been applied, as one optimizer
 *       step on their mean per clock, so training equals data-parallel training (DDP);</li>
 *   <li>SSP(s) (stale synchronous): once every live worker has pushed steps &lt; c - s, so the parameters hold
 *       every update older than s clocks (and perhaps newer ones); s = 0 waits as BSP does but applies pushes
 *       one at a time;</li>
 *   <li>ASP (asynchronous, Hogwild-like): at once, with whatever has arrived.</li>
 * </ul>
 * In SSP and ASP every push is applied when it arrives, as one optimizer step on the gradient divided by the
 * number of workers the job was started with (so a round of pushes moves the parameters about as far as one
 * BSP step).
 *
 * @param staleness s for SSP; 0 for BSP; ignored for ASP
 */
public record Consistency(Mode mode, int staleness) {
    public enum Mode { BSP, SSP, ASP }

    public Consistency {
        if (mode == null) throw new IllegalArgumentException("Consistency: mode is null");
        if (staleness < 0) throw new IllegalArgumentException("Consistency: staleness must be >= 0, got " + staleness);
        if (mode == Mode.BSP && staleness != 0) throw new IllegalArgumentException("Consistency: BSP has staleness 0, got " + staleness);
    }

    public static Consistency bsp() { return new Consistency(Mode.BSP, 0); }
    public static Consistency ssp(int staleness) { return new Consistency(Mode.SSP, staleness); }
    public static Consistency asp() { return new Consistency(Mode.ASP, 0); }

    /** True for SSP and ASP, where workers may die and join. */
    public boolean elastic() { return mode != Mode.BSP; }

    @Override public String toString() { return mode == Mode.SSP ? "SSP(s=" + staleness + ")" : mode.name(); }
}

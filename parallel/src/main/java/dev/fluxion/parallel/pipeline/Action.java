package dev.fluxion.parallel.pipeline;

/**
 * One step of a rank's pipeline schedule: a computation or a transfer for one micro-batch on one stage.
 * Transfers name the stage whose data moves: {@code SEND_ACTIVATION(s, i)} sends stage s's output to the rank
 * of stage s+1, which receives it with {@code RECV_ACTIVATION(s+1, i)}; {@code SEND_GRADIENT(s, i)} sends the
 * gradient of stage s's input to the rank of stage s-1, which receives it with {@code RECV_GRADIENT(s-1, i)}.
 *
 * @param kind       what to do
 * @param stage      the stage (0..stages-1) it is done for
 * @param microbatch the micro-batch (0..m-1)
 */
public record Action(Kind kind, int stage, int microbatch) {
    /** What an action does; the short names are the CSV spelling and the timeline's labels. */
    public enum Kind {
        /** Forward of the stage on the micro-batch; keeps its activations until the backward ends. */
        FORWARD("F"),
        /** Whole backward: the input gradient and the weight gradients at once. */
        BACKWARD("B"),
        /** Backward for the input gradient only; the weight gradients wait for {@link #BACKWARD_WEIGHT}. */
        BACKWARD_INPUT("I"),
        /** The deferred weight gradients of an earlier {@link #BACKWARD_INPUT}; frees the activations. */
        BACKWARD_WEIGHT("W"),
        SEND_ACTIVATION("SEND_F"),
        RECV_ACTIVATION("RECV_F"),
        SEND_GRADIENT("SEND_B"),
        RECV_GRADIENT("RECV_B");

        private final String shortName;

        Kind(String shortName) { this.shortName = shortName; }

        public String shortName() { return shortName; }

        /** True for the four transfer kinds. */
        public boolean isTransfer() { return ordinal() >= SEND_ACTIVATION.ordinal(); }

        /** True for the backward that produces the input gradient (whole or split). */
        public boolean producesInputGradient() { return this == BACKWARD || this == BACKWARD_INPUT; }

        /** The kind of the given short name (F, B, I, W, SEND_F, RECV_F, SEND_B, RECV_B). */
        public static Kind parse(String s) {
            for (Kind k : values()) if (k.shortName.equals(s) || k.name().equals(s)) return k;
            throw new IllegalArgumentException("Action.Kind: unknown kind '" + s + "'; expected one of F, B, I, W, SEND_F, RECV_F, SEND_B, RECV_B");
        }
    }

    public Action {
        if (kind == null) throw new IllegalArgumentException("Action: kind is null");
        if (stage < 0 || microbatch < 0)
            throw new IllegalArgumentException("Action " + kind + ": stage " + stage + " and micro-batch " + microbatch + " must be >= 0");
    }

    public static Action forward(int stage, int mb) { return new Action(Kind.FORWARD, stage, mb); }

    public static Action backward(int stage, int mb) { return new Action(Kind.BACKWARD, stage, mb); }

    public static Action backwardInput(int stage, int mb) { return new Action(Kind.BACKWARD_INPUT, stage, mb); }

    public static Action backwardWeight(int stage, int mb) { return new Action(Kind.BACKWARD_WEIGHT, stage, mb); }

    /** As {@code F(stage,mb)}, {@code SEND_F(stage,mb)}. */
    @Override public String toString() { return kind.shortName + "(" + stage + "," + microbatch + ")"; }
}

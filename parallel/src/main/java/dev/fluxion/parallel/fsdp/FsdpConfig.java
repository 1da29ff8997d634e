package dev.fluxion.parallel.fsdp;

/**
 * Settings of {@link FullyShardedDataParallel}: the sharding strategy, the mixed-precision policy, and whether
 * the next unit's all-gather is started early (forwardPrefetch: while the current unit's forward runs, in the
 * order the previous forward used; backwardPrefetch: before the current unit's gradient computation, as
 * PyTorch's default {@code BackwardPrefetch.BACKWARD_PRE}).
 */
public record FsdpConfig(ShardingStrategy strategy, MixedPrecision mixedPrecision, boolean forwardPrefetch, boolean backwardPrefetch) {
    /** FULL_SHARD, no mixed precision, both prefetches on. */
    public static final FsdpConfig DEFAULT = new FsdpConfig(ShardingStrategy.FULL_SHARD, MixedPrecision.FULL, true, true);

    public FsdpConfig {
        if (strategy == null) throw new IllegalArgumentException("FsdpConfig: strategy is null");
        if (mixedPrecision == null) throw new IllegalArgumentException("FsdpConfig: mixedPrecision is null (use MixedPrecision.FULL)");
    }

    public FsdpConfig withStrategy(ShardingStrategy s) { return new FsdpConfig(s, mixedPrecision, forwardPrefetch, backwardPrefetch); }

    public FsdpConfig withMixedPrecision(MixedPrecision mp) { return new FsdpConfig(strategy, mp, forwardPrefetch, backwardPrefetch); }

    public FsdpConfig withForwardPrefetch(boolean on) { return new FsdpConfig(strategy, mixedPrecision, on, backwardPrefetch); }

    public FsdpConfig withBackwardPrefetch(boolean on) { return new FsdpConfig(strategy, mixedPrecision, forwardPrefetch, on); }
}

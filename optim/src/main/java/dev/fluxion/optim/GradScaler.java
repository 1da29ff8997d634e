package dev.fluxion.optim;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Dynamic loss scaling for float16 training, with PyTorch's GradScaler defaults: the loss is multiplied by
 * a scale (initially 65536) before backward so that small gradients do not flush to zero in float16; the
 * gradients are divided by it before the optimizer step; a step whose gradients hold inf or NaN is skipped
 * and the scale halves; after 2000 finite steps in a row the scale doubles. Written on the tensor API (found
 * inf/NaN, unscale, skip, grow and back off are ordinary ops), so it runs on every backend; one value is read
 * back per step and device (whether an overflow happened), as in PyTorch. bfloat16 autocast has float32's
 * range and needs no scaler.
 *
 * <pre>{@code
 * var scaler = new GradScaler();
 * try (var ac = Autocast.open(DType.FLOAT16)) { loss = Losses.mse(model.forward(x), y); }
 * scaler.scale(loss).backward();
 * scaler.step(opt);                   // unscales, skips the step on overflow
 * scaler.update();
 * }</pre>
 */
public final class GradScaler {
    /** initScale 65536, growth x2 after growthInterval finite steps, backoff x0.5 on overflow (torch.amp.GradScaler). */
    public record Config(double initScale, double growthFactor, double backoffFactor, int growthInterval, boolean enabled) {
        public static final Config DEFAULT = new Config(65536.0, 2.0, 0.5, 2000, true);

        public Config {
            if (!(initScale > 0) || Double.isInfinite(initScale)) throw new IllegalArgumentException("GradScaler: initScale must be positive and finite, got " + initScale);
            if (!(growthFactor > 1 && growthFactor < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException("GradScaler: growthFactor must be > 1 and finite, got " + growthFactor);
            if (!(backoffFactor > 0 && backoffFactor < 1)) throw new IllegalArgumentException("GradScaler: backoffFactor must be in (0, 1), got " + backoffFactor);
            if (growthInterval < 1) throw new IllegalArgumentException("GradScaler: growthInterval must be >= 1, got " + growthInterval);
        }

        public Config withInitScale(double v) { return new Config(v, growthFactor, backoffFactor, growthInterval, enabled); }

        public Config withGrowthInterval(int v) { return new Config(initScale, growthFactor, backoffFactor, v, enabled); }

        public Config withEnabled(boolean v) { return new Config(initScale, growthFactor, backoffFactor, growthInterval, v); }
    }

    /** What a checkpoint keeps: the scale and the count of finite steps since it last changed. */
    public record State(double scale, int growthTracker) {}

    private final Config config;
    private double scale;
    private int growthTracker;
    private boolean unscaled;     // this step's gradients were divided by the scale already
    private boolean foundInf;     // ... and held inf or NaN
    private boolean stepped;      // step() ran since the last update()

    public GradScaler() { this(Config.DEFAULT); }

    public GradScaler(Config config) {
        this.config = config;
        this.scale = config.initScale();
    }

    public double getScale() { return config.enabled() ? scale : 1.0; }

    public boolean isEnabled() { return config.enabled(); }

    /** loss * scale (the loss itself when disabled). Scale a float32 loss: float16 overflows at 65504. */
    public Tensor scale(Tensor loss) {
        if (!config.enabled()) return loss;
        return loss.mul(scale);
    }

    /**
     * Divides the gradients of params by the scale, in place, and records whether any is inf or NaN; call it
     * before clipping gradients. At most once per step.
     *
     * @return true when every gradient is finite
     */
    public boolean unscale(List<? extends Tensor> params) {
        if (!config.enabled()) return true;
        if (unscaled) throw new IllegalStateException("GradScaler.unscale: already called for this step; call update() after the optimizer step first");
        double inv = 1.0 / scale;
        Map<Device, Tensor> nonFinite = new LinkedHashMap<>();
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            if (!g.dtype().isFloatingPoint()) throw new IllegalArgumentException("GradScaler.unscale: gradient of dtype " + g.dtype() + " is not floating point");
            g.mul_(inv);
            // g * 0 is 0 for finite values and NaN for inf and NaN, so the sum is NaN exactly when something overflowed
            Tensor probe = g.detach().mul(0).sum().to(DType.FLOAT32);
            nonFinite.merge(g.device(), probe, Tensor::add);
        }
        boolean bad = false;
        for (Tensor t : nonFinite.values()) bad |= t.item() != 0;   // NaN != 0: one read-back per device
        foundInf = bad;
        unscaled = true;
        return !bad;
    }

    /** {@link #unscale(List)} of the optimizer's parameters (torch's scaler.unscale_(optimizer)). */
    public boolean unscale(Optimizer<?, ?> optimizer) { return unscale(optimizer.params()); }

    /** {@link #step(List, Runnable)} of the optimizer's parameters and step (torch's scaler.step(optimizer)). */
    public boolean step(Optimizer<?, ?> optimizer) { return step(optimizer.params(), optimizer::step); }

    /**
     * Unscales (unless {@link #unscale} ran this step) and runs the optimizer step when the gradients are finite.
     *
     * @return true when the step ran, false when it was skipped for an overflow
     */
    public boolean step(List<? extends Tensor> params, Runnable optimizerStep) {
        if (!config.enabled()) {
            optimizerStep.run();
            return true;
        }
        if (stepped) throw new IllegalStateException("GradScaler.step: already called for this step; call update() first");
        if (!unscaled) unscale(params);
        stepped = true;
        if (foundInf) return false;
        optimizerStep.run();
        return true;
    }

    /** Adjusts the scale after the step: backoff on overflow, growth after growthInterval finite steps in a row. */
    public void update() {
        if (!config.enabled()) return;
        if (!unscaled) throw new IllegalStateException("GradScaler.update: no gradients were unscaled since the last update(); call step() first");
        if (foundInf) {
            scale *= config.backoffFactor();
            growthTracker = 0;
        } else if (++growthTracker == config.growthInterval()) {
            double grown = scale * config.growthFactor();
            if (!Double.isInfinite(grown) && grown <= Float.MAX_VALUE) scale = grown;   // the scale lives in float32 in PyTorch
            growthTracker = 0;
        }
        unscaled = false;
        stepped = false;
        foundInf = false;
    }

    /** The scale and growth count, for a checkpoint. */
    public State state() { return new State(scale, growthTracker); }

    /** Restores what {@link #state()} returned. */
    public void load(State s) {
        if (!(s.scale() > 0)) throw new IllegalArgumentException("GradScaler.load: scale must be positive, got " + s.scale());
        scale = s.scale();
        growthTracker = s.growthTracker();
    }
}

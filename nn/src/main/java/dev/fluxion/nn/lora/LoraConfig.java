package dev.fluxion.nn.lora;

import java.util.List;
import java.util.regex.Pattern;

/**
 * A LoRA adapter's settings, as PEFT's {@code LoraConfig}: rank r, lora_alpha, lora_dropout, the modules
 * to wrap and rsLoRA scaling. A module path matches {@code targetModules} when it equals one of the names
 * or ends with "." + name (PEFT's rule for a list), or, when {@code targetRegex} is set, when the whole
 * path matches it (PEFT's rule for a single string).
 *
 * <pre>{@code
 * var config = LoraConfig.of(8, 16, "qkv", "proj").withDropout(0.05);   // r=8, alpha=16
 * }</pre>
 *
 * @param r rank of A (r, in) and B (out, r)
 * @param alpha lora_alpha; scaling = alpha / r, or alpha / sqrt(r) with rsLoRA
 * @param dropout probability applied to the adapter's input (not to the base path)
 * @param targetModules module names (suffixes of dotted paths); empty when targetRegex is set
 * @param targetRegex a pattern the whole path must match, or null
 * @param useRslora scale by alpha / sqrt(r) (Kalajdzievski 2023) instead of alpha / r
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, String targetRegex, boolean useRslora) {
    /** PEFT's defaults: r=8, lora_alpha=8, lora_dropout=0, no targets (set them with withTargets). */
    public static final LoraConfig DEFAULT = new LoraConfig(8, 8, 0, List.of(), null, false);

    public LoraConfig {
        if (r <= 0) throw new IllegalArgumentException("LoraConfig: rank r must be positive, got " + r);
        if (!(alpha > 0 && alpha < Double.POSITIVE_INFINITY)) throw new IllegalArgumentException("LoraConfig: lora_alpha must be positive, got " + alpha);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("LoraConfig: lora_dropout must be in [0, 1), got " + dropout);
        if (targetModules != null && targetModules.stream().anyMatch(java.util.Objects::isNull)) throw new IllegalArgumentException("LoraConfig: target modules contain null: " + targetModules);
        targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
        if (targetRegex != null) {
            if (!targetModules.isEmpty())
                throw new IllegalArgumentException("LoraConfig: give target modules as names or as one regex, not both: " + targetModules + " and '" + targetRegex + "'");
            Pattern.compile(targetRegex);   // refuse a bad pattern here, not at wrap time
        }
    }

    /** r, alpha and target module names; no dropout, no rsLoRA. */
    public static LoraConfig of(int r, double alpha, String... targets) { return new LoraConfig(r, alpha, 0, List.of(targets), null, false); }

    public LoraConfig withRank(int r) { return new LoraConfig(r, alpha, dropout, targetModules, targetRegex, useRslora); }

    public LoraConfig withAlpha(double a) { return new LoraConfig(r, a, dropout, targetModules, targetRegex, useRslora); }

    public LoraConfig withDropout(double p) { return new LoraConfig(r, alpha, p, targetModules, targetRegex, useRslora); }

    public LoraConfig withTargets(String... names) { return new LoraConfig(r, alpha, dropout, List.of(names), null, useRslora); }

    /** Targets every module whose whole dotted path matches regex (PEFT's target_modules given as a string). */
    public LoraConfig withTargetRegex(String regex) { return new LoraConfig(r, alpha, dropout, List.of(), regex, useRslora); }

    public LoraConfig withRslora(boolean on) { return new LoraConfig(r, alpha, dropout, targetModules, targetRegex, on); }

    /** alpha / r, or alpha / sqrt(r) with rsLoRA (PEFT layer.py update_layer). */
    public double scaling() { return useRslora ? alpha / Math.sqrt(r) : alpha / r; }

    /** Whether the module at a dotted path is a target. */
    public boolean matches(String path) {
        if (targetRegex != null) return Pattern.matches(targetRegex, path);
        for (String t : targetModules) if (path.equals(t) || path.endsWith("." + t)) return true;
        return false;
    }

    /** The targets as PEFT writes them in adapter_config.json: the names, or the regex. */
    public String targetsDescription() { return targetRegex != null ? "'" + targetRegex + "'" : targetModules.toString(); }
}

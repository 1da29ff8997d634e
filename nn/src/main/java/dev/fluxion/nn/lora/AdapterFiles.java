package dev.fluxion.nn.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * An adapter alone, in the two files PEFT's {@code save_pretrained} writes: {@value #WEIGHTS} with PEFT's key
 * names ("base_model.model.&lt;module path&gt;.lora_A.weight", ".lora_B.weight", ".lora_embedding_A", ...; the
 * adapter name is not in the keys) and {@value #CONFIG} with PEFT's LoraConfig fields. {@link #load} puts an
 * adapter saved this way onto a fresh copy of the base model.
 *
 * <pre>{@code
 * AdapterFiles.save(model, Path.of("runs/char-gpt-lora"), LoraLayer.DEFAULT, "char-gpt");
 * Gpt fresh = ...;                                           // the same base weights
 * AdapterFiles.load(fresh, Path.of("runs/char-gpt-lora"), LoraLayer.DEFAULT);
 * }</pre>
 */
public final class AdapterFiles {
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String CONFIG = "adapter_config.json";
    /** The prefix PEFT's PeftModel puts before the base model's module paths. */
    public static final String PREFIX = "base_model.model.";

    private AdapterFiles() {}

    /** Adapter's tensors by PEFT file key (contiguous float copies are not made: the parameters themselves). */
    public static Map<String, Tensor> stateDict(Module model, String adapter) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : Lora.layers(model).entrySet()) {
            if (!e.getValue().adapterNames().contains(adapter)) continue;
            for (var p : e.getValue().adapterParameters(adapter).entrySet()) out.put(PREFIX + e.getKey() + "." + p.getKey(), p.getValue());
        }
        if (out.isEmpty()) throw new IllegalArgumentException("AdapterFiles: no LoRA layer of " + model.getClass().getSimpleName() + " has adapter '" + adapter + "'");
        return out;
    }

    /** Writes dir/{@value #WEIGHTS} and dir/{@value #CONFIG} for one adapter; baseModel goes into base_model_name_or_path (may be null). */
    public static void save(Module model, Path dir, String adapter, String baseModel) throws IOException {
        Map<String, Tensor> tensors = stateDict(model, adapter);
        LoraConfig config = null;
        for (LoraLayer l : Lora.layers(model).values())
            if (l.adapterNames().contains(adapter)) { config = l.config(adapter); break; }
        Files.createDirectories(dir);
        Safetensors.save(dir.resolve(WEIGHTS), tensors, Map.of("format", "pt"));
        Files.writeString(dir.resolve(CONFIG), configJson(config, baseModel), StandardCharsets.UTF_8);
    }

    /** PEFT's adapter_config.json for config (the fields LoraConfig.to_dict writes, with PEFT's defaults where Fluxion has no such option). */
    public static String configJson(LoraConfig config, String baseModel) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode n = json.createObjectNode();
        n.putObject("alpha_pattern");
        n.putNull("auto_mapping");
        if (baseModel == null) n.putNull("base_model_name_or_path"); else n.put("base_model_name_or_path", baseModel);
        n.put("bias", "none");
        n.put("fan_in_fan_out", false);
        n.put("inference_mode", true);
        n.put("init_lora_weights", true);
        n.putNull("layers_pattern");
        n.putNull("layers_to_transform");
        if (config.alpha() == Math.rint(config.alpha())) n.put("lora_alpha", (long) config.alpha()); else n.put("lora_alpha", config.alpha());
        n.put("lora_dropout", config.dropout());
        n.putNull("modules_to_save");
        n.put("peft_type", "LORA");
        n.put("r", config.r());
        n.putObject("rank_pattern");
        n.putNull("revision");
        if (config.targetRegex() != null) n.put("target_modules", config.targetRegex());
        else {
            var arr = n.putArray("target_modules");
            config.targetModules().forEach(arr::add);
        }
        n.putNull("task_type");
        n.put("use_dora", false);
        n.put("use_rslora", config.useRslora());
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            throw new IllegalStateException("AdapterFiles: writing adapter_config.json", e);
        }
    }

    /** Reads a PEFT adapter_config.json (LoRA only; DoRA and per-layer rank/alpha patterns are refused by name). */
    public static LoraConfig readConfig(Path file) throws IOException {
        JsonNode n = new ObjectMapper().readTree(Files.readString(file, StandardCharsets.UTF_8));
        String type = n.path("peft_type").asText("LORA");
        if (!type.equals("LORA")) throw new IOException(file + ": peft_type is " + type + "; only LORA adapters can be loaded");
        if (n.path("use_dora").asBoolean(false)) throw new IOException(file + ": use_dora is true; DoRA adapters are not supported");
        for (String f : new String[] {"rank_pattern", "alpha_pattern"})
            if (n.path(f).size() > 0) throw new IOException(file + ": " + f + " is not empty (" + n.get(f) + "); per-layer ranks are not supported");
        if (!n.has("r") || !n.has("lora_alpha")) throw new IOException(file + ": needs fields r and lora_alpha");
        JsonNode targets = n.path("target_modules");
        List<String> names = new ArrayList<>();
        String regex = null;
        if (targets.isTextual()) regex = targets.asText();
        else for (JsonNode t : targets) names.add(t.asText());
        return new LoraConfig(n.get("r").asInt(), n.get("lora_alpha").asDouble(), n.path("lora_dropout").asDouble(0), names, regex,
                n.path("use_rslora").asBoolean(false));
    }

    /**
     * Wraps model (a fresh base, already holding the base weights) with the adapter in dir under name adapter,
     * and loads its tensors. Every tensor of the file must land on a LoRA parameter of the same shape and every
     * parameter of the adapter must be in the file; otherwise nothing is loaded and the error lists the keys.
     */
    public static LoraConfig load(Module model, Path dir, String adapter) throws IOException {
        LoraConfig config = readConfig(dir.resolve(CONFIG));
        Map<String, Tensor> file = Safetensors.load(dir.resolve(WEIGHTS));
        Lora.wrap(model, adapter, config, Init.seed(0));                 // values are overwritten below
        Map<String, Tensor> own = stateDict(model, adapter);
        var missing = new TreeSet<>(own.keySet());
        missing.removeAll(file.keySet());
        var unexpected = new TreeSet<>(file.keySet());
        unexpected.removeAll(own.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty())
            throw new IOException(dir.resolve(WEIGHTS) + " does not fit " + model.getClass().getSimpleName() + " wrapped with " + config + ": missing keys "
                    + missing + ", unexpected keys " + unexpected);
        for (var e : own.entrySet()) {
            Tensor src = file.get(e.getKey());
            if (!java.util.Arrays.equals(src.shape(), e.getValue().shape()))
                throw new IOException(dir.resolve(WEIGHTS) + ": '" + e.getKey() + "' has shape " + Shape.str(src.shape()) + ", the model's is " + Shape.str(e.getValue().shape()));
        }
        try (var off = Autodiff.noGrad()) {
            for (var e : own.entrySet()) ((Parameter) e.getValue()).copy_(file.get(e.getKey()).to(e.getValue().dtype()));
        }
        return config;
    }
}

package dev.fluxion.nn.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** adapter_model.safetensors + adapter_config.json as PEFT writes them, and a round trip onto a fresh base. */
class AdapterFilesTest {
    static final Gpt.Config TINY = new Gpt.Config(16, 8, 2, 2, 8, 0);

    @Test
    void roundTripOntoAFreshBase(@TempDir Path dir) throws IOException {
        Gpt model = new Gpt(TINY, Init.seed(1));
        Lora.wrap(model, LoraConfig.of(4, 8, "qkv", "proj", "tokens").withDropout(0.1), Init.seed(2));
        for (LoraLayer l : Lora.layers(model).values())
            for (var p : l.adapterParameters(LoraLayer.DEFAULT).values()) LoraTest.set(p, Tensor.randn(new Generator(3), p.shape()));
        AdapterFiles.save(model, dir, LoraLayer.DEFAULT, "char-gpt");

        // PEFT's key names and metadata
        try (var c = Safetensors.read(dir.resolve(AdapterFiles.WEIGHTS))) {
            assertEquals("pt", c.metadata().get("format"));
            Set<String> keys = c.tensors().keySet();
            assertTrue(keys.contains("base_model.model.blocks.0.attn.qkv.lora_A.weight"), keys.toString());
            assertTrue(keys.contains("base_model.model.blocks.1.attn.proj.lora_B.weight"), keys.toString());
            assertTrue(keys.contains("base_model.model.tokens.lora_embedding_A"), keys.toString());
            assertEquals(2 * 2 * 2 + 2, keys.size(), "A and B of qkv and proj in 2 blocks, and the token embedding's: " + keys);
            assertArrayEquals(new int[] {4, 8}, c.tensors().get("base_model.model.blocks.0.attn.qkv.lora_A.weight").shape());
        }
        JsonNode json = new ObjectMapper().readTree(Files.readString(dir.resolve(AdapterFiles.CONFIG)));
        assertEquals("LORA", json.get("peft_type").asText());
        assertEquals(4, json.get("r").asInt());
        assertEquals(8, json.get("lora_alpha").asInt());
        assertEquals(0.1, json.get("lora_dropout").asDouble());
        assertEquals("char-gpt", json.get("base_model_name_or_path").asText());
        assertEquals(List.of("qkv", "proj", "tokens"), List.of(json.get("target_modules").get(0).asText(), json.get("target_modules").get(1).asText(),
                json.get("target_modules").get(2).asText()));
        assertFalse(json.get("use_rslora").asBoolean());
        assertEquals("none", json.get("bias").asText());

        Gpt fresh = new Gpt(TINY, Init.seed(1));                      // same base weights
        Tensor ids = Tensor.of(new long[] {1, 5, 9, 3, 2, 7}, 1, 6);
        float[] baseOnly = fresh.forward(ids).toFloatArray();
        LoraConfig loaded = AdapterFiles.load(fresh, dir, LoraLayer.DEFAULT);
        assertEquals(LoraConfig.of(4, 8, "qkv", "proj", "tokens").withDropout(0.1), loaded);
        model.eval();
        fresh.eval();
        float[] expected = model.forward(ids).toFloatArray(), actual = fresh.forward(ids).toFloatArray();
        assertArrayEquals(expected, actual, 0f, "the loaded adapter computes exactly what the saved one did");
        assertFalse(java.util.Arrays.equals(baseOnly, actual), "and differs from the base alone");
        assertEquals(Lora.count(model), Lora.count(fresh));
    }

    @Test
    void refusesAnAdapterThatDoesNotFit(@TempDir Path dir) throws IOException {
        Gpt model = new Gpt(TINY, Init.seed(1));
        Lora.wrap(model, LoraConfig.of(2, 2, "qkv"), Init.seed(2));
        AdapterFiles.save(model, dir, LoraLayer.DEFAULT, null);
        Files.writeString(dir.resolve(AdapterFiles.CONFIG), Files.readString(dir.resolve(AdapterFiles.CONFIG)).replace("\"r\" : 2", "\"r\" : 3"));
        var e = assertThrows(IOException.class, () -> AdapterFiles.load(new Gpt(TINY, Init.seed(1)), dir, LoraLayer.DEFAULT));
        assertTrue(e.getMessage().contains("lora_A.weight") && e.getMessage().contains("shape"), e.getMessage());
    }
}

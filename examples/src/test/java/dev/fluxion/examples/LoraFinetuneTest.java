package dev.fluxion.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.nn.lora.AdapterFiles;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CharGpt --finetune with --lora / --qlora on a tiny trained model: PEFT files written, and the loss goes down. */
class LoraFinetuneTest {
    @ParameterizedTest(name = "--{0} 2")
    @ValueSource(strings = {"lora", "qlora"})
    void finetunesATrainedCheckpointAndWritesTheAdapter(String mode, @TempDir Path dir) throws Exception {
        Path base = dir.resolve("base.txt"), other = dir.resolve("other.txt"), run = dir.resolve("run"), out = dir.resolve("lora");
        Files.writeString(base, "the quick brown fox jumps over the lazy dog. ".repeat(50));
        Files.writeString(other, "pack my box with five dozen liquor jugs! ".repeat(50));
        CharGpt.main(new String[] {"--data", base.toString(), "--out", run.toString(), "--steps", "12", "--batch", "4", "--context", "16",
                "--layers", "1", "--heads", "2", "--width", "16", "--eval-every", "6", "--sample", "0"});
        CharGpt.main(new String[] {"--finetune", run.resolve("checkpoint.safetensors").toString(), "--" + mode, "2", "--data", other.toString(),
                "--out", out.toString(), "--steps", "40", "--batch", "8", "--lr", "5e-2", "--eval-every", "20", "--sample", "0", "--dropout", "0",
                "--targets", "qkv,proj,mlp.0,mlp.2,head"});

        var tensors = Safetensors.load(out.resolve(AdapterFiles.WEIGHTS));
        assertTrue(tensors.containsKey("base_model.model.blocks.0.attn.qkv.lora_A.weight"), tensors.keySet().toString());
        assertEquals(10, tensors.size(), "A and B of qkv, proj, mlp.0 and mlp.2 in one block, and of the head");
        var json = new ObjectMapper().readTree(Files.readString(out.resolve(AdapterFiles.CONFIG)));
        assertEquals(2, json.get("r").asInt());
        assertEquals(4, json.get("lora_alpha").asInt());

        List<String> rows = Files.readAllLines(out.resolve("metrics.csv")).subList(1, 41);
        double first = mean(rows.subList(0, 8)), last = mean(rows.subList(32, 40));
        assertTrue(last < first - 0.3, "training loss went from " + first + " to " + last);
    }

    private static double mean(List<String> rows) {
        return rows.stream().mapToDouble(r -> Double.parseDouble(r.split(",")[1])).average().orElseThrow();
    }
}

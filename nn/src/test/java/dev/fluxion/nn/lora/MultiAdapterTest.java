package dev.fluxion.nn.lora;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.Sequential;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Several adapters on one frozen base: switching, and training two at once on a mixed batch. */
class MultiAdapterTest {
    private static Sequential twoAdapters() {
        Sequential model = LoraTest.mlp(Init.seed(1));
        Lora.wrap(model, "a", LoraConfig.of(2, 4, "0", "2"), Init.seed(2));
        Lora.wrap(model, "b", LoraConfig.of(3, 3, "0", "2"), Init.seed(3));
        for (LoraLayer l : Lora.layers(model).values())
            for (String n : List.of("a", "b")) {
                Parameter bw = l.adapterParameters(n).get("lora_B.weight");
                LoraTest.set(bw, Tensor.randn(new Generator(n.hashCode()), bw.shape()));
            }
        return model;
    }

    private static Tensor withOnly(Sequential model, String adapter, Tensor x) {
        Lora.setActiveAdapters(model, adapter);
        return model.forward(x);
    }

    @Test
    void switchingTheActiveAdapterChangesTheOutput() {
        Sequential model = twoAdapters();
        Tensor x = Tensor.randn(new Generator(4), 3, 6);
        assertEquals(List.of("a"), Lora.layers(model).get("0").activeAdapters(), "the first adapter is active, as PEFT's default");
        Tensor ya = withOnly(model, "a", x), yb = withOnly(model, "b", x);
        assertTrue(ya.sub(yb).abs().max().item() > 1e-3);
        LoraTest.assertClose("back to a", ya, withOnly(model, "a", x), 0);
        assertThrows(IllegalArgumentException.class, () -> Lora.setActiveAdapters(model, "c"));
    }

    @Test
    void mixedBatchTrainsEachAdapterOnItsOwnRowsOnly() {
        Sequential model = twoAdapters();
        Tensor x = Tensor.randn(new Generator(5), 5, 6), r = Tensor.randn(new Generator(6), 5, 5);
        String[] rows = {"a", "b", "b", LoraLayer.BASE, "a"};
        Tensor y;
        try (var scope = Lora.perRow(model, rows)) {
            y = model.forward(x);
        }
        // each row equals the same row run through its adapter alone
        for (int i = 0; i < rows.length; i++) {
            Tensor xi = x.narrow(0, i, 1);
            Tensor expected = rows[i].equals(LoraLayer.BASE) ? baseOnly(model, xi) : withOnly(model, rows[i], xi);
            LoraTest.assertClose("row " + i + " (" + rows[i] + ")", expected, y.narrow(0, i, 1), 1e-6);
        }
        y.mul(r).sum().backward();
        Map<String, Parameter> p = model.namedParameters();
        Tensor gA = p.get("2.lora_B.a.weight").grad(), gB = p.get("2.lora_B.b.weight").grad();
        // the reference gradient of adapter a comes from rows 0 and 4 only, b's from rows 1 and 2
        Tensor refA = gradOfB(model, "a", x, r, new long[] {0, 4}), refB = gradOfB(model, "b", x, r, new long[] {1, 2});
        LoraTest.assertClose("adapter a's gradient from its rows", refA, gA, 1e-5);
        LoraTest.assertClose("adapter b's gradient from its rows", refB, gB, 1e-5);
        assertNull(p.get("0.base_layer.weight").grad());
        // an adapter that no row names gets no gradient
        for (Parameter q : model.parameters()) q.setGrad(null);
        try (var scope = Lora.perRow(model, "a", "a", "a", "a", "a")) {
            model.forward(x).sum().backward();
        }
        assertTrue(p.get("2.lora_B.a.weight").grad() != null);
        assertNull(p.get("2.lora_B.b.weight").grad());
        assertNull(p.get("0.lora_A.b.weight").grad());
    }

    private static Tensor baseOnly(Sequential model, Tensor x) {
        try (var scope = Lora.perRow(model, LoraLayer.BASE)) {
            return model.forward(x);
        }
    }

    /** d sum(model_adapter(x[rows]) * r[rows]) / d B of layer "2", with only that adapter active. */
    private static Tensor gradOfB(Sequential model, String adapter, Tensor x, Tensor r, long[] rows) {
        for (Parameter q : model.parameters()) q.setGrad(null);
        Tensor idx = Tensor.of(rows, rows.length);
        Lora.setActiveAdapters(model, adapter);
        model.forward(x.indexSelect(0, idx)).mul(r.indexSelect(0, idx)).sum().backward();
        Tensor g = model.namedParameters().get("2.lora_B." + adapter + ".weight").grad().copy();
        for (Parameter q : model.parameters()) q.setGrad(null);
        return g;
    }
}

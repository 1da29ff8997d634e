package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kernel name the Java side can launch is an entry point of the fatbin. The build writes the entry
 * points (kernels.txt, from the preprocessed sources) next to the fatbin; this needs nvcc, not a GPU.
 */
class KernelNamesTest {
    @Test void everyLaunchedNameExists() throws IOException {
        Set<String> built = new TreeSet<>();
        try (InputStream in = Kernels.class.getResourceAsStream("/dev/fluxion/cuda/kernels.txt")) {
            Assumptions.assumeTrue(in != null, "built without nvcc: no kernel list");
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) if (!line.isBlank()) built.add(line.trim());
        }
        List<String> wanted = new ArrayList<>(List.of("fx_copy", "fx_fill", "fx_fill_u64", "fx_adam",
                "fx_cast_f32_f16", "fx_cast_f32_bf16", "fx_cast_f16_f32", "fx_cast_bf16_f32", "fx_random", "fx_randint"));
        for (int bytes : new int[] {1, 2, 4, 8})
            for (String f : new String[] {"fx_where_", "fx_index_select_", "fx_gather_"}) wanted.add(f + bytes);
        for (DType t : DType.values()) {
            String s = Codes.suffix(t);
            for (String f : new String[] {"fx_compare_", "fx_reduce_rows_", "fx_reduce_cols_", "fx_reduce_final_", "fx_scatter_add_"}) wanted.add(f + s);
            if (t != DType.BOOL) { wanted.add("fx_unary_" + s); wanted.add("fx_binary_" + s); }
            if (t.isFloatingPoint())
                for (String f : new String[] {"fx_softmax_", "fx_softmax_bwd_", "fx_cross_entropy_fwd_", "fx_cross_entropy_bwd_", "fx_norm_fwd_",
                        "fx_norm_bwd_", "fx_sum_partials_", "fx_embedding_bwd_", "fx_gemm_", "fx_dropout_fwd_", "fx_dropout_bwd_"}) wanted.add(f + s);
            if (t.isFloatingPoint()) {
                wanted.add("fx_attention_bwd_prep_" + s);
                for (int d : CudaAttention.HEAD_DIMS) { wanted.add("fx_attention_fwd_" + s + "_d" + d); wanted.add("fx_attention_bwd_" + s + "_d" + d); }
            }
        }
        List<String> missing = wanted.stream().filter(n -> !built.contains(n)).toList();
        assertTrue(missing.isEmpty(), "kernels the Java side launches but the fatbin lacks: " + missing);
    }
}

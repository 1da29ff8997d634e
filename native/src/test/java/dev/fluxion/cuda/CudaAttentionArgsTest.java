package dev.fluxion.cuda;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The arguments CudaAttention passes to attention.cu's entry points match their signatures in kind and order (a
 * mismatch is silent on a GPU): the parameter lists are read from the source, the argument lists built from CPU
 * tensors (only shapes and strides matter). I = int, J = i64, D = double, P = a pointer.
 */
class CudaAttentionArgsTest {
    private static final String SOURCE = read();

    private static String read() {
        try { return Files.readString(Path.of("src/main/cuda/attention.cu")).replace("\\\n", " "); }
        catch (IOException e) { throw new java.io.UncheckedIOException(e); }
    }

    /** The kinds of a C parameter list, FX_ATTN_LAYOUT(x) being three i64. */
    private static String kinds(String params) {
        StringBuilder k = new StringBuilder();
        for (String p : params.split(",")) {
            p = p.trim();
            if (p.startsWith("FX_ATTN_LAYOUT")) k.append("JJJ");
            else if (p.contains("*")) k.append('P');
            else if (p.startsWith("int ")) k.append('I');
            else if (p.startsWith("i64 ")) k.append('J');
            else if (p.startsWith("double ")) k.append('D');
            else throw new AssertionError("attention.cu: unexpected parameter '" + p + "'");
        }
        return k.toString();
    }

    private static String macroParams(String macro) {
        Matcher m = Pattern.compile("#define " + macro + "\\(T, C\\) (.*?)\\n").matcher(SOURCE);
        assertTrue(m.find(), macro + " in attention.cu");
        return m.group(1);
    }

    private static String kinds(List<Object> args) {
        StringBuilder k = new StringBuilder();
        for (Object o : args) k.append(o instanceof Integer ? 'I' : o instanceof Long ? 'J' : o instanceof Double ? 'D' : o instanceof Tensor ? 'P' : '?');
        return k.toString();
    }

    @Test void argumentsMatchTheKernelSignatures() {
        Tensor q = Tensor.zeros(DType.FLOAT32, 2, 3, 5, 16), k = Tensor.zeros(DType.FLOAT32, 2, 3, 7, 16), lse = Tensor.zeros(DType.FLOAT32, 2, 3, 5);
        var op = new AttentionOp(0.25, true, false, false);
        String fwd = kinds(macroParams("FX_ATTN_ARGS"));
        assertEquals(fwd, kinds(CudaAttention.forwardArgs(op, q, k, k, q, lse)), "forward");
        String bwd = kinds(macroParams("FX_ATTN_BWD_ARGS"));
        assertEquals(bwd, kinds(CudaAttention.backwardArgs(op, q, k, k, q, lse, lse, k, k, q)), "backward");
        assertTrue(bwd.length() <= KernelArgs.MAX_ARGS, "backward takes " + bwd.length() + " arguments, the launcher at most " + KernelArgs.MAX_ARGS);
        Matcher prep = Pattern.compile("void fx_attention_bwd_prep_##name\\((.*?)\\)\\s*\\{").matcher(SOURCE);
        assertTrue(prep.find(), "the prep entry point in attention.cu");
        assertEquals(kinds(prep.group(1)), kinds(CudaAttention.prepArgs(q, q, q, lse, q)), "prep");
    }

    @Test void layoutsReadThePackedViewsStrides() {
        // (B, T, 3C) -> q as (B, H, T, D) view: matrix (b, h) at b * T * 3C + h * D, rows 3C apart
        Tensor qkv = Tensor.zeros(DType.FLOAT32, 2, 5, 3 * 4 * 16);
        Tensor q = qkv.narrow(2, 0, 64).reshape(2, 5, 4, 16).transpose(1, 2), k = qkv.narrow(2, 64, 64).reshape(2, 5, 4, 16).transpose(1, 2);
        List<Object> a = CudaAttention.forwardArgs(new AttentionOp(0.25, false, false, false), q, k, k, q, Tensor.zeros(DType.FLOAT32, 2, 4, 5));
        assertEquals(List.of(4, 5, 5), a.subList(0, 3), "heads, T, S");
        assertEquals(List.of(5L * 192, 16L, 192L), a.subList(4, 7), "q: batch, head and row strides");
    }
}

package dev.fluxion.cuda;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.UnaryOp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Java op and dtype codes must match the enums in the .cu sources, name by name. */
class CodesTest {
    private static final Path CUDA = Path.of("src/main/cuda");

    /** Names of enum `name` in file, in declaration order, prefix stripped. */
    static List<String> cuEnum(String file, String name, String prefix) throws IOException {
        String src = Files.readString(CUDA.resolve(file));
        Matcher m = Pattern.compile("enum\\s+" + name + "\\s*\\{([^}]*)}").matcher(src);
        assertTrue(m.find(), "enum " + name + " not found in " + file);
        List<String> names = new ArrayList<>();
        int next = 0;
        for (String item : m.group(1).split(",")) {
            String t = item.replaceAll("//.*", "").trim();
            if (t.isEmpty()) continue;
            String[] kv = t.split("=");
            int value = kv.length > 1 ? Integer.parseInt(kv[1].trim()) : next;
            while (names.size() <= value) names.add(null);
            names.set(value, kv[0].trim().substring(prefix.length()));
            next = value + 1;
        }
        return names;
    }

    @Test void unaryCodes() throws IOException {
        List<String> cu = cuEnum("elementwise.cu", "UnaryCode", "U_");
        for (UnaryOp op : UnaryOp.values()) assertEquals(op.name(), cu.get(Codes.of(op)), "UnaryOp." + op);
        assertEquals(UnaryOp.values().length, cu.size());
    }

    @Test void binaryCodes() throws IOException {
        List<String> cu = cuEnum("elementwise.cu", "BinaryCode", "B_");
        for (BinaryOp op : BinaryOp.values()) assertEquals(op.name(), cu.get(Codes.of(op)), "BinaryOp." + op);
        assertEquals(BinaryOp.values().length, cu.size());
    }

    @Test void reduceCodes() throws IOException {
        List<String> cu = cuEnum("reduce.cu", "ReduceCode", "R_");
        for (ReduceOp op : ReduceOp.values()) assertEquals(op.name(), cu.get(Codes.of(op)), "ReduceOp." + op);
    }

    @Test void dtypeCodesAndSuffixes() throws IOException {
        List<String> cu = cuEnum("common.cuh", "FxType", "FX_");
        String ew = Files.readString(CUDA.resolve("elementwise.cu"));
        for (DType t : DType.values()) {
            String suffix = Codes.suffix(t);
            assertEquals(suffix.toUpperCase(Locale.ROOT), cu.get(Codes.of(t)), "DType." + t);
            assertTrue(ew.contains("FX_COMPARE(" + suffix + ","), "no fx_compare_" + suffix + " kernel");
        }
    }
}

package dev.fluxion.nn.lora;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * A weight quantized to 4-bit NormalFloat (NF4) bit-exactly as bitsandbytes' {@code quantize_4bit(quant_type="nf4")}:
 * blocks of 64 consecutive elements of the flattened weight, each scaled by 1 / its absmax and mapped to the
 * nearest of 16 code values (the decision tree of {@code dQuantizeNF4}), two codes per byte with the even
 * element in the high nibble. With double quantization the block absmax values are stored as 8 bits
 * themselves: offset = mean(absmax), (absmax - offset) quantized blockwise (blocks of 256) with the 8-bit
 * dynamic map ({@link DynamicMap}). Not a dtype: a record of packed codes and scales that dequantizes any
 * range of elements on demand ({@link #dequantize(long, float[], int, int)}); nothing dense is kept.
 *
 * <pre>{@code
 * Nf4Weight q = Nf4Weight.quantize(linear.weight(), true);   // about 0.516 bytes per element
 * Tensor w = q.dequantize();                                 // (out, in) float32, for inspection and tests
 * }</pre>
 */
public final class Nf4Weight {
    /** The 16 NF4 code values (bitsandbytes get_4bit_type("nf4")). */
    static final float[] CODE = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
            0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

    /** Elements per absmax (bitsandbytes' default blocksize for 4-bit). */
    public static final int BLOCK = 64;

    /** NF4 blocks per double-quantization block (bitsandbytes' nested blocksize). */
    public static final int NESTED_BLOCK = 256;

    private final int[] shape;
    private final long numel;
    private final boolean doubleQuant;
    // The per-block state (codes and block scales) is null while released (FSDP holds only this rank's blocks,
    // see exportBlocks/importBlocks/releaseBlocks); the nested scales and offset are tiny and always kept.
    private byte[] packed;           // ceil(numel / 2): codes of elements 2j (high nibble) and 2j+1 (low)
    private float[] absmax;          // one per block, or null when double-quantized
    private byte[] qabsmax;          // one per block (double quantization), else null
    private final float[] absmax2;   // one per NESTED_BLOCK blocks (double quantization), else null
    private final float offset;      // mean of the block absmax values (double quantization)

    private Nf4Weight(int[] shape, byte[] packed, float[] absmax, byte[] qabsmax, float[] absmax2, float offset) {
        this.shape = shape;
        this.numel = Shape.numel(shape);
        this.packed = packed;
        this.absmax = absmax;
        this.qabsmax = qabsmax;
        this.absmax2 = absmax2;
        this.offset = offset;
        this.doubleQuant = absmax == null;
    }

    /** Quantizes w (any shape, floating point, converted to float32 first) to NF4; with doubleQuant the scales are 8-bit too. */
    public static Nf4Weight quantize(Tensor w, boolean doubleQuant) {
        if (!w.dtype().isFloatingPoint()) throw new IllegalArgumentException("Nf4Weight.quantize: needs a floating-point weight, got " + w.dtype());
        if (w.numel() > Integer.MAX_VALUE - 1)
            throw new IllegalArgumentException("Nf4Weight.quantize: " + w.numel() + " elements; at most " + (Integer.MAX_VALUE - 1) + " are supported");
        return quantize(w.detach().to(DType.FLOAT32).toFloatArray(), w.shape(), doubleQuant);
    }

    /** Quantizes the row-major elements x of a weight of the given shape. */
    public static Nf4Weight quantize(float[] x, int[] shape, boolean doubleQuant) {
        if (x.length != Shape.numel(shape))
            throw new IllegalArgumentException("Nf4Weight.quantize: " + x.length + " values for shape " + Shape.str(shape));
        int blocks = (x.length + BLOCK - 1) / BLOCK;
        byte[] packed = new byte[(x.length + 1) / 2];
        float[] absmax = new float[blocks];
        for (int b = 0; b < blocks; b++) {
            int start = b * BLOCK, end = Math.min(x.length, start + BLOCK);
            float m = 0f;
            for (int i = start; i < end; i++) m = Math.max(m, Math.abs(x[i]));
            absmax[b] = m;
            float inv = 1f / m;                   // an all-zero block: inf, and 0 * inf = NaN maps to code 0, as the kernel
            for (int i = start; i < end + (end - start & 1); i += 2) {
                float lo = i + 1 < end ? x[i + 1] : 0f;    // an odd last element pairs with a padding 0, scaled like the rest
                packed[i >> 1] = (byte) (code(x[i] * inv) << 4 | code(lo * inv));
            }
        }
        if (!doubleQuant) return new Nf4Weight(shape.clone(), packed, absmax, null, null, 0f);
        double sum = 0;                            // float64 mean rounded once: one exact definition (see the reference script)
        for (float a : absmax) sum += a;
        float offset = (float) (sum / blocks);
        float[] centred = new float[blocks];
        for (int b = 0; b < blocks; b++) centred[b] = absmax[b] - offset;
        byte[] q = new byte[blocks];
        float[] absmax2 = new float[(blocks + NESTED_BLOCK - 1) / NESTED_BLOCK];
        DynamicMap.quantizeBlockwise(centred, NESTED_BLOCK, q, absmax2);
        return new Nf4Weight(shape.clone(), packed, null, q, absmax2, offset);
    }

    /** dQuantizeNF4: the code of a value scaled into [-1, 1], by comparisons with the midpoints between codes. */
    static int code(float x) {
        if (x > 0.03979014977812767f) {
            if (x > 0.3893125355243683f) {
                if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15 : 14;
                return x > 0.5016634166240692f ? 13 : 12;
            }
            if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11 : 10;
            return x > 0.1202552504837513f ? 9 : 8;
        }
        if (x > -0.33967943489551544f) {
            if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7 : 6;
            return x > -0.23460740596055984f ? 5 : 4;
        }
        if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3 : 2;
        return x > -0.8480964004993439f ? 1 : 0;     // NaN (an all-zero block) fails every test and lands here
    }

    /** The absmax of block b, dequantized from 8 bits when double-quantized: code8[q] * absmax2 + offset. */
    public float absmax(int b) {
        requireResident("absmax");
        if (absmax != null) return absmax[b];
        return DynamicMap.CODE[qabsmax[b] & 0xff] * absmax2[b / NESTED_BLOCK] + offset;
    }

    /** Writes elements [from, from + count) of the flattened weight, dequantized, into out[at..]. */
    public void dequantize(long from, float[] out, int at, int count) {
        if (from < 0 || count < 0 || from + count > numel)
            throw new IllegalArgumentException("Nf4Weight.dequantize: elements [" + from + ", " + (from + count) + ") outside [0, " + numel + ")");
        requireResident("dequantize");
        long e = from, end = from + count;
        int k = at;
        while (e < end) {                                   // one block at a time: its scale once, then a table lookup per element
            int b = (int) (e / BLOCK);
            float scale = absmax(b);
            long stop = Math.min(end, (long) (b + 1) * BLOCK);
            if ((e & 1) == 1) out[k++] = CODE[packed[(int) (e++ >> 1)] & 15] * scale;
            for (; e + 1 < stop; e += 2) {
                int byt = packed[(int) (e >> 1)] & 0xff;
                out[k++] = CODE[byt >>> 4] * scale;
                out[k++] = CODE[byt & 15] * scale;
            }
            if (e < stop) out[k++] = CODE[(packed[(int) (e++ >> 1)] & 0xff) >>> 4] * scale;
        }
    }

    /** The whole weight dequantized (for tests and inspection; the layers dequantize a chunk at a time). */
    public Tensor dequantize() {
        float[] out = new float[(int) numel];
        dequantize(0, out, 0, out.length);
        return Tensor.of(out, shape);
    }

    public int[] shape() { return shape.clone(); }

    public long numel() { return numel; }

    public boolean isDoubleQuantized() { return doubleQuant; }

    /** Bytes held now: packed codes plus scales (none while released) and the double-quantization state. */
    public long bytes() {
        long b = packed == null ? 0 : packed.length;
        if (!doubleQuant) return b + (absmax == null ? 0 : 4L * absmax.length);
        return b + (qabsmax == null ? 0 : qabsmax.length) + 4L * absmax2.length + 4;
    }

    /** The packed codes (a copy), for tests and serialisation. */
    public byte[] packed() {
        requireResident("packed");
        return packed.clone();
    }

    /** The float32 block absmax values (plain quantization), or null. */
    public float[] rawAbsmax() {
        requireResident("rawAbsmax");
        return absmax == null ? null : absmax.clone();
    }

    /** The 8-bit block absmax codes (double quantization), or null. */
    public byte[] quantizedAbsmax() {
        requireResident("quantizedAbsmax");
        return qabsmax == null ? null : qabsmax.clone();
    }

    /** The nested scales, one per 256 blocks (double quantization), or null. */
    public float[] nestedAbsmax() { return absmax2 == null ? null : absmax2.clone(); }

    /** The mean the nested quantization subtracted (double quantization), else 0. */
    public float offset() { return offset; }

    // ---------------------------------------------------------------- sharding by whole blocks (FSDP)

    /** Quantization blocks of BLOCK elements (the last may be shorter). */
    public int blocks() { return (int) ((numel + BLOCK - 1) / BLOCK); }

    /** Bytes one block takes in {@link #exportBlocks}: its BLOCK / 2 code bytes and its scale (4 bytes, or 1 double-quantized). */
    public int bytesPerBlock() { return BLOCK / 2 + (doubleQuant ? 1 : 4); }

    /** Whether the codes and block scales are held (false between {@link #releaseBlocks} and {@link #importBlocks}). */
    public boolean isResident() { return packed != null; }

    /**
     * Writes blocks [first, first + count) into out[at..], {@link #bytesPerBlock} bytes each: the block's code
     * bytes (zero-padded for a short last block), then its scale (float32 little-endian, or the 8-bit code).
     * Blocks past the end are written as zeros (padding of a rank's share).
     */
    public void exportBlocks(int first, int count, byte[] out, int at) {
        requireResident("exportBlocks");
        int per = bytesPerBlock(), half = BLOCK / 2;
        for (int i = 0; i < count; i++) {
            int b = first + i, o = at + i * per;
            if (b >= blocks()) { java.util.Arrays.fill(out, o, o + per, (byte) 0); continue; }
            int from = b * half, len = Math.min(half, packed.length - from);
            System.arraycopy(packed, from, out, o, len);
            java.util.Arrays.fill(out, o + len, o + half, (byte) 0);
            if (doubleQuant) out[o + half] = qabsmax[b];
            else {
                int bits = Float.floatToRawIntBits(absmax[b]);
                for (int k = 0; k < 4; k++) out[o + half + k] = (byte) (bits >>> 8 * k);
            }
        }
    }

    /**
     * Reads blocks [first, first + count) from src[at..] as {@link #exportBlocks} wrote them (blocks past the
     * end are skipped), allocating the codes and scales if they were released: {@code importBlocks(0, blocks(),
     * bytes, 0)} of every rank's exported share restores the weight bit for bit.
     */
    public void importBlocks(int first, int count, byte[] src, int at) {
        if (packed == null) {
            packed = new byte[(int) ((numel + 1) / 2)];
            if (doubleQuant) qabsmax = new byte[blocks()];
            else absmax = new float[blocks()];
        }
        int per = bytesPerBlock(), half = BLOCK / 2;
        for (int i = 0; i < count && first + i < blocks(); i++) {
            int b = first + i, o = at + i * per;
            int from = b * half, len = Math.min(half, packed.length - from);
            System.arraycopy(src, o, packed, from, len);
            if (doubleQuant) qabsmax[b] = src[o + half];
            else {
                int bits = 0;
                for (int k = 0; k < 4; k++) bits |= (src[o + half + k] & 0xff) << 8 * k;
                absmax[b] = Float.intBitsToFloat(bits);
            }
        }
    }

    /** Drops the codes and block scales (the shape and the nested double-quantization state stay); use needs importBlocks first. */
    public void releaseBlocks() {
        packed = null;
        absmax = null;
        qabsmax = null;
    }

    private void requireResident(String op) {
        if (packed == null)
            throw new IllegalStateException("Nf4Weight." + op + ": the codes and block scales of this " + Shape.str(shape)
                    + " weight are released (sharded by FSDP and not gathered now); gather them with importBlocks first");
    }
}

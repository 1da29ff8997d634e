package dev.fluxion.tensor.cpu;

/**
 * IEEE float16 and bfloat16 conversions with round-to-nearest-even (Java 17 has no Float.float16ToFloat).
 * Public for the other modules that move 16-bit floats (the TCP all-reduce sums them).
 */
public final class Half {
    private Half() {}

    /** A bfloat16 (bf16) or float16 value as float. */
    public static float toFloat(boolean bf16, short h) { return bf16 ? bf16ToFloat(h) : fp16ToFloat(h); }

    /** A float rounded to bfloat16 (bf16) or float16. */
    public static short fromFloat(boolean bf16, float f) { return bf16 ? floatToBf16(f) : floatToFp16(f); }

    public static float bf16ToFloat(short h) { return Float.intBitsToFloat((h & 0xffff) << 16); }

    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x40); // NaN stays NaN
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float fp16ToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            float v = mant * 0x1p-24f; // subnormal
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    public static short floatToFp16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs > 0x7f800000) return (short) (sign | 0x7e00);                   // NaN
        if (abs >= 0x477ff000) return (short) (sign | 0x7c00);                  // overflow (incl. inf) after rounding
        if (abs < 0x38800000) {                                                 // subnormal or zero in fp16
            float v = Float.intBitsToFloat(abs);
            int m = Math.round(v * 0x1p24f);                                    // Math.round is half-up; fix ties to even
            float exact = v * 0x1p24f;
            if (exact - Math.floor(exact) == 0.5 && (m & 1) == 1) m--;
            return (short) (sign | m);
        }
        int exp = (abs >>> 23) - 112;
        int mant = abs & 0x7fffff;
        int half = (exp << 10) | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) half++;
        return (short) (sign | half);
    }
}

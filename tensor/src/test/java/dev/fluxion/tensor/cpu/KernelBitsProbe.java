package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.AdamHyper;
import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.util.List;
import java.util.zip.CRC32;

/**
 * Prints one line per op: a CRC of the result's bits (NaNs made canonical) over inputs of lengths that
 * exercise vector bodies and tails. ScalarFallbackTest runs it in JVMs with and without the Vector API.
 */
public final class KernelBitsProbe {
    private KernelBitsProbe() {}

    static String crc(Tensor t) {
        CRC32 c = new CRC32();
        for (float f : t.toFloatArray()) {
            int b = Float.floatToIntBits(f);
            c.update(new byte[] {(byte) b, (byte) (b >> 8), (byte) (b >> 16), (byte) (b >> 24)});
        }
        return Long.toHexString(c.getValue());
    }

    public static void main(String[] args) {
        System.out.println("vector=" + Simd.ENABLED);
        Generator g = new Generator(42);
        for (int n : new int[] {37, 2048 + 5, 3 * 2048 + 17}) {
            Tensor x = Tensor.randn(g, n).mul(3), y = Tensor.randn(g, n).mul(2);
            for (UnaryOp op : UnaryOp.values()) System.out.println(n + " " + op + " " + crc((op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT ? x.abs() : x).apply(op)));
            for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MAXIMUM})
                System.out.println(n + " " + op + " " + crc(binary(op, x, y)));
            System.out.println(n + " lt " + crc(x.lt(y)) + " where " + crc(Tensor.where(x.gt(0), x, y)));
            System.out.println(n + " threshold_backward " + crc(new dev.fluxion.tensor.ReluBackwardOp().apply(y, x)));
            System.out.println(n + " sum " + crc(x.sum()) + " mean " + crc(x.mean()) + " max " + crc(x.max()) + " norm " + crc(x.norm()));
            Tensor m = n == 37 ? x.reshape(1, 37) : x.narrow(0, 0, n - n % 5).reshape(-1, 5);
            System.out.println(n + " softmax " + crc(m.softmax(-1)) + " logSoftmax " + crc(m.logSoftmax(-1)) + " logsumexp " + crc(m.logsumexp(-1, false)));
            System.out.println(n + " sum0 " + crc(m.sum(0, false)) + " var " + crc(m.var()));
        }
        System.out.println("sum0 wide " + crc(Tensor.randn(g, 200, 2500).sum(0, false)));   // more than one block of 2048 columns
        Tensor rows = Tensor.randn(g, 12, 300);
        System.out.println("layerNorm " + crc(rows.layerNorm(Tensor.randn(g, 300), Tensor.randn(g, 300), 1e-5)));
        Tensor lw = Tensor.randn(g, 300);
        var ln = CpuLayerNorm.forward(rows, lw, Tensor.randn(g, 300), 1e-5);
        Tensor[] lg = CpuLayerNorm.backward(rows, lw, Tensor.randn(g, 12, 300), ln.state()[0], ln.state()[1]);
        System.out.println("layerNorm backward " + crc(lg[0]) + " " + crc(lg[1]) + " " + crc(lg[2]) + " mean " + crc(ln.state()[0]) + " rstd " + crc(ln.state()[1]));
        float[] pv = Tensor.randint(g, 0, 3, 3 * 5 * 10 * 14).toFloatArray();          // ties, and a NaN
        pv[77] = Float.NaN;
        var pool = new dev.fluxion.tensor.MaxPool2dOp(dev.fluxion.tensor.Window2d.of(2, 2, 2, 2, 0, 0, 1, 1));
        Tensor pooled = pool.apply(Tensor.of(pv, 3, 5, 10, 14));
        System.out.println("maxPool2x2 " + crc(pooled) + " " + crc(CpuWindows.maxPool(pool.window(), Tensor.of(pv, 3, 5, 10, 14)).state()[0]));
        Tensor aq = Tensor.randn(g, 2, 3, 150, 16), ak = Tensor.randn(g, 2, 3, 150, 16), av = Tensor.randn(g, 2, 3, 150, 8);
        for (boolean causal : new boolean[] {false, true}) {                    // more than one block of 64 query rows
            var r = CpuAttention.KERNEL.forward(new dev.fluxion.tensor.AttentionOp(0.25, causal, false, false), new Tensor[] {aq, ak, av});
            System.out.println("attention causal=" + causal + " " + crc(r.output()) + " lse " + crc(r.state()[0]));
        }
        for (UnaryOp act : new UnaryOp[] {UnaryOp.GELU, UnaryOp.GELU_TANH, UnaryOp.SILU}) {
            Tensor x = Tensor.randn(g, 5000), grad = Tensor.randn(g, 5000);
            System.out.println(act + " backward " + crc(new dev.fluxion.tensor.ActivationBackwardOp(act).apply(grad, x)));
        }
        for (boolean amsgrad : new boolean[] {false, true}) {
            int n = 2048 + 101;
            Tensor p = Tensor.randn(g, n), m = Tensor.zeros(n), v = Tensor.zeros(n), vmax = amsgrad ? Tensor.zeros(n) : null;
            AdamHyper h = AdamHyper.ADAMW.withAmsgrad(amsgrad).withLr(0.01);
            for (int step = 1; step <= 5; step++) {
                Tensor grad = Tensor.randn(g, n);
                AdamUpdate u = new AdamUpdate(h, List.of(new AdamUpdate.Param(p, grad, m, v, vmax, step)));
                u.apply(u.tensors());
            }
            System.out.println("adam amsgrad=" + amsgrad + " " + crc(p) + " " + crc(m) + " " + crc(v));
        }
    }

    private static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            default -> a.maximum(b);
        };
    }
}

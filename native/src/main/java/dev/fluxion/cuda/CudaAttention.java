package dev.fluxion.cuda;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.Autograd;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The CUDA kernels of {@link AttentionOp}: attention.cu's fused forward and backward (FlashAttention-2's: an online
 * softmax over tiles of keys, so the (..., T, S) weights never reach memory, and a backward that recomputes them tile
 * by tile from the row log-sum-exp). They cover no mask, no dropout, a head dim D = E of 16, 32, 64 or 128, and every
 * float dtype (float16 and bfloat16 on tensor cores); otherwise they decline and the op's composed path runs. The
 * state is the row log-sum-exp (..., T) in the accumulator dtype (float32; float64 for float64), which the op's
 * composed backward also reads, then the output itself (the backward's rowsum(dO * O)): no P is kept.
 *
 * <p>Backward is two launches, a prep (rowsum(dO * O), the dQ accumulator zeroed) and one block per tile of keys
 * (dK and dV in registers, dQ summed over the key tiles by atomicAdd in the accumulator dtype, then cast for 16-bit);
 * it declines while autograd records (a create-graph pass differentiates the composed rule) and when the state is P.
 *
 * <p>q, k, v of 4 dims (B, H, T, D) are read in place with their strides when the last dim is contiguous (the views
 * that {@code CausalSelfAttention} makes of its qkv projection need no copy; the tensor-core path also needs 16-byte
 * aligned rows; other layouts are copied first). The output is allocated (B, T, H, E) and returned as a (B, H, T, E)
 * view, so the caller's transpose(1, 2).reshape(B, T, C) is a view too.
 */
final class CudaAttention implements FusedKernel<AttentionOp> {
    /** Head dims with an entry point (fx_attention_fwd_&lt;dtype&gt;_d&lt;D&gt;). */
    static final int[] HEAD_DIMS = {16, 32, 64, 128};
    /** Query rows per block: the tensor-core tiles (float16, bfloat16) and the FMA tiles (float32, float64). */
    static final int TC_ROWS = 64, FMA_ROWS = 16, THREADS = 128;

    @Override public FusedOp.Result forward(AttentionOp op, Tensor[] in) {
        Tensor q = in[0], k = in[1], v = in[2];
        if (!covers(op, q, k, v)) return null;
        CudaDevice d = Fused.device("attention", q);
        DType dt = q.dtype();
        int r = q.dim(), t = q.size(-2), s = k.size(-2), dim = q.size(-1);
        int[] lseShape = Arrays.copyOf(q.shape(), r - 1);
        Tensor out = allocate(d, dt, q.shape(), v.size(-1)), lse = Tensor.empty(Codes.accumulator(dt), d.device, lseShape);
        if (q.numel() == 0) return new FusedOp.Result(out, lse, out);
        boolean tc = dt == DType.FLOAT16 || dt == DType.BFLOAT16;
        Tensor qc = readable(d, q, tc), kc = readable(d, k, tc), vc = readable(d, v, tc);
        int rows = tc ? TC_ROWS : FMA_ROWS;
        d.kernels.launch("fx_attention_fwd_" + Codes.suffix(dt) + "_d" + dim, Layout.of(qc).matrices, (t + rows - 1) / rows, 1, THREADS, 1, 1,
                marshal(forwardArgs(op, qc, kc, vc, out, lse)));
        Fused.release(qc, q);
        Fused.release(kc, k);
        Fused.release(vc, v);
        return new FusedOp.Result(out, lse, out);
    }

    @Override public Tensor[] backward(AttentionOp op, Saved saved, Tensor gOut) {
        if (op.masked() || op.dropout() || Autograd.isRecording()) return null;
        Tensor q = saved.input(0), k = saved.input(1), v = saved.input(2), lse = saved.state(0);
        DType dt = q.dtype(), acc = Codes.accumulator(dt);
        if (lse.dim() != q.dim() - 1 || lse.dtype() != acc || !lse.isContiguous() || !covers(op, q, k, v)) return null;   // state P: the composed forward ran
        int t = q.size(-2), s = k.size(-2), dim = q.size(-1);
        boolean tc = dt == DType.FLOAT16 || dt == DType.BFLOAT16;
        int keys = tc ? TC_ROWS : dt.byteSize() * dim > 512 ? 8 : FMA_ROWS;   // keys per block (attention.cu's BC)
        if ((s + keys - 1) / keys > 65535) return null;
        CudaDevice d = Fused.device("attention backward", q);
        Tensor out = saved.state(1), g = gOut.dtype() == dt ? gOut : gOut.to(dt);
        Tensor dqAcc = Tensor.empty(acc, d.device, q.shape()), dl = Tensor.empty(acc, d.device, lse.shape());
        Tensor dk, dv;
        if (q.numel() == 0) {                                               // no queries: nothing reaches the keys
            dk = Tensor.zeros(dt, d.device, k.shape());
            dv = Tensor.zeros(dt, d.device, v.shape());
        } else {
            dk = allocate(d, dt, k.shape(), dim);
            dv = allocate(d, dt, v.shape(), dim);
            Tensor qc = readable(d, q, tc), kc = readable(d, k, tc), vc = readable(d, v, tc), gc = readable(d, g, tc), oc = readable(d, out, tc);
            int matrices = Layout.of(qc).matrices;
            d.kernels.launch("fx_attention_bwd_prep_" + Codes.suffix(dt), matrices, Math.min((t + 3) / 4, 65535), 1, THREADS, 1, 1,
                    marshal(prepArgs(qc, gc, oc, dl, dqAcc)));
            d.kernels.launch("fx_attention_bwd_" + Codes.suffix(dt) + "_d" + dim, matrices, (s + keys - 1) / keys, 1, THREADS, 1, 1,
                    marshal(backwardArgs(op, qc, kc, vc, gc, lse, dl, dk, dv, dqAcc)));
            for (Tensor[] pair : new Tensor[][] {{qc, q}, {kc, k}, {vc, v}, {gc, g}, {oc, out}}) Fused.release(pair[0], pair[1]);
        }
        dl.close();
        Tensor dq = dqAcc;
        if (acc != dt) {
            dq = dqAcc.to(dt);
            dqAcc.close();
        }
        Tensor[] grads = new Tensor[saved.inputCount()];
        grads[0] = saved.needsGrad(0) ? dq : null;
        grads[1] = saved.needsGrad(1) ? dk : null;
        grads[2] = saved.needsGrad(2) ? dv : null;
        return grads;
    }

    // The kernels' arguments in attention.cu's order (FX_ATTN_ARGS, the prep's, FX_ATTN_BWD_ARGS; CudaAttentionArgsTest
    // checks them against the source): Integer = int, Long = i64, Double = double, Tensor = its device address.

    static List<Object> forwardArgs(AttentionOp op, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse) {
        List<Object> a = new ArrayList<>(List.of(Layout.of(q).heads, q.size(-2), k.size(-2)));
        for (Tensor x : new Tensor[] {q, k, v, out}) Layout.of(x).add(a, x);
        a.addAll(List.of(lse, op.scale(), op.causal() ? 1 : 0));
        return a;
    }

    static List<Object> prepArgs(Tensor q, Tensor g, Tensor out, Tensor dl, Tensor dqAcc) {
        List<Object> a = new ArrayList<>(List.of(Layout.of(q).heads, q.size(-2), q.size(-1)));
        Layout.of(g).add(a, g);
        Layout.of(out).add(a, out);
        a.addAll(List.of(dl, dqAcc));
        return a;
    }

    /** dk and dv share one layout (30 arguments; the launcher takes at most 32). */
    static List<Object> backwardArgs(AttentionOp op, Tensor q, Tensor k, Tensor v, Tensor g, Tensor lse, Tensor dl, Tensor dk, Tensor dv, Tensor dqAcc) {
        int t = q.size(-2), s = k.size(-2);
        List<Object> a = new ArrayList<>(List.of(Layout.of(q).heads, t, s));
        for (Tensor x : new Tensor[] {q, k, v, g}) Layout.of(x).add(a, x);
        Layout ld = Layout.of(dk);
        a.addAll(List.of(lse, dl, dk, dv, ld.b, ld.h, ld.t, dqAcc, op.scale(), op.causal() ? 1 : 0, op.causal() && t > s ? 1 : 0));
        return a;
    }

    private static KernelArgs marshal(List<Object> args) {
        KernelArgs k = KernelArgs.start();
        for (Object o : args) {
            if (o instanceof Integer i) k.i32(i);
            else if (o instanceof Long l) k.i64(l);
            else if (o instanceof Double x) k.f64(x);
            else k.ptr((Tensor) o);
        }
        return k;
    }

    /** No mask or dropout, D = E with an entry point, a float dtype, keys to attend, and the dtype the composition would give. */
    static boolean covers(AttentionOp op, Tensor q, Tensor k, Tensor v) {
        if (op.masked() || op.dropout()) return false;
        DType dt = q.dtype();
        int dim = q.size(-1);
        if (!dt.isFloatingPoint() || v.size(-1) != dim || Arrays.stream(HEAD_DIMS).noneMatch(x -> x == dim)) return false;
        if (k.size(-2) == 0) return false;                                   // nothing to attend: the composition's NaN rows
        if ((q.size(-2) + FMA_ROWS - 1) / FMA_ROWS > 65535) return false;    // grid y holds the query tiles
        // under autocast the composition runs its GEMMs in the scope's dtype (never float64): run only where that is q's
        Optional<DType> ac = Autocast.current();
        return ac.isEmpty() || dt == DType.FLOAT64 || dt == ac.get();
    }

    /** t itself when the kernel can read it in place, else a fresh contiguous copy (the pool's blocks are 256-byte aligned). */
    private static Tensor readable(CudaDevice d, Tensor t, boolean aligned16) {
        if (fits(t, aligned16)) return t;
        Tensor c = Tensor.empty(t.dtype(), d.device, t.shape());
        CudaElementwise.copy(d, t, c);
        return c;
    }

    /** Last dim contiguous, the batch dims expressible as (b, h) strides, and (tensor cores) rows on 16-byte boundaries. */
    private static boolean fits(Tensor t, boolean aligned16) {
        int r = t.dim();
        long[] st = t.stride();
        if (st[r - 1] != 1 || r > 4 && !t.isContiguous()) return false;
        if (!aligned16) return true;
        long bytes = t.dtype().byteSize();
        if ((CudaStorage.of(t).address() + t.offset() * bytes) % 16 != 0) return false;
        for (int i = 0; i < r - 1; i++) if (st[i] * bytes % 16 != 0) return false;
        return true;
    }

    /** (..., T, E) like q; for 4 dims stored as (B, T, H, E) and returned as the (B, H, T, E) view. */
    private static Tensor allocate(CudaDevice d, DType dt, int[] qShape, int e) {
        int[] shape = qShape.clone();
        shape[shape.length - 1] = e;
        if (shape.length != 4) return Tensor.empty(dt, d.device, shape);
        return Tensor.empty(dt, d.device, shape[0], shape[2], shape[1], e).transpose(1, 2);
    }

    /** Matrix bh = b * heads + h of a tensor starts at b * this.b + h * this.h; its rows are this.t apart (elements). */
    private record Layout(int matrices, int heads, long b, long h, long t) {
        static Layout of(Tensor x) {
            int r = x.dim();
            int[] sh = x.shape();
            long[] st = x.stride();
            long rowStride = st[r - 2];
            if (r == 4) return new Layout(sh[0] * sh[1], sh[1], st[0], st[1], rowStride);
            if (r == 3) return new Layout(sh[0], 1, st[0], 0, rowStride);
            int n = 1;                                                        // 2 dims: one matrix; more than 4: contiguous
            for (int i = 0; i < r - 2; i++) n *= sh[i];
            return new Layout(n, 1, (long) sh[r - 2] * sh[r - 1], 0, rowStride);
        }

        /** The kernel's pointer and FX_ATTN_LAYOUT of x. */
        void add(List<Object> args, Tensor x) { args.addAll(List.of(x, b, h, t)); }
    }
}

package dev.fluxion.cuda;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Set;

import static dev.fluxion.cuda.CudaTesting.FLOATS;
import static dev.fluxion.cuda.CudaTesting.INTS;
import static dev.fluxion.cuda.CudaTesting.assertClose;
import static dev.fluxion.cuda.CudaTesting.input;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Elementwise ops, where, copy/cast and fill on CUDA against the CPU backend, for every dtype and layout. */
@Tag("gpu")
class CudaElementwiseTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    private static final Set<UnaryOp> POSITIVE_ONLY = EnumSet.of(UnaryOp.LOG, UnaryOp.SQRT, UnaryOp.RSQRT);
    private static final Set<UnaryOp> INTEGER_OK = EnumSet.of(UnaryOp.NEG, UnaryOp.ABS, UnaryOp.SIGN, UnaryOp.RELU);

    @Test void unaryEveryOpEveryDtypeContiguousAndStrided() {
        Generator g = new Generator(1);
        for (DType dt : FLOATS) {
            Tensor base = input(g, dt, 37, 41);   // 1517 elements: vector body plus a tail
            for (UnaryOp op : UnaryOp.values()) {
                Tensor x = POSITIVE_ONLY.contains(op) ? base.abs().add(0.1) : base;
                for (Tensor view : new Tensor[] {x, x.transpose(0, 1), x.slice(1, 1, 40, 3)}) {
                    double tol = op == UnaryOp.GELU || op == UnaryOp.GELU_GRAD ? Math.max(4 * CudaTesting.rtol(dt), 1e-5) : CudaTesting.rtol(dt);
                    assertClose(view.apply(op), view.to(gpu).apply(op), tol, tol, op + " " + dt + " " + java.util.Arrays.toString(view.stride()));
                }
            }
        }
        for (DType dt : INTS)
            for (UnaryOp op : INTEGER_OK) {
                if (dt == DType.UINT8 && op == UnaryOp.NEG) continue;
                Tensor x = input(g, dt, 9, 13);
                assertClose(x.apply(op), x.to(gpu).apply(op), op + " " + dt);
                assertClose(x.t().apply(op), x.to(gpu).t().apply(op), op + " " + dt + " transposed");
            }
    }

    @Test void binaryWithBroadcastingEveryDtype() {
        Generator g = new Generator(2);
        for (DType dt : FLOATS) {
            Tensor a = input(g, dt, 4, 1, 35), b = input(g, dt, 3, 35);
            for (BinaryOp op : BinaryOp.values()) {
                Tensor x = a, y = b;
                if (op == BinaryOp.POW) { x = a.abs().add(0.5); y = b.mul(0.5); }
                Tensor xg = x.to(gpu), yg = y.to(gpu);
                String what = op + " " + dt;
                assertClose(apply(op, x, y), apply(op, xg, yg), what + " broadcast");
                assertClose(apply(op, x.expand(4, 3, 35), y), apply(op, xg.expand(4, 3, 35), yg), what + " expanded");
                Tensor s = input(g, dt);                                        // 0-dim: the scalar fast path
                assertClose(apply(op, x, s), apply(op, xg, s.to(gpu)), what + " scalar right");
                assertClose(apply(op, s, y), apply(op, s.to(gpu), yg), what + " scalar left");
                Tensor c = input(g, dt, 4, 3, 35);                              // same shape, contiguous: vector path
                assertClose(apply(op, x.expand(4, 3, 35).contiguous(), c), apply(op, xg.expand(4, 3, 35).contiguous(), c.to(gpu)), what + " contiguous");
            }
        }
        for (DType dt : INTS) {
            Tensor a = input(g, dt, 5, 1, 7), b = input(g, dt, 6, 7);
            for (BinaryOp op : BinaryOp.values()) {
                if (op == BinaryOp.DIV || op == BinaryOp.POW) continue;
                assertClose(apply(op, a, b), apply(op, a.to(gpu), b.to(gpu)), op + " " + dt);
            }
        }
        Tensor p = input(g, DType.BOOL, 3, 4), q = input(g, DType.BOOL, 4);
        assertClose(p.eq(q), p.to(gpu).eq(q.to(gpu)), "eq bool");
        assertClose(p.ne(q), p.to(gpu).ne(q.to(gpu)), "ne bool");
    }

    private static Tensor apply(BinaryOp op, Tensor a, Tensor b) {
        return switch (op) {
            case ADD -> a.add(b);
            case SUB -> a.sub(b);
            case MUL -> a.mul(b);
            case DIV -> a.div(b);
            case POW -> a.pow(b);
            case MAXIMUM -> a.maximum(b);
            case MINIMUM -> a.minimum(b);
            case EQ -> a.eq(b);
            case NE -> a.ne(b);
            case LT -> a.lt(b);
            case LE -> a.le(b);
            case GT -> a.gt(b);
            case GE -> a.ge(b);
        };
    }

    @Test void nanPropagatesThroughMaximumAndMinimum() {
        Tensor a = Tensor.of(1f, Float.NaN, 3f, Float.NEGATIVE_INFINITY), b = Tensor.of(Float.NaN, 2f, 1f, 0f);
        assertClose(a.maximum(b), a.to(gpu).maximum(b.to(gpu)), "maximum NaN");
        assertClose(a.minimum(b), a.to(gpu).minimum(b.to(gpu)), "minimum NaN");
        assertClose(a.relu(), a.to(gpu).relu(), "relu NaN");
        assertClose(a.sign(), a.to(gpu).sign(), "sign NaN");
    }

    @Test void whereEveryDtypeWithBroadcast() {
        Generator g = new Generator(3);
        Tensor cond = input(g, DType.BOOL, 6, 1);
        for (DType dt : DType.values()) {
            Tensor a = input(g, dt, 6, 9), b = input(g, dt, 9);
            assertClose(Tensor.where(cond, a, b), Tensor.where(cond.to(gpu), a.to(gpu), b.to(gpu)), "where " + dt);
        }
    }

    @Test void castBetweenEveryPairOfDtypes() {
        Generator g = new Generator(4);
        double[] values = {0, 1, -1, 2.5, -2.5, 3.75, 100, -7.9, 0.5, 1e-3, 127, -128, 255};
        Tensor src = Tensor.of(values, values.length);
        for (DType from : DType.values())
            for (DType to : DType.values()) {
                Tensor x = from == DType.UINT8 || from == DType.BOOL ? src.abs().to(from) : src.to(from);
                assertClose(x.to(to), x.to(gpu).to(to), from + " -> " + to);
                Tensor m = input(g, from, 7, 5).t();                          // strided source
                assertClose(m.to(to), m.to(gpu).to(to), from + " -> " + to + " strided");
            }
        for (DType half : new DType[] {DType.FLOAT16, DType.BFLOAT16}) {   // the vectorized f32 <-> 16-bit casts
            Tensor x = input(g, DType.FLOAT32, 1001);
            assertClose(x.to(half), x.to(gpu).to(half), "f32 -> " + half);
            Tensor h = x.to(half);
            assertClose(h.to(DType.FLOAT32), h.to(gpu).to(DType.FLOAT32), half + " -> f32");
            assertClose(x.slice(0, 1, 1001).to(half), x.to(gpu).slice(0, 1, 1001).to(half), "f32 -> " + half + " unaligned");
        }
        long big = (1L << 53) + 1;                                           // int64 stays exact through copies
        Tensor ids = Tensor.of(new long[] {big, -big, Long.MAX_VALUE}, 3);
        assertClose(ids, ids.to(gpu), "int64 exact through host copies");
        assertClose(ids.expand(2, 3).contiguous(), ids.to(gpu).expand(2, 3).contiguous(), "int64 exact through the copy kernel");
        assertClose(ids.to(DType.INT32), ids.to(gpu).to(DType.INT32), "int64 -> int32 wraps");
    }

    @Test void fillEveryDtypeContiguousAndStrided() {
        for (DType dt : DType.values()) {
            double[] vs = dt == DType.BOOL ? new double[] {0, 1} : dt == DType.UINT8 ? new double[] {0, 7, 255} : new double[] {0, -3, 1.5, -0.0};
            for (double v : vs) {
                if (!dt.canHold(v)) continue;
                assertClose(Tensor.full(v, dt, Device.CPU, 5, 67), Tensor.full(v, dt, gpu, 5, 67), "full " + v + " " + dt);
                Tensor c = Tensor.zeros(dt, 6, 4), d = Tensor.zeros(dt, gpu, 6, 4);
                c.t().slice(1, 0, 6, 2).fill_(v);
                d.t().slice(1, 0, 6, 2).fill_(v);
                assertClose(c, d, "strided fill " + v + " " + dt);
            }
        }
    }

    @Test void copyIntoViews() {
        Generator g = new Generator(5);
        for (DType dt : FLOATS) {
            Tensor src = input(g, dt, 4, 6);
            Tensor c = Tensor.zeros(dt, 6, 8), d = Tensor.zeros(dt, gpu, 6, 8);
            c.slice(1, 2, 6).t().copy_(src);
            d.slice(1, 2, 6).t().copy_(src.to(gpu));
            assertClose(c, d, "copy_ into a transposed slice " + dt);
        }
    }

    @Test void mixingDevicesNamesBoth() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(2).add(Tensor.ones(DType.FLOAT32, gpu, 2)));
        assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains(gpu.toString()), e.getMessage());
    }
}

package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.List;

import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every op checks shapes, dtypes and devices up front and throws a message that names the op and the
 * offending values. These tests pin the op name and the values in each message (not the exact wording).
 */
class ErrorsTest {
    private static final Class<IllegalArgumentException> IAE = IllegalArgumentException.class;
    private static final Class<IndexOutOfBoundsException> IOOBE = IndexOutOfBoundsException.class;

    private static Tensor ids(long... v) { return Tensor.of(v, v.length); }

    @Test void broadcastShapeMismatch() {
        Tensor a = Tensor.ones(2, 3), b = Tensor.ones(4);
        assertThrowsWith(IAE, () -> a.add(b), "add", "[2, 3]", "[4]", "cannot be broadcast", "sizes 3 and 4");
        assertThrowsWith(IAE, () -> a.mul(Tensor.ones(3, 3)), "mul", "[2, 3]", "[3, 3]", "sizes 2 and 3");
        assertThrowsWith(IAE, () -> a.lt(b), "lt", "[2, 3]", "[4]");
        assertThrowsWith(IAE, () -> Tensor.where(Tensor.ones(DType.BOOL, 5), a, a), "where", "[5]", "[2, 3]");
        assertThrowsWith(IAE, () -> a.maskedFill(Tensor.ones(DType.BOOL, 2), 0), "maskedFill", "[2, 3]", "[2]");
        assertThrowsWith(IAE, () -> Tensor.ones(3).maskedFill(Tensor.ones(DType.BOOL, 2, 3), 0), "maskedFill", "mask shape [2, 3]", "input shape [3]");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 1).copy_(Tensor.ones(3)), "copy_", "source shape [3]", "destination shape [2, 1]");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 3).sumTo(4), "sumTo", "[4]");
        assertThrowsWith(IAE, () -> Tensor.ones(3, 1).expand(4, 2), "expand", "size 3", "[3, 1]", "4", "[4, 2]");
        assertThrowsWith(IAE, () -> Tensor.ones(3, 1).expand(3), "expand", "[3]", "fewer dims", "[3, 1]");
    }

    @Test void matmulShapes() {
        assertThrowsWith(IAE, () -> Tensor.ones(3, 4).matmul(Tensor.ones(5, 6)), "matmul: [3, 4] @ [5, 6]: inner dimensions 4 and 5 differ");
        assertThrowsWith(IAE, () -> Tensor.ones(3).matmul(Tensor.ones(4, 5)), "matmul", "[3] @ [4, 5]", "3 and 4");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 3).matmul(Tensor.ones(2)), "matmul", "[2, 3] @ [2]", "3 and 2");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 3, 4).matmul(Tensor.ones(3, 4, 5)), "matmul", "batch", "[2]", "[3]");
        assertThrowsWith(IAE, () -> Tensor.scalar(1).matmul(Tensor.ones(2)), "matmul", "at least 1 dim", "[]", "[2]");
        assertThrowsWith(IAE, () -> Tensor.ones(3).addmm(Tensor.ones(3), Tensor.ones(3, 2)), "addmm", "2-D", "[3]", "[3, 2]");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 2).addmm(Tensor.ones(2, 3), Tensor.ones(2, 2)), "matmul", "[2, 3] @ [2, 2]", "3 and 2");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 2).outer(Tensor.ones(2)), "outer", "1-D", "[2, 2]");
    }

    @Test void dtypeMixingIsRefused() {
        Tensor f = Tensor.ones(2), d = Tensor.ones(DType.FLOAT64, 2), i = Tensor.ones(DType.INT64, 2);
        assertThrowsWith(IAE, () -> f.add(d), "add", "float32", "float64", "differ", ".to(DType.FLOAT32)");
        assertThrowsWith(IAE, () -> i.sub(f), "sub", "int64", "float32");
        assertThrowsWith(IAE, () -> f.eq(i), "eq", "float32", "int64");
        assertThrowsWith(IAE, () -> f.maximum(Tensor.ones(DType.FLOAT16, 2)), "maximum", "float32", "float16");
        assertThrowsWith(IAE, () -> Tensor.ones(2, 2).matmul(Tensor.ones(DType.FLOAT64, 2, 2)), "matmul", "float32", "float64");
        assertThrowsWith(IAE, () -> Tensor.where(Tensor.ones(DType.BOOL, 2), f, d), "where", "float32", "float64");
        assertThrowsWith(IAE, () -> Tensor.where(f, f, f), "where", "condition", "bool", "float32");
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(f, i), 0), "cat", "float32", "int64");
        assertThrowsWith(IAE, () -> Tensor.stack(List.of(f, d), 0), "cat", "float32", "float64");
        assertThrowsWith(IAE, () -> Tensor.zeros(3).scatterAdd(0, ids(0), Tensor.ones(DType.FLOAT64, 1)), "scatterAdd", "float32", "float64");
        assertThrowsWith(IAE, () -> f.maskedFill(Tensor.ones(2), 0), "maskedFill", "mask", "bool", "float32");
        assertThrowsWith(IAE, () -> f.indexSelect(0, Tensor.of(0f)), "indexSelect", "int64 or int32", "float32");
        assertThrowsWith(IAE, () -> f.gather(0, Tensor.ones(DType.INT8, 2)), "gather", "int64 or int32", "int8");
        assertThrowsWith(IAE, () -> Tensor.of(new int[] {1}, 1).oneHot(3), "oneHot", "int64", "int32");
    }

    @Test void integerOnlyRestrictions() {
        Tensor i = Tensor.ones(DType.INT64, 2);
        assertThrowsWith(IAE, i::exp, "exp", "int64", ".to(DType.FLOAT32)");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.INT32, 2).sqrt(), "sqrt", "int32");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.UINT8, 2).sigmoid(), "sigmoid", "uint8");
        assertThrowsWith(IAE, () -> i.div(i), "div", "int64", "truncate");
        assertThrowsWith(IAE, () -> i.div(2), "div", "int64");
        assertThrowsWith(IAE, () -> i.pow(i), "pow", "int64");
        assertThrowsWith(IAE, i::mean, "mean", "int64");
        assertThrowsWith(IAE, () -> i.var(), "var", "int64");
        assertThrowsWith(IAE, () -> i.softmax(0), "softmax", "int64");
        assertThrowsWith(IAE, () -> i.logSoftmax(0), "logSoftmax", "int64");
        assertThrowsWith(IAE, () -> i.norm(), "norm", "int64");
        assertThrowsWith(IAE, () -> i.logsumexp(0, false), "logsumexp", "int64");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.INT64, 2, 2).matmul(Tensor.ones(DType.INT64, 2, 2)), "matmul", "int64");
        Tensor b = Tensor.ones(DType.BOOL, 2);
        assertThrowsWith(IAE, () -> b.add(b), "add", "bool");
        assertThrowsWith(IAE, b::neg, "neg", "bool");
        assertThrowsWith(IAE, () -> i.requiresGrad(true), "requiresGrad", "floating-point", "int64");
        assertThrowsWith(IAE, () -> Tensor.rand(new Generator(0), DType.INT32, 2), "rand", "int32");
        assertThrowsWith(IAE, () -> Tensor.randn(new Generator(0), DType.INT64, 2), "randn", "int64");
    }

    @Test void scalarsThatDoNotFitTheDtype() {
        Tensor i = Tensor.ones(DType.INT64, 2);
        assertThrowsWith(IAE, () -> i.add(0.5), "add", "0.5", "int64");
        assertThrowsWith(IAE, () -> i.mul(1.25), "mul", "1.25", "int64");
        assertThrowsWith(IAE, () -> i.eq(0.5), "eq", "0.5", "int64");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.UINT8, 2).sub(-1), "sub", "-1.0", "uint8");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.INT8, 2).mul(200), "mul", "200.0", "int8");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.INT32, 2).add(3e9), "add", "3.0E9", "int32");
        assertThrowsWith(IAE, () -> i.rsub(0.5), "rsub", "0.5");
        assertThrowsWith(IAE, () -> i.maskedFill(Tensor.ones(DType.BOOL, 2), 0.5), "maskedFill", "0.5", "int64");
        assertThrowsWith(IAE, () -> i.clamp(0.5, 3), "clamp", "0.5", "int64");
        assertThrowsWith(IAE, () -> Tensor.full(0.5, DType.INT32, Device.CPU, 2), "full", "0.5", "int32");
        assertThrowsWith(IAE, () -> i.fill_(1.5), "fill_", "1.5", "int64");
        assertThrowsWith(IAE, () -> Tensor.ones(DType.BOOL, 1).fill_(2), "fill_", "2.0", "bool");
        assertThrowsWith(IAE, () -> Tensor.ones(2).clamp(3, 1), "clamp", "min 3.0", "max 1.0");
    }

    @Test void indicesOutOfRange() {
        Tensor x = Tensor.ones(3, 4);
        assertThrowsWith(IOOBE, () -> x.indexSelect(0, ids(0, 5)), "indexSelect", "index 5", "dim 0", "size 3");
        assertThrowsWith(IOOBE, () -> x.indexSelect(1, ids(-5)), "indexSelect", "index -5", "dim 1", "size 4");
        assertThrowsWith(IOOBE, () -> x.gather(1, Tensor.of(new long[] {0, 4}, 1, 2)), "gather", "index 4", "dim 1", "size 4");
        assertThrowsWith(IOOBE, () -> x.scatterAdd(0, Tensor.of(new long[] {3}, 1, 1), Tensor.ones(1, 1)), "scatterAdd", "index 3", "dim 0", "size 3");
        assertThrowsWith(IOOBE, () -> x.select(0, 3), "select", "index 3", "dim 0", "size 3");
        assertThrowsWith(IOOBE, () -> x.select(1, -5), "select", "index -5", "size 4");
        assertThrowsWith(IOOBE, () -> ids(0, 2, 5).oneHot(4), "oneHot", "class id 5", "position 2", "[0, 4)");
        assertThrowsWith(IOOBE, () -> ids(-1).oneHot(4), "oneHot", "class id -1");
        assertThrowsWith(IOOBE, () -> Tensor.embedding(x, ids(3)), "index 3", "size 3");
        assertThrowsWith(IOOBE, () -> x.sum(2, false), "sum", "dimension 2", "rank 2", "-2 to 1");
        assertThrowsWith(IOOBE, () -> x.softmax(-3), "softmax", "dimension -3", "rank 2");
        assertThrowsWith(IOOBE, () -> x.argmax(5, false), "argmax", "dimension 5");
        assertThrowsWith(IOOBE, () -> x.transpose(0, 2), "transpose", "dimension 2");
        assertThrowsWith(IOOBE, () -> x.unsqueeze(3), "unsqueeze", "dimension 3", "rank 3");
        assertThrowsWith(IOOBE, () -> x.get(3, 0), "select", "index 3");
        assertThrowsWith(IAE, () -> x.get(0), "get", "1 indices", "rank 2");
        assertThrowsWith(IOOBE, () -> x.size(2), "size", "dimension 2", "rank 2");
        assertThrowsWith(IOOBE, () -> Tensor.scalar(1).size(0), "size", "0-dim");
        assertThrowsWith(IAE, () -> x.sum(new int[] {1, -1}, false), "sum", "appears twice", "[1, -1]");
        assertThrowsWith(IAE, () -> x.indexSelect(0, Tensor.zeros(DType.INT64, 2, 2)), "indexSelect", "1-D", "[2, 2]");
        assertThrowsWith(IAE, () -> x.gather(0, ids(0)), "gather", "rank 1", "[1]", "rank 2", "[3, 4]");
        assertThrowsWith(IAE, () -> x.gather(0, Tensor.zeros(DType.INT64, 2, 5)), "gather", "[2, 5]", "[3, 4]", "dim 1");
        assertThrowsWith(IAE, () -> x.scatterAdd(0, Tensor.zeros(DType.INT64, 1, 2), Tensor.ones(1, 3)), "scatterAdd", "src shape [1, 3]", "index shape [1, 2]");
        assertThrowsWith(IAE, () -> ids(1).oneHot(0), "oneHot", "numClasses", "0");
    }

    @Test void badReshapeViewAndPermute() {
        Tensor x = Tensor.ones(2, 3);
        assertThrowsWith(IAE, () -> x.reshape(4, 2), "reshape", "[4, 2]", "8 elements", "6 elements", "[2, 3]");
        assertThrowsWith(IAE, () -> x.reshape(4, -1), "reshape", "[4, -1]", "6 elements");
        assertThrowsWith(IAE, () -> x.reshape(-1, -1), "reshape", "only one dimension can be -1", "[-1, -1]");
        assertThrowsWith(IAE, () -> x.reshape(-2, 3), "reshape", "invalid size -2");
        assertThrowsWith(IAE, () -> x.view(7), "view", "[7]", "6 elements");
        assertThrowsWith(IAE, () -> x.t().view(6), "view", "[3, 2]", "strides [1, 3]", "[6]", "reshape()");
        Tensor y = Tensor.ones(2, 3, 4);
        assertThrowsWith(IAE, () -> y.permute(0, 1), "permute", "[0, 1]", "2 dims", "3");
        assertThrowsWith(IAE, () -> y.permute(0, 0, 1), "permute", "0 repeats", "[0, 0, 1]");
        assertThrowsWith(IAE, () -> y.permute(0, -3, 1), "permute", "-3 repeats");
        assertThrowsWith(IOOBE, () -> y.permute(0, 1, 3), "permute", "dimension 3", "rank 3");
        assertThrowsWith(IAE, () -> y.flatten(2, 0), "flatten", "2", "0");
        assertThrowsWith(IAE, () -> y.t(), "t", "rank <= 2", "[2, 3, 4]", "transpose");
        assertThrowsWith(IAE, () -> y.slice(0, 0, 2, 0), "slice", "step", "0");
        assertThrowsWith(IAE, () -> Tensor.zeros(2, -1), "shape [2, -1]", "negative");
        assertThrowsWith(IAE, () -> Tensor.of(new float[] {1, 2, 3}, 2, 2), "Tensor.of", "3", "[2, 2]", "4 elements");
    }

    @Test void catStackSplitMismatches() {
        Tensor a = Tensor.ones(2, 3);
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(a, Tensor.ones(2, 4)), 0), "cat", "tensor 1", "[2, 4]", "[2, 3]", "except in dim 0");
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(a, a, Tensor.ones(3)), 1), "cat", "tensor 2", "rank 1", "[3]", "rank 2");
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(), 0), "cat", "at least one");
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(Tensor.scalar(1), Tensor.scalar(2)), 0), "cat", "zero-dimensional", "stack");
        assertThrowsWith(IOOBE, () -> Tensor.cat(List.of(a, a), 2), "cat", "dimension 2", "rank 2");
        assertThrowsWith(IAE, () -> Tensor.stack(List.of(a, Tensor.ones(3, 2)), 0), "stack", "tensor 1", "[3, 2]", "[2, 3]");
        assertThrowsWith(IAE, () -> Tensor.stack(List.of(), 0), "stack", "at least one");
        assertThrowsWith(IAE, () -> a.split(new int[] {1, 3}, 1), "split", "[1, 3]", "add up to 4", "dim 1 has size 3");
        assertThrowsWith(IAE, () -> a.split(new int[] {3, -1}, 1), "split", "[3, -1]");
        assertThrowsWith(IAE, () -> a.split(0, 1), "split", "0");
        assertThrowsWith(IAE, () -> a.chunk(0, 1), "chunk", "0");
    }

    @Test void reductionAndOtherShapeChecks() {
        Tensor e = Tensor.zeros(0, 3);
        assertThrowsWith(IAE, () -> e.max(0, false), "max", "dim 0", "size 0", "[0, 3]");
        assertThrowsWith(IAE, e::max, "max", "size 0");
        assertThrowsWith(IAE, () -> e.argmin(0, false), "argmin", "size 0", "[0, 3]");
        assertThrowsWith(IAE, () -> Tensor.ones(3).norm(0), "norm", "p", "0");
        assertThrowsWith(IAE, () -> Tensor.ones(3).tril(), "tril", "rank >= 2", "[3]");
        assertThrowsWith(IAE, () -> Tensor.ones(3).triu(), "triu", "[3]");
        assertThrowsWith(IAE, () -> Tensor.embedding(Tensor.ones(3), ids(0)), "embedding", "2-D", "[3]");
        assertThrowsWith(IllegalStateException.class, () -> Tensor.ones(2).item(), "item", "[2]", "2 elements");
        assertThrowsWith(IAE, () -> Tensor.ones(2).setGrad(Tensor.ones(3)), "setGrad", "[3]", "[2]");
        assertThrowsWith(IllegalStateException.class, () -> Tensor.ones(1).backward(), "backward", "fluxion-autodiff");
    }

    @Test void creationArguments() {
        assertThrowsWith(IAE, () -> Tensor.arange(0, 5, 0), "arange", "step", "0");
        assertThrowsWith(IAE, () -> Tensor.arange(0, 5, -1), "arange", "step -1", "start 0", "end 5");
        assertThrowsWith(IAE, () -> Tensor.linspace(0, 1, -1), "linspace", "-1");
        assertThrowsWith(IAE, () -> new Generator(0).nextLong(5, 5), "nextLong", "5");
        assertThrowsWith(IAE, () -> new Generator(0).setState(new long[1]), "setState", "2", "1");
        assertThrowsWith(IAE, () -> Device.parse("tpu"), "Device.parse", "'tpu'");
        assertEquals(Device.cuda(1), Device.parse("cuda:1"));
        assertEquals(Device.CPU, Device.parse(" CPU "));
        assertThrowsWith(IAE, () -> Device.cuda(-1), "Device", "-1");
        assertThrowsWith(IAE, () -> Tensor.zeros(DType.FLOAT32, Device.cuda(3), 2), "no backend", "cuda:3", "available", "cpu");
    }

    /** A storage that claims to live on a GPU: enough to reach the device checks, which run before any kernel. */
    private static final class FakeGpuStorage extends Storage {
        FakeGpuStorage(DType dtype, long numel) { super(dtype, numel); }
        @Override public Device device() { return Device.cuda(0); }
        @Override public void readBytes(long elementOffset, ByteBuffer dst) { throw new UnsupportedOperationException(); }
        @Override public void writeBytes(long elementOffset, ByteBuffer src) { throw new UnsupportedOperationException(); }
        @Override public boolean isClosed() { return false; }
        @Override public void close() {}
        @Override public void releaseMemory() { throw new UnsupportedOperationException(); }
        @Override public void materialize() { throw new UnsupportedOperationException(); }
        @Override public boolean isResident() { return true; }
    }

    private static Tensor onGpu(DType dtype, int... shape) {
        return new Tensor(new FakeGpuStorage(dtype, Shape.numel(shape)), shape, Shape.contiguousStrides(shape), 0, new Tensor.StorageRef());
    }

    @Test void deviceMixingIsRefused() {
        Tensor g = onGpu(DType.FLOAT32, 2, 2), c = Tensor.ones(2, 2);
        assertEquals(Device.cuda(0), g.device());
        assertThrowsWith(IAE, () -> c.add(g), "add", "different devices", "cpu", "cuda:0", ".to(device)");
        assertThrowsWith(IAE, () -> c.matmul(g), "matmul", "cpu", "cuda:0");
        assertThrowsWith(IAE, () -> c.lt(g), "lt", "cpu", "cuda:0");
        assertThrowsWith(IAE, () -> Tensor.where(onGpu(DType.BOOL, 2, 2), c, c), "where", "cuda:0", "cpu");
        assertThrowsWith(IAE, () -> Tensor.cat(List.of(c, g), 0), "cat", "cpu", "cuda:0");
        assertThrowsWith(IAE, () -> c.indexSelect(0, onGpu(DType.INT64, 1)), "indexSelect", "cpu", "cuda:0");
        assertThrowsWith(IAE, () -> c.gather(0, onGpu(DType.INT64, 2, 2)), "gather", "cpu", "cuda:0");
        assertThrowsWith(IAE, () -> c.copy_(g), "copy_", "cpu", "cuda:0");
    }
}

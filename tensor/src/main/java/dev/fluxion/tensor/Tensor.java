package dev.fluxion.tensor;

import java.util.List;

/**
 * An n-dimensional array on a device: shape, strides, offset and dtype over a shared {@link Storage}.
 * The API follows PyTorch: {@code a.matmul(b).add(bias).relu()}. Ops broadcast with NumPy rules, never
 * cast silently (mixing dtypes or devices is an error that names both), and return new tensors; views
 * (reshape, transpose, permute, slice, expand, ...) share storage without copying. The logic of each op
 * family lives in its own class (Elementwise, Reductions, Views, Joins, Indexing, LinAlg, Creation).
 *
 * <pre>{@code
 * Tensor x = Tensor.randn(new Generator(0), 4, 3);
 * Tensor y = x.matmul(Tensor.ones(3, 2)).softmax(-1);   // [4, 2]
 * }</pre>
 *
 * Tensors are {@link AutoCloseable}: closing returns memory at once (a {@link Scope} closes every
 * temporary made inside it); unclosed tensors are freed once unreachable.
 */
public class Tensor implements AutoCloseable {
    // not final: replaceData swaps them together (an nn.Parameter keeps its identity across module.to(dtype))
    private Storage storage;
    private int[] shape;
    private long[] strides;   // in elements; long: a dim of a tensor over 2^31 elements may step further
    private long offset;
    private StorageRef ref;

    // autograd state, owned by module fluxion-autodiff through the accessors below
    private boolean requiresGrad;
    private Tensor grad;
    private Object gradFn;

    /** A view over storage; shared by every tensor made from the same allocation, closed when the last one is. */
    static final class StorageRef {
        private int open = 0;
        synchronized void acquire() { open++; }
        synchronized boolean release() { return --open == 0; }
        synchronized int open() { return open; }
    }

    private static final java.util.concurrent.atomic.AtomicLong SERIALS = new java.util.concurrent.atomic.AtomicLong();
    private final long serial = SERIALS.getAndIncrement();

    /**
     * A number unique to this tensor object within the process, increasing in creation order. A tensor whose
     * serial is at least {@link #nextSerial()} read before some code ran was made while it ran: the autograd
     * engine uses this to know that a backward rule's result is new, not the seed or a tensor the rule kept.
     */
    public long serial() { return serial; }

    /** The serial the next tensor made will have (or a later one). */
    public static long nextSerial() { return SERIALS.get(); }

    /**
     * True when this tensor is the only open (unfreed) tensor over its storage and covers all of it: no view,
     * reshape or other tensor shares its elements (as a PyTorch tensor whose storage use count is 1).
     */
    public boolean ownsStorage() {
        return freedBy == null && ref.open() == 1 && offset == 0 && isContiguous() && storage.numel() == numel();
    }

    Tensor(Storage storage, int[] shape, long[] strides, long offset, StorageRef ref) {
        this.storage = storage;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.ref = ref;
        ref.acquire();
        Scope.track(this);
    }

    /**
     * A tensor over the same elements as base (shape, strides and storage shared), for subclasses such as
     * {@code nn.Parameter}. It starts as a leaf: no gradient state is copied.
     */
    protected Tensor(Tensor base) {
        this(base.storage(), base.shape.clone(), base.strides.clone(), base.offset, base.ref);
    }

    /**
     * Makes this tensor address src's elements (storage, shape, strides, offset), as PyTorch's
     * {@code param.data = src}: for subclasses such as {@code nn.Parameter} that keep their identity and
     * autograd state while their data moves to another dtype or device. This tensor's hold on its old
     * storage is released. Not for use while another thread reads this tensor.
     */
    protected final void replaceData(Tensor src) {
        if (src == this) return;
        if (isClosed() || src.isClosed())
            throw new IllegalStateException("replaceData: " + (isClosed() ? "this tensor" : "the source") + " is closed");
        Storage oldStorage = storage;
        StorageRef oldRef = ref;
        src.ref.acquire();
        storage = src.storage;
        shape = src.shape.clone();
        strides = src.strides.clone();
        offset = src.offset;
        ref = src.ref;
        if (oldRef.release()) oldStorage.close();
    }

    /** A new contiguous tensor over fresh storage; contents undefined. */
    static Tensor empty(Device device, DType dtype, int[] shape) {
        Storage s = Backends.of(device).allocate(dtype, Shape.numel(shape));
        return new Tensor(s, shape, Shape.contiguousStrides(shape), 0, new StorageRef());
    }

    /** A view sharing this tensor's storage (unchecked; the ops in this package compute valid layouts). */
    Tensor view(int[] newShape, long[] newStrides, long newOffset) {
        if (freedBy != null) throw freedError();
        return new Tensor(storage, newShape, newStrides, newOffset, ref);
    }

    /**
     * A view with any layout over this tensor's storage, as torch.as_strided (not recorded for autograd).
     * Backends use it to address sub-blocks; every element it can reach must lie inside the storage.
     */
    public Tensor asStrided(int[] newShape, long[] newStrides, long newOffset) {
        if (newShape.length != newStrides.length)
            throw new IllegalArgumentException("asStrided: shape " + Shape.str(newShape) + " and strides " + Shape.str(newStrides) + " differ in rank");
        long lo = newOffset, hi = newOffset;
        for (int i = 0; i < newShape.length; i++) {
            if (newShape[i] < 0) throw new IllegalArgumentException("asStrided: negative size in " + Shape.str(newShape));
            if (newShape[i] == 0) { lo = 0; hi = -1; break; }
            long span = (long) (newShape[i] - 1) * newStrides[i];
            if (span < 0) lo += span; else hi += span;
        }
        if (hi >= lo && (lo < 0 || hi >= storage.numel()))
            throw new IndexOutOfBoundsException("asStrided: shape " + Shape.str(newShape) + ", strides " + Shape.str(newStrides) + ", offset " + newOffset
                    + " reaches elements " + lo + ".." + hi + " of a storage of " + storage.numel());
        return view(newShape.clone(), newStrides.clone(), newOffset);
    }

    // ---------------------------------------------------------------- metadata

    /** The size of each dim (a copy). */
    public int[] shape() { return shape.clone(); }

    /** The size of one dim (negative dims count from the end). */
    public int size(int dim) {
        if (shape.length == 0) throw new IndexOutOfBoundsException("size: a 0-dim tensor has no dims, got dim " + dim);
        return shape[Shape.dim("size", dim, shape.length)];
    }

    /** The rank (number of dims). */
    public int dim() { return shape.length; }

    /** The number of elements (a long: a tensor may hold more than 2^31; a single dim may not). */
    public long numel() { return Shape.numel(shape); }

    /** Strides in elements, per dim. */
    public long[] stride() { return strides.clone(); }

    /** The storage index of element [0, ..., 0]. */
    public long offset() { return offset; }

    /** The element type. */
    public DType dtype() { return storage.dtype(); }

    /** The device whose memory holds the elements. */
    public Device device() { return storage.device(); }

    /** The storage this tensor views; refused once the tensor is freed (see {@link #close()}). */
    public Storage storage() {
        if (freedBy != null) throw freedError();
        return storage;
    }

    /** True when elements are laid out row-major without gaps (size-1 dims may have any stride). */
    public boolean isContiguous() {
        for (int d : shape) if (d == 0) return true;   // no elements: any strides describe the layout
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    Backend backend() { return Backends.of(device()); }

    // ---------------------------------------------------------------- creation (see Creation)

    /** A new contiguous tensor whose contents are undefined (as torch.empty). */
    public static Tensor empty(DType dtype, Device device, int... shape) { return empty(device, dtype, Shape.checked("empty", shape)); }
    /** A float32 CPU tensor of zeros. */
    public static Tensor zeros(int... shape) { return full(0, DType.FLOAT32, Device.CPU, shape); }
    /** A CPU tensor of zeros of the given dtype. */
    public static Tensor zeros(DType dtype, int... shape) { return full(0, dtype, Device.CPU, shape); }
    /** A tensor of zeros of the given dtype on the given device. */
    public static Tensor zeros(DType dtype, Device device, int... shape) { return full(0, dtype, device, shape); }
    /** A float32 CPU tensor of ones. */
    public static Tensor ones(int... shape) { return full(1, DType.FLOAT32, Device.CPU, shape); }
    /** A CPU tensor of ones of the given dtype. */
    public static Tensor ones(DType dtype, int... shape) { return full(1, dtype, Device.CPU, shape); }
    /** A tensor of ones of the given dtype on the given device. */
    public static Tensor ones(DType dtype, Device device, int... shape) { return full(1, dtype, device, shape); }
    /** A float32 CPU tensor with every element equal to value. */
    public static Tensor full(double value, int... shape) { return full(value, DType.FLOAT32, Device.CPU, shape); }
    /** A tensor with every element equal to value (rounded to dtype). */
    public static Tensor full(double value, DType dtype, Device device, int... shape) { return Creation.full(value, dtype, device, shape); }
    /** A 0-dim tensor holding value. */
    public static Tensor scalar(double value, DType dtype) { return Creation.full(value, dtype, Device.CPU, new int[0]); }
    /** A 0-dim float32 tensor holding value. */
    public static Tensor scalar(double value) { return scalar(value, DType.FLOAT32); }
    /** Zeros with t's shape, dtype and device. */
    public static Tensor zerosLike(Tensor t) { return full(0, t.dtype(), t.device(), t.shape); }
    /** Ones with t's shape, dtype and device. */
    public static Tensor onesLike(Tensor t) { return full(1, t.dtype(), t.device(), t.shape); }
    /** value everywhere, with t's shape, dtype and device. */
    public static Tensor fullLike(Tensor t, double value) { return full(value, t.dtype(), t.device(), t.shape); }
    /** start, start+step, ... &lt; end (float32 unless all three are integral, then int64, as torch.arange). */
    public static Tensor arange(double start, double end, double step) { return Creation.arange(start, end, step, null); }
    /** start, start + step, ... up to end (excluded), 1-D, of the given dtype. */
    public static Tensor arange(double start, double end, double step, DType dtype) { return Creation.arange(start, end, step, dtype); }
    /** As {@link #arange(double, double, double, DType)} (dtype null: inferred as there), made on device without a host copy where its backend can. */
    public static Tensor arange(double start, double end, double step, DType dtype, Device device) { return Creation.arange(start, end, step, dtype, device); }
    /** 0, 1, ..., end - 1 as int64 (as torch.arange(end)). */
    public static Tensor arange(long end) { return Creation.arange(0, end, 1, DType.INT64); }
    /** steps evenly spaced float32 values from start to end, both included. */
    public static Tensor linspace(double start, double end, int steps) { return Creation.linspace(start, end, steps, DType.FLOAT32); }
    /** steps evenly spaced values from start to end, both included, of the given dtype. */
    public static Tensor linspace(double start, double end, int steps, DType dtype) { return Creation.linspace(start, end, steps, dtype); }
    /** The n x n float32 identity matrix. */
    public static Tensor eye(int n) { return Creation.eye(n, n, DType.FLOAT32); }
    /** An n x m matrix with ones on the diagonal and zeros elsewhere. */
    public static Tensor eye(int n, int m, DType dtype) { return Creation.eye(n, m, dtype); }
    /** Uniform on [0, 1). */
    public static Tensor rand(Generator g, int... shape) { return Creation.rand(g, DType.FLOAT32, shape); }
    /** Uniform samples in [0, 1) of the given dtype, drawn from g. */
    public static Tensor rand(Generator g, DType dtype, int... shape) { return Creation.rand(g, dtype, shape); }
    /** Standard normal. */
    public static Tensor randn(Generator g, int... shape) { return Creation.randn(g, DType.FLOAT32, shape); }
    /** Standard normal samples of the given dtype, drawn from g. */
    public static Tensor randn(Generator g, DType dtype, int... shape) { return Creation.randn(g, dtype, shape); }
    /**
     * Uniform on [0, 1) of a float dtype, made on device: on a GPU by its counter-based generator (Philox
     * 4x32-10) keyed by the next value of g, with no host-to-device copy; on the CPU the values of
     * {@link #rand(Generator, DType, int...)}. The same seed gives the same values on the same kind of device.
     */
    public static Tensor rand(Generator g, DType dtype, Device device, int... shape) { return Creation.random(Backend.Draw.UNIFORM, g, dtype, device, shape); }
    /** Standard normal of a float dtype, made on device (as {@link #rand(Generator, DType, Device, int...)}). */
    public static Tensor randn(Generator g, DType dtype, Device device, int... shape) { return Creation.random(Backend.Draw.NORMAL, g, dtype, device, shape); }
    /** As {@link #rand(Generator, DType, Device, int...)}, from the global generator. */
    public static Tensor rand(DType dtype, Device device, int... shape) { return Creation.random(Backend.Draw.UNIFORM, Generator.global(), dtype, device, shape); }
    /** As {@link #randn(Generator, DType, Device, int...)}, from the global generator. */
    public static Tensor randn(DType dtype, Device device, int... shape) { return Creation.random(Backend.Draw.NORMAL, Generator.global(), dtype, device, shape); }
    /** Uniform integers in [low, high), int64. */
    public static Tensor randint(Generator g, long low, long high, int... shape) { return Creation.randint(g, low, high, shape); }
    /** Uniform integers in [low, high), int64, made on device (on a GPU keyed by the next value of g, as {@link #rand(Generator, DType, Device, int...)}). */
    public static Tensor randint(Generator g, long low, long high, Device device, int... shape) { return Creation.randint(g, low, high, device, shape); }
    /** Uniform on [0, 1), float32, from the global generator ({@link Generator#manualSeed}). */
    public static Tensor rand(int... shape) { return Creation.rand(Generator.global(), DType.FLOAT32, shape); }
    /** Uniform on [0, 1) of the given dtype, from the global generator. */
    public static Tensor rand(DType dtype, int... shape) { return Creation.rand(Generator.global(), dtype, shape); }
    /** Standard normal, float32, from the global generator. */
    public static Tensor randn(int... shape) { return Creation.randn(Generator.global(), DType.FLOAT32, shape); }
    /** Standard normal of the given dtype, from the global generator. */
    public static Tensor randn(DType dtype, int... shape) { return Creation.randn(Generator.global(), dtype, shape); }
    /** Uniform integers in [low, high), int64, from the global generator. */
    public static Tensor randint(long low, long high, int... shape) { return Creation.randint(Generator.global(), low, high, shape); }
    /** A random permutation of 0..n-1 (int64) drawn from g (as torch.randperm). */
    public static Tensor randperm(int n, Generator g) { return Sampling.randperm(n, g); }
    /** A random permutation of 0..n-1 (int64) from the global generator. */
    public static Tensor randperm(int n) { return Sampling.randperm(n, Generator.global()); }
    /**
     * numSamples int64 category indices drawn from the weights of each row (1-D [k] -&gt; [n], 2-D [m, k] -&gt;
     * [m, n]; weights non-negative, not necessarily summing to 1), with or without replacement, from g (as torch.multinomial).
     */
    public Tensor multinomial(int numSamples, boolean replacement, Generator g) { return Sampling.multinomial(this, numSamples, replacement, g); }
    /** As {@link #multinomial(int, boolean, Generator)}, from the global generator. */
    public Tensor multinomial(int numSamples, boolean replacement) { return Sampling.multinomial(this, numSamples, replacement, Generator.global()); }
    /** 1 with probability p, else 0, per element p of this tensor (in [0, 1]), drawn from g (as torch.bernoulli). */
    public Tensor bernoulli(Generator g) { return Sampling.bernoulli(this, g); }
    /** As {@link #bernoulli(Generator)}, from the global generator. */
    public Tensor bernoulli() { return Sampling.bernoulli(this, Generator.global()); }
    /** A float32 tensor of the given shape holding a copy of data (row-major). */
    public static Tensor of(float[] data, int... shape) { return Creation.fromArray(data, shape); }
    /** A float64 tensor of the given shape holding a copy of data (row-major). */
    public static Tensor of(double[] data, int... shape) { return Creation.fromArray(data, shape); }
    /** An int64 tensor of the given shape holding a copy of data (row-major). */
    public static Tensor of(long[] data, int... shape) { return Creation.fromArray(data, shape); }
    /** An int32 tensor of the given shape holding a copy of data (row-major). */
    public static Tensor of(int[] data, int... shape) { return Creation.fromArray(data, shape); }
    /** A bool tensor of the given shape holding a copy of data (row-major). */
    public static Tensor of(boolean[] data, int... shape) { return Creation.fromArray(data, shape); }
    /** A 1-D float32 tensor. */
    public static Tensor of(float... data) { return Creation.fromArray(data, data.length); }

    // ---------------------------------------------------------------- reading values

    /** The elements in row-major order, converted to float (copied to the host if needed). */
    public float[] toFloatArray() { return Creation.toFloatArray(this); }
    /** The elements in row-major order, converted to double (copied to the host if needed). */
    public double[] toDoubleArray() { return Creation.toDoubleArray(this); }
    /** The elements in row-major order, converted to long (copied to the host if needed). */
    public long[] toLongArray() { return Creation.toLongArray(this); }
    /** The value of a one-element tensor. */
    public double item() {
        if (freedBy != null) throw freedError();
        if (numel() != 1) throw new IllegalStateException("item: tensor of shape " + Shape.str(shape) + " has " + numel() + " elements, expected 1");
        return toDoubleArray()[0];
    }
    /** One element, by index (negative indices count from the end). */
    public double get(int... index) { return Indexing.element(this, index).item(); }

    // ---------------------------------------------------------------- elementwise (see Elementwise)

    /** this + o, broadcast. */
    public Tensor add(Tensor o) { return Elementwise.binary(BinaryOp.ADD, this, o); }
    /** this + v. */
    public Tensor add(double v) { return Elementwise.binary(BinaryOp.ADD, this, Elementwise.scalarLike(this, v, "add")); }
    /** this - o, broadcast. */
    public Tensor sub(Tensor o) { return Elementwise.binary(BinaryOp.SUB, this, o); }
    /** this - v. */
    public Tensor sub(double v) { return Elementwise.binary(BinaryOp.SUB, this, Elementwise.scalarLike(this, v, "sub")); }
    /** this * o elementwise, broadcast. */
    public Tensor mul(Tensor o) { return Elementwise.binary(BinaryOp.MUL, this, o); }
    /** this * v. */
    public Tensor mul(double v) { return Elementwise.binary(BinaryOp.MUL, this, Elementwise.scalarLike(this, v, "mul")); }
    /** this / o elementwise, broadcast. */
    public Tensor div(Tensor o) { return Elementwise.binary(BinaryOp.DIV, this, o); }
    /** this / v. */
    public Tensor div(double v) { return Elementwise.binary(BinaryOp.DIV, this, Elementwise.scalarLike(this, v, "div")); }
    /** this raised to o elementwise, broadcast. */
    public Tensor pow(Tensor o) { return Elementwise.binary(BinaryOp.POW, this, o); }
    /** this raised to the power v. */
    public Tensor pow(double v) { return Elementwise.binary(BinaryOp.POW, this, Elementwise.scalarLike(this, v, "pow")); }
    /** The elementwise maximum of this and o, broadcast (NaN if either is NaN). */
    public Tensor maximum(Tensor o) { return Elementwise.binary(BinaryOp.MAXIMUM, this, o); }
    /** The elementwise minimum of this and o, broadcast (NaN if either is NaN). */
    public Tensor minimum(Tensor o) { return Elementwise.binary(BinaryOp.MINIMUM, this, o); }
    /** v - this. */
    public Tensor rsub(double v) { return Elementwise.binary(BinaryOp.SUB, Elementwise.scalarLike(this, v, "rsub"), this); }
    /** -this. */
    public Tensor neg() { return Elementwise.unary(UnaryOp.NEG, this); }
    /** e raised to each element. */
    public Tensor exp() { return Elementwise.unary(UnaryOp.EXP, this); }
    /** The natural logarithm of each element. */
    public Tensor log() { return Elementwise.unary(UnaryOp.LOG, this); }
    /** The square root of each element. */
    public Tensor sqrt() { return Elementwise.unary(UnaryOp.SQRT, this); }
    /** 1 / sqrt of each element. */
    public Tensor rsqrt() { return Elementwise.unary(UnaryOp.RSQRT, this); }
    /** The absolute value of each element. */
    public Tensor abs() { return Elementwise.unary(UnaryOp.ABS, this); }
    /** -1, 0 or 1 by the sign of each element. */
    public Tensor sign() { return Elementwise.unary(UnaryOp.SIGN, this); }
    /** The sine of each element (radians). */
    public Tensor sin() { return Elementwise.unary(UnaryOp.SIN, this); }
    /** The cosine of each element (radians). */
    public Tensor cos() { return Elementwise.unary(UnaryOp.COS, this); }
    /** The hyperbolic tangent of each element. */
    public Tensor tanh() { return Elementwise.unary(UnaryOp.TANH, this); }
    /** 1 / (1 + exp(-x)) for each element. */
    public Tensor sigmoid() { return Elementwise.unary(UnaryOp.SIGMOID, this); }
    /** max(x, 0) for each element. */
    public Tensor relu() { return Elementwise.unary(UnaryOp.RELU, this); }
    /** GELU with the exact erf form (PyTorch's default). */
    public Tensor gelu() { return Elementwise.unary(UnaryOp.GELU, this); }
    /** GELU with the tanh approximation (PyTorch's approximate='tanh'). */
    public Tensor geluTanh() { return Elementwise.unary(UnaryOp.GELU_TANH, this); }
    /** x * sigmoid(x) for each element (SiLU, also called swish). */
    public Tensor silu() { return Elementwise.unary(UnaryOp.SILU, this); }
    /** Applies one of the {@link UnaryOp} kinds (including the fused derivatives backward rules use). */
    public Tensor apply(UnaryOp op) { return Elementwise.unary(op, this); }
    /** Each element limited to [min, max]. */
    public Tensor clamp(double min, double max) { return Elementwise.clamp(this, min, max); }
    /** Each element limited to at least min. */
    public Tensor clampMin(double min) { return Elementwise.clamp(this, min, Double.POSITIVE_INFINITY); }
    /** Each element limited to at most max. */
    public Tensor clampMax(double max) { return Elementwise.clamp(this, Double.NEGATIVE_INFINITY, max); }
    /** this == o elementwise, broadcast, as a bool tensor. */
    public Tensor eq(Tensor o) { return Elementwise.compare(BinaryOp.EQ, this, o); }
    /** this == v elementwise, as a bool tensor. */
    public Tensor eq(double v) { return Elementwise.compare(BinaryOp.EQ, this, Elementwise.scalarLike(this, v, "eq")); }
    /** this != o elementwise, broadcast, as a bool tensor. */
    public Tensor ne(Tensor o) { return Elementwise.compare(BinaryOp.NE, this, o); }
    /** this != v elementwise, as a bool tensor. */
    public Tensor ne(double v) { return Elementwise.compare(BinaryOp.NE, this, Elementwise.scalarLike(this, v, "ne")); }
    /** this &lt; o elementwise, broadcast, as a bool tensor. */
    public Tensor lt(Tensor o) { return Elementwise.compare(BinaryOp.LT, this, o); }
    /** this &lt; v elementwise, as a bool tensor. */
    public Tensor lt(double v) { return Elementwise.compare(BinaryOp.LT, this, Elementwise.scalarLike(this, v, "lt")); }
    /** this &lt;= o elementwise, broadcast, as a bool tensor. */
    public Tensor le(Tensor o) { return Elementwise.compare(BinaryOp.LE, this, o); }
    /** this &lt;= v elementwise, as a bool tensor. */
    public Tensor le(double v) { return Elementwise.compare(BinaryOp.LE, this, Elementwise.scalarLike(this, v, "le")); }
    /** this &gt; o elementwise, broadcast, as a bool tensor. */
    public Tensor gt(Tensor o) { return Elementwise.compare(BinaryOp.GT, this, o); }
    /** this &gt; v elementwise, as a bool tensor. */
    public Tensor gt(double v) { return Elementwise.compare(BinaryOp.GT, this, Elementwise.scalarLike(this, v, "gt")); }
    /** this &gt;= o elementwise, broadcast, as a bool tensor. */
    public Tensor ge(Tensor o) { return Elementwise.compare(BinaryOp.GE, this, o); }
    /** this &gt;= v elementwise, as a bool tensor. */
    public Tensor ge(double v) { return Elementwise.compare(BinaryOp.GE, this, Elementwise.scalarLike(this, v, "ge")); }
    /** cond ? a : b, broadcast. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) { return Elementwise.where(cond, a, b); }
    /** This tensor converted to dtype (a copy unless it already has that dtype). */
    public Tensor to(DType dtype) { return Elementwise.cast(this, dtype); }
    /** This tensor on device (a copy unless it is already there). */
    public Tensor to(Device device) { return Creation.toDevice(this, device); }

    // ---------------------------------------------------------------- reductions (see Reductions)

    /** The sum of all elements, as a 0-dim tensor. */
    public Tensor sum() { return Reductions.sum(this, new int[0], false); }
    /** Sums over dim (kept with size 1 when keepdim). */
    public Tensor sum(int dim, boolean keepdim) { return Reductions.sum(this, new int[] {dim}, keepdim); }
    /** Sums over dims (kept with size 1 when keepdim); no dims means all. */
    public Tensor sum(int[] dims, boolean keepdim) { return Reductions.sum(this, dims, keepdim); }
    /** The mean of all elements, as a 0-dim tensor. */
    public Tensor mean() { return Reductions.mean(this, new int[0], false); }
    /** The mean over dim (kept with size 1 when keepdim). */
    public Tensor mean(int dim, boolean keepdim) { return Reductions.mean(this, new int[] {dim}, keepdim); }
    /** The mean over dims (kept with size 1 when keepdim); no dims means all. */
    public Tensor mean(int[] dims, boolean keepdim) { return Reductions.mean(this, dims, keepdim); }
    /** The largest element, as a 0-dim tensor (NaN if any is NaN). */
    public Tensor max() { return Reductions.extreme(ReduceOp.MAX, this, new int[0], false); }
    /** The largest element along dim (kept with size 1 when keepdim). */
    public Tensor max(int dim, boolean keepdim) { return Reductions.extreme(ReduceOp.MAX, this, new int[] {dim}, keepdim); }
    /** The largest element over dims (kept with size 1 when keepdim). */
    public Tensor max(int[] dims, boolean keepdim) { return Reductions.extreme(ReduceOp.MAX, this, dims, keepdim); }
    /** The smallest element, as a 0-dim tensor (NaN if any is NaN). */
    public Tensor min() { return Reductions.extreme(ReduceOp.MIN, this, new int[0], false); }
    /** The smallest element along dim (kept with size 1 when keepdim). */
    public Tensor min(int dim, boolean keepdim) { return Reductions.extreme(ReduceOp.MIN, this, new int[] {dim}, keepdim); }
    /** The smallest element over dims (kept with size 1 when keepdim). */
    public Tensor min(int[] dims, boolean keepdim) { return Reductions.extreme(ReduceOp.MIN, this, dims, keepdim); }
    /** Index of the largest element of the flattened tensor. */
    public Tensor argmax() { return Reductions.arg(ReduceOp.ARGMAX, reshape(-1), 0, false); }
    /** The int64 index of the largest element along dim (the first on ties). */
    public Tensor argmax(int dim, boolean keepdim) { return Reductions.arg(ReduceOp.ARGMAX, this, dim, keepdim); }
    /** The int64 index of the smallest element of the flattened tensor (the first on ties). */
    public Tensor argmin() { return Reductions.arg(ReduceOp.ARGMIN, reshape(-1), 0, false); }
    /** The int64 index of the smallest element along dim (the first on ties). */
    public Tensor argmin(int dim, boolean keepdim) { return Reductions.arg(ReduceOp.ARGMIN, this, dim, keepdim); }
    /** Variance with Bessel's correction (unbiased), as torch.var. */
    public Tensor var(int[] dims, boolean keepdim) { return Reductions.var(this, dims, keepdim, 1); }
    /** The variance over dims, dividing by N - correction (1: unbiased, 0: biased). */
    public Tensor var(int[] dims, boolean keepdim, int correction) { return Reductions.var(this, dims, keepdim, correction); }
    /** The unbiased variance of all elements. */
    public Tensor var() { return Reductions.var(this, new int[0], false, 1); }
    /** The unbiased standard deviation over dims (gradient 0 where it is 0, as PyTorch's). */
    public Tensor std(int[] dims, boolean keepdim) { return Reductions.std(this, dims, keepdim, 1); }
    /** The standard deviation over dims, dividing the squared deviations by N - correction; its gradient is 0 where it is 0 (as PyTorch). */
    public Tensor std(int[] dims, boolean keepdim, int correction) { return Reductions.std(this, dims, keepdim, correction); }
    /** The unbiased standard deviation of all elements. */
    public Tensor std() { return Reductions.std(this, new int[0], false, 1); }
    /** log(sum(exp(x))) over dim, computed stably. */
    public Tensor logsumexp(int dim, boolean keepdim) { return Reductions.logsumexp(this, new int[] {dim}, keepdim); }
    /** log(sum(exp(x))) over dims, computed stably. */
    public Tensor logsumexp(int[] dims, boolean keepdim) { return Reductions.logsumexp(this, dims, keepdim); }
    /** The p-norm over all elements (p = 2 is the Euclidean norm). */
    public Tensor norm(double p) { return Reductions.norm(this, p, new int[0], false); }
    /** The p-norm over dims. */
    public Tensor norm(double p, int[] dims, boolean keepdim) { return Reductions.norm(this, p, dims, keepdim); }
    /** The Euclidean (2-) norm of all elements. */
    public Tensor norm() { return norm(2); }
    /** exp(x) / sum(exp(x)) along dim, computed stably. */
    public Tensor softmax(int dim) { return Reductions.softmax(this, dim, false); }
    /** log(softmax(x)) along dim, computed stably. */
    public Tensor logSoftmax(int dim) { return Reductions.softmax(this, dim, true); }
    /** Layer normalization over the last dim with an affine weight and bias (both of the last dim's size). */
    public Tensor layerNorm(Tensor weight, Tensor bias, double eps) { return Reductions.layerNorm(this, weight, bias, eps); }
    /** Sums broadcast dims away so the result has {@code target}'s shape (the reverse of broadcasting). */
    public Tensor sumTo(int... target) { return Reductions.sumTo(this, target); }

    // ---------------------------------------------------------------- views (see Views)

    /** A view with the new shape when the layout allows, else a copy; one dim may be -1. */
    public Tensor reshape(int... newShape) { return Views.reshape(this, newShape); }
    /** Like reshape, but fails instead of copying. */
    public Tensor view(int... newShape) { return Views.view(this, newShape); }
    /** A 1-D tensor of all elements (a view when the layout allows). */
    public Tensor flatten() { return reshape(-1); }
    /** Merges dims start..end into one. */
    public Tensor flatten(int start, int end) { return Views.flatten(this, start, end); }
    /** A view with dims d0 and d1 swapped. */
    public Tensor transpose(int d0, int d1) { return Views.transpose(this, d0, d1); }
    /** Transpose of a 2-D tensor. */
    public Tensor t() { return Views.t(this); }
    /** A view with the dims reordered: dim i of the result is dim order[i] of this. */
    public Tensor permute(int... order) { return Views.permute(this, order); }
    /** Elements start..start+length-1 of dim. */
    public Tensor narrow(int dim, int start, int length) { return Views.narrow(this, dim, start, length); }
    /** Elements start, start+step, ... &lt; end of dim (negative start/end count from the end). */
    public Tensor slice(int dim, int start, int end, int step) { return Views.slice(this, dim, start, end, step); }
    /** Elements start..end-1 of dim, as a view (negative start/end count from the end). */
    public Tensor slice(int dim, int start, int end) { return Views.slice(this, dim, start, end, 1); }
    /** The slice at index along dim, with dim removed. */
    public Tensor select(int dim, int index) { return Views.select(this, dim, index); }
    /** A view without the size-1 dims. */
    public Tensor squeeze() { return Views.squeeze(this); }
    /** A view without dim when its size is 1; otherwise this tensor unchanged (as PyTorch). */
    public Tensor squeeze(int dim) { return Views.squeeze(this, dim); }
    /** A view with a new size-1 dim at position dim. */
    public Tensor unsqueeze(int dim) { return Views.unsqueeze(this, dim); }
    /** Broadcasts size-1 dims (and new leading dims) to shape without copying; -1 keeps a size. */
    public Tensor expand(int... newShape) { return Views.expand(this, newShape); }
    /** This tensor when already contiguous, else a contiguous copy. */
    public Tensor contiguous() { return Views.contiguous(this); }
    /** A contiguous copy that shares nothing with this tensor. */
    public Tensor copy() { return Views.copy(this); }

    // ---------------------------------------------------------------- joining and splitting (see Joins)

    /** The tensors joined along an existing dim (their other sizes must match). */
    public static Tensor cat(List<Tensor> tensors, int dim) { return Joins.cat(tensors, dim); }
    /** The tensors (all of one shape) joined along a new dim. */
    public static Tensor stack(List<Tensor> tensors, int dim) { return Joins.stack(tensors, dim); }
    /** Pieces of splitSize along dim (the last may be smaller). */
    public List<Tensor> split(int splitSize, int dim) { return Joins.split(this, splitSize, dim); }
    /** Pieces of the given sizes along dim. */
    public List<Tensor> split(int[] sizes, int dim) { return Joins.split(this, sizes, dim); }
    /** Up to chunks pieces of equal size along dim (the last may be smaller), as torch.chunk. */
    public List<Tensor> chunk(int chunks, int dim) { return Joins.chunk(this, chunks, dim); }

    // ---------------------------------------------------------------- indexing (see Indexing)

    /** The entries of dim at the int64 indices of a 1-D index, in that order. */
    public Tensor indexSelect(int dim, Tensor index) { return Indexing.indexSelect(this, dim, index); }
    /** out[i][j] = this[index[i][j]][j] for dim 0 (and likewise for any dim), as torch.gather. */
    public Tensor gather(int dim, Tensor index) { return Indexing.gather(this, dim, index); }
    /** A copy of this with src added at the positions index gives along dim, as torch.scatter_add. */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) { return Indexing.scatterAdd(this, dim, index, src); }
    /** A copy of this with src.select(dim, i) added into row index[i] along dim (as torch.index_add). */
    public Tensor indexAdd(int dim, Tensor index, Tensor src) { return Indexing.indexAdd(this, dim, index, src); }
    /** Rows of this [V, D] table for each id in ids (int64, any shape) -> [..., D]. */
    public static Tensor embedding(Tensor weight, Tensor ids) { return Indexing.embedding(weight, ids); }
    /** A copy with value where the bool mask (broadcast) is true. */
    public Tensor maskedFill(Tensor mask, double value) { return Indexing.maskedFill(this, mask, value); }
    /** Lower triangle (elements with col - row &lt;= diagonal), the rest zero. */
    public Tensor tril(int diagonal) { return Indexing.triangle(this, diagonal, true); }
    /** The lower triangle including the diagonal, the rest zero. */
    public Tensor tril() { return tril(0); }
    /** Upper triangle (elements with col - row &gt;= diagonal), the rest zero. */
    public Tensor triu(int diagonal) { return Indexing.triangle(this, diagonal, false); }
    /** The upper triangle including the diagonal, the rest zero. */
    public Tensor triu() { return triu(0); }
    /** int64 class ids -> [..., numClasses] int64 one-hot. */
    public Tensor oneHot(int numClasses) { return Indexing.oneHot(this, numClasses); }

    // ---------------------------------------------------------------- linear algebra (see LinAlg)

    /** The matrix product, with NumPy's rules for 1-D operands and broadcast batch dims. */
    public Tensor matmul(Tensor o) { return LinAlg.matmul(this, o); }
    /** beta * this + alpha * (m1 @ m2). */
    public Tensor addmm(Tensor m1, Tensor m2, double beta, double alpha) { return LinAlg.addmm(this, m1, m2, beta, alpha); }
    /** this + m1 @ m2. */
    public Tensor addmm(Tensor m1, Tensor m2) { return LinAlg.addmm(this, m1, m2, 1, 1); }
    /** The outer product of two 1-D tensors. */
    public Tensor outer(Tensor o) { return LinAlg.outer(this, o); }

    // ---------------------------------------------------------------- more elementwise (see Pointwise, MathFn)

    /** log(1 + x), accurate for small x (as torch.log1p). */
    public Tensor log1p() { return Pointwise.unary(MathFn.LOG1P, this); }
    /** exp(x) - 1, accurate for small x (as torch.expm1). */
    public Tensor expm1() { return Pointwise.unary(MathFn.EXPM1, this); }
    /** The error function of each element (as torch.erf). */
    public Tensor erf() { return Pointwise.unary(MathFn.ERF, this); }
    /** The tangent of each element (radians). */
    public Tensor tan() { return Pointwise.unary(MathFn.TAN, this); }
    /** The arctangent of each element, in (-pi/2, pi/2). */
    public Tensor atan() { return Pointwise.unary(MathFn.ATAN, this); }
    /** atan2(this, o), broadcast: the angle of the point (o, this), in (-pi, pi] (as torch.atan2). */
    public Tensor atan2(Tensor o) { return Pointwise.binary(MathFn.ATAN2, this, o); }
    /** The largest integer &lt;= each element; zero gradient (as torch.floor). Integer tensors are returned as a copy. */
    public Tensor floor() { return Pointwise.unary(MathFn.FLOOR, this); }
    /** The smallest integer &gt;= each element; zero gradient. */
    public Tensor ceil() { return Pointwise.unary(MathFn.CEIL, this); }
    /** The nearest integer, halves to even (0.5 -&gt; 0, 1.5 -&gt; 2, as torch.round); zero gradient. */
    public Tensor round() { return Pointwise.unary(MathFn.ROUND, this); }
    /** Each element with its fraction dropped (towards zero); zero gradient. */
    public Tensor trunc() { return Pointwise.unary(MathFn.TRUNC, this); }
    /** The remainder of this / o with this's sign, broadcast (C's fmod, as torch.fmod; not Python's %). */
    public Tensor fmod(Tensor o) { return Pointwise.binary(MathFn.FMOD, this, o); }
    /** The remainder of this / v with this's sign (as torch.fmod). */
    public Tensor fmod(double v) { return Pointwise.binary(MathFn.FMOD, this, Elementwise.scalarLike(this, v, "fmod")); }
    /** Applies one of the {@link MathFn} kinds of one argument. */
    public Tensor apply(MathFn fn) { return Pointwise.unary(fn, this); }
    /** 1 / x (floating-point tensors). */
    public Tensor reciprocal() { return Pointwise.reciprocal(this); }
    /** x * x. */
    public Tensor square() { return mul(this); }
    /** v / this: a scalar divided by a tensor (Python's {@code v / x}). */
    public Tensor rdiv(double v) { return Pointwise.rdiv(this, v); }
    /** base raised to each element of exponent: a scalar to a tensor power (Python's {@code base ** x}, torch.pow(base, x)). */
    public static Tensor pow(double base, Tensor exponent) { return Pointwise.rpow(base, exponent); }
    /** log(1 + exp(beta x)) / beta, and x where beta x &gt; threshold (torch.nn.functional.softplus). */
    public Tensor softplus(double beta, double threshold) { return Pointwise.softplus(this, beta, threshold); }
    /** softplus with PyTorch's defaults, beta 1 and threshold 20. */
    public Tensor softplus() { return Pointwise.softplus(this, 1, 20); }
    /** x where x &gt; 0, else negativeSlope * x (torch.nn.functional.leaky_relu; PyTorch's default slope is 0.01). */
    public Tensor leakyRelu(double negativeSlope) { return Pointwise.leakyRelu(this, negativeSlope); }
    /** leakyRelu with PyTorch's default slope, 0.01. */
    public Tensor leakyRelu() { return Pointwise.leakyRelu(this, 0.01); }
    /** x where x &gt; 0, else alpha (exp(x) - 1) (torch.nn.functional.elu; PyTorch's default alpha is 1). */
    public Tensor elu(double alpha) { return Pointwise.elu(this, alpha); }
    /** elu with PyTorch's default alpha, 1. */
    public Tensor elu() { return Pointwise.elu(this, 1); }
    /** x limited to [min, max], with zero gradient at and beyond the bounds (torch.nn.functional.hardtanh; defaults -1, 1). */
    public Tensor hardtanh(double min, double max) { return Pointwise.hardtanh(this, min, max); }
    /** hardtanh with PyTorch's default bounds, -1 and 1. */
    public Tensor hardtanh() { return Pointwise.hardtanh(this, -1, 1); }

    // ---------------------------------------------------------------- scans, sorting, selection (see Scans, Sorting)

    /** The running sum along dim (as torch.cumsum); integer and bool tensors give int64. */
    public Tensor cumsum(int dim) { return Scans.cumsum(this, dim); }
    /** The running product along dim (as torch.cumprod); integer and bool tensors give int64. */
    public Tensor cumprod(int dim) { return Scans.cumprod(this, dim); }
    /** The product of all elements, as a 0-dim tensor (int64 for integer tensors, as torch.prod). */
    public Tensor prod() { return Scans.prod(this); }
    /** The product along dim (kept with size 1 when keepdim); 1 over an empty dim. */
    public Tensor prod(int dim, boolean keepdim) { return Scans.prod(this, dim, keepdim); }
    /** The values sorted along dim and their int64 indices (stable; NaN sorts last ascending, first descending). */
    public ValuesIndices sort(int dim, boolean descending) { return Sorting.sort(this, dim, descending); }
    /** The int64 indices that sort this tensor along dim (stable); not differentiable. */
    public Tensor argsort(int dim, boolean descending) { return Sorting.argsort(this, dim, descending); }
    /** The k largest (or smallest) elements along dim, in order, with their indices (as torch.topk). */
    public ValuesIndices topk(int k, int dim, boolean largest) { return Sorting.topk(this, k, dim, largest); }
    /** The k largest elements along the last dim, with their indices. */
    public ValuesIndices topk(int k) { return Sorting.topk(this, k, -1, true); }
    /**
     * The largest element along dim and its int64 index, as torch.max(x, dim): the first index on ties, the
     * first NaN if there is one; the whole gradient goes to that one element (where {@link #max(int, boolean)},
     * as torch.amax, splits it among ties).
     */
    public ValuesIndices maxWithIndices(int dim, boolean keepdim) { return Sorting.extremeWithIndex(this, dim, keepdim, true); }
    /** The smallest element along dim and its int64 index, as torch.min(x, dim) (see {@link #maxWithIndices}). */
    public ValuesIndices minWithIndices(int dim, boolean keepdim) { return Sorting.extremeWithIndex(this, dim, keepdim, false); }
    /** The distinct elements, ascending, 1-D (as torch.unique; -0.0 equals 0.0, NaNs count as one value); not differentiable. */
    public Tensor unique() { return Sorting.unique(this).values(); }
    /** The distinct elements with the inverse indices and the counts (torch.unique with return_inverse and return_counts). */
    public Unique uniqueAll() { return Sorting.unique(this); }

    // ---------------------------------------------------------------- rearranging (see Rearrange)

    /** A view with dim source moved to position destination, the others keeping their order (as torch.movedim). */
    public Tensor movedim(int source, int destination) { return Rearrange.movedim(this, new int[] {source}, new int[] {destination}); }
    /** A view with the dims source[i] moved to destination[i]. */
    public Tensor movedim(int[] source, int[] destination) { return Rearrange.movedim(this, source, destination); }
    /** A copy with the order of elements reversed along each of dims (as torch.flip). */
    public Tensor flip(int... dims) { return Rearrange.flip(this, dims); }
    /** A copy with elements shifted by shifts[i] along dims[i], wrapping around; no dims rolls the flattened tensor. */
    public Tensor roll(int[] shifts, int[] dims) { return Rearrange.roll(this, shifts, dims); }
    /** A copy with elements shifted by shift along dim, wrapping around (as torch.roll). */
    public Tensor roll(int shift, int dim) { return Rearrange.roll(this, new int[] {shift}, new int[] {dim}); }
    /** The tensor repeated reps[i] times along dim i (as Tensor.repeat; reps needs at least one entry per dim). */
    public Tensor repeat(int... reps) { return Rearrange.repeat(this, reps); }
    /** As repeat, with reps padded with leading ones when shorter than the rank (as torch.tile). */
    public Tensor tile(int... reps) { return Rearrange.tile(this, reps); }
    /**
     * Padded as torch.nn.functional.pad: pad = (left, right) for the last dim, then for the one before, ...;
     * CONSTANT fills with value (negative amounts crop); the other modes need value 0.
     */
    public Tensor pad(int[] pad, PadMode mode, double value) { return Rearrange.pad(this, pad, mode, value); }
    /** Padded with zeros (see {@link #pad(int[], PadMode, double)}). */
    public Tensor pad(int... pad) { return Rearrange.pad(this, pad, PadMode.CONSTANT, 0); }
    /** The slices along dim, each without that dim (as torch.unbind). */
    public List<Tensor> unbind(int dim) { return Rearrange.unbind(this, dim); }
    /**
     * The diagonal of each (dim1, dim2) plane, as the last dim; offset &gt; 0 above the main diagonal, &lt; 0
     * below (torch.diagonal's values; a copy, not a view).
     */
    public Tensor diagonal(int offset, int dim1, int dim2) { return Rearrange.diagonal(this, offset, dim1, dim2); }
    /** The main diagonal of the last two dims. */
    public Tensor diagonal() { return Rearrange.diagonal(this, 0, -2, -1); }
    /** Sum over operands of products, as torch.einsum: {@code Tensor.einsum("bhqd,bhkd->bhqk", q, k)}. */
    public static Tensor einsum(String equation, Tensor... operands) { return Einsum.einsum(equation, operands); }

    // ---------------------------------------------------------------- masks and advanced indexing (see Masking)

    /** The int64 [count, rank] indices of the non-zero elements, row-major (as torch.nonzero); not differentiable. */
    public Tensor nonzero() { return Masking.nonzero(this); }
    /** The elements where the bool mask (broadcast with this) is true, 1-D (as torch.masked_select). */
    public Tensor maskedSelect(Tensor mask) { return Masking.maskedSelect(this, mask); }
    /**
     * Advanced indexing, as Python's {@code x[mask]} for one bool mask over the leading dims (giving
     * [count, rest...]) or {@code x[i0, i1, ...]} for integer index tensors over the leading dims (broadcast
     * together; giving [broadcast shape, rest...]). Differentiable in this.
     */
    public Tensor index(Tensor... indices) { return Masking.index(this, indices); }
    /**
     * A copy with values written where {@link #index} would read (Python's {@code x[mask] = values}, as
     * torch.index_put); values broadcast to the indexed shape. With accumulate, repeated positions add up;
     * without, the last value written to a position wins.
     */
    public Tensor indexPut(Tensor[] indices, Tensor values, boolean accumulate) { return Masking.indexPut(this, indices, values, accumulate); }
    /** A copy with values written where the bool mask over the leading dims is true ({@code x[mask] = values}). */
    public Tensor indexPut(Tensor mask, Tensor values) { return Masking.indexPut(this, new Tensor[] {mask}, values, false); }
    /** A copy with value written where the bool mask over the leading dims is true ({@code x[mask] = value}). */
    public Tensor indexPut(Tensor mask, double value) { return Masking.indexPut(this, new Tensor[] {mask}, Elementwise.scalarLike(this, value, "indexPut"), false); }
    /** A copy with out[index[i][j]][j] = src[i][j] for dim 0 (and likewise for others), as torch.scatter; the last write to a position wins. */
    public Tensor scatter(int dim, Tensor index, Tensor src) { return Masking.scatter(this, dim, index, src); }
    /** A copy with value written at the positions index gives along dim (torch.scatter with a scalar). */
    public Tensor scatter(int dim, Tensor index, double value) { return Masking.scatter(this, dim, index, value); }

    // ---------------------------------------------------------------- in place (not recorded; for optimizers and init)

    /** this[...] = src (broadcast to this shape, converted to this dtype). */
    public Tensor copy_(Tensor src) { return InPlace.copy(this, src); }
    /** Sets every element to value, in place; returns this. */
    public Tensor fill_(double value) { return InPlace.fill(this, value); }
    /** Sets every element to zero, in place; returns this. */
    public Tensor zero_() { return InPlace.fill(this, 0); }
    /** this += o (broadcast), in place and not recorded for autograd; returns this. */
    public Tensor add_(Tensor o) { return InPlace.copy(this, Elementwise.binary(BinaryOp.ADD, this.detach(), o.detach())); }
    /** this *= v, in place and not recorded for autograd; returns this. */
    public Tensor mul_(double v) { return InPlace.copy(this, detach().mul(v)); }

    // ---------------------------------------------------------------- autograd (engine in module fluxion-autodiff)

    /** Whether backward() computes a gradient for this tensor (set on leaves, inherited by results). */
    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf tensor as one whose gradient backward() computes. */
    public Tensor requiresGrad(boolean value) {
        if (!value && gradFn != null)
            throw new IllegalStateException("requiresGrad(false): tensor is the output of " + gradFn + "; use detach() instead");
        if (value && !dtype().isFloatingPoint())
            throw new IllegalArgumentException("requiresGrad: only floating-point tensors can require gradients, not " + dtype());
        requiresGrad = value;
        return this;
    }

    /** The accumulated gradient, or null. */
    public Tensor grad() { return grad; }

    /** Replaces the accumulated gradient (null clears it); the shape must match. */
    public void setGrad(Tensor g) {
        if (g != null && !java.util.Arrays.equals(g.shape, shape))
            throw new IllegalArgumentException("setGrad: gradient shape " + Shape.str(g.shape) + " does not match tensor shape " + Shape.str(shape));
        grad = g;
    }

    /** The tape entry that produced this tensor, or null for leaves (opaque to this module). */
    public Object gradFn() { return gradFn; }

    /** Used by the autograd engine when it records this tensor as an op's output. */
    public void setGradFn(Object fn) {
        gradFn = fn;
        requiresGrad = fn != null || requiresGrad;
    }

    /** True when no recorded op produced this tensor (parameters and inputs). */
    public boolean isLeaf() { return gradFn == null; }

    /** The same data, cut from the graph: never requires gradients. */
    public Tensor detach() { return view(shape, strides, offset); }

    /**
     * Runs hook with this tensor's gradient each time a backward pass computes it (torch's register_hook): a
     * non-null result replaces the gradient that flows on (and that a leaf accumulates). Returns the handle that removes it.
     */
    public HookHandle registerHook(java.util.function.UnaryOperator<Tensor> hook) { return Autograd.registerHook(this, hook); }

    /** Makes backward keep this non-leaf tensor's gradient in grad() (torch's retain_grad); leaves keep theirs anyway. Returns this. */
    public Tensor retainGrad() { Autograd.retainGrad(this); return this; }

    /** Backpropagates from this scalar. */
    public void backward() { Autograd.backward(alive(), null, false); }

    /** Backpropagates from this tensor seeded with gradient (same shape). */
    public void backward(Tensor gradient) { Autograd.backward(alive(), gradient, false); }

    /** Backpropagates from this tensor seeded with gradient; retainGraph keeps the graph for another backward. */
    public void backward(Tensor gradient, boolean retainGraph) { Autograd.backward(alive(), gradient, retainGraph); }

    // ---------------------------------------------------------------- lifetime and printing

    /**
     * Frees this tensor: every later use of it (reading values, an op on it, a view of it, backward through
     * it) throws {@link IllegalStateException}. Its memory returns to the pool when every view of the same
     * storage is freed too, so a view that is still open never sees its memory handed to another tensor.
     * Closing twice is a no-op.
     */
    @Override public void close() { free("close()"); }

    /**
     * Like {@link #close()}, recording how the tensor was freed ("its Scope closed", "Optimizer.zeroGrad()")
     * for the error that a later access raises. The first reason given is kept.
     */
    public void free(String how) {
        if (freedBy != null) return;
        freedBy = how;
        if (ref.release()) storage.close();
    }

    private String freedBy;   // null while the tensor may be used

    /** This tensor, after checking that it was not freed: for ops that return their input unchanged. */
    Tensor alive() {
        if (freedBy != null) throw freedError();
        return this;
    }

    /** True once this tensor was freed by {@link #close()}, its scope, or its owner (an optimizer's zeroGrad). */
    public boolean isClosed() { return freedBy != null; }

    private IllegalStateException freedError() {
        return new IllegalStateException("tensor " + Shape.str(shape) + " " + storage.dtype() + " was freed (by " + freedBy
                + ") and cannot be used: its memory may already hold another tensor. Keep it alive past its scope with scope.keep(t) "
                + "(or Scope.escape(t)), read its value before it is freed (t.item() or t.toFloatArray() inside the scope), "
                + "or copy it out while it is alive (t.copy() kept past the scope)");
    }

    @Override public String toString() { return TensorFormat.format(this); }
}

package dev.fluxion.optim;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The flat, typed form of the records that hold optimizer and schedule state: each record component becomes
 * one tensor under {@code prefix + snake_case(name)}. double is a 0-dim float64 tensor, long and int 0-dim
 * int64, boolean 0-dim bool, a Tensor component is itself (null: no entry). In memory the state stays a
 * record; only state dicts are string-keyed.
 */
final class StateCodec {
    private StateCodec() {}

    /** Components per record class, looked up once: tensors(...) runs for every parameter at every step. */
    private static final ClassValue<RecordComponent[]> COMPONENTS = new ClassValue<>() {
        @Override protected RecordComponent[] computeValue(Class<?> type) { return type.getRecordComponents(); }
    };

    /** Adds r's components to out; tensor components are copied, so out does not change with later steps. */
    static void write(Record r, String prefix, Map<String, Tensor> out) {
        for (RecordComponent c : COMPONENTS.get(r.getClass())) {
            Object v = get(c, r);
            String key = prefix + key(c.getName());
            Class<?> t = c.getType();
            if (t == double.class) out.put(key, Tensor.scalar((Double) v, DType.FLOAT64));
            else if (t == long.class) out.put(key, longScalar((Long) v));
            else if (t == int.class) out.put(key, longScalar((Integer) v));
            else if (t == boolean.class) out.put(key, Tensor.scalar((Boolean) v ? 1 : 0, DType.BOOL));
            else if (t == Tensor.class) { if (v != null) out.put(key, ((Tensor) v).copy()); }
            else throw new IllegalStateException("StateCodec: component " + c.getName() + " of " + r.getClass().getSimpleName() + " has unsupported type " + t);
        }
    }

    /**
     * Reads a record of the given type from in. Tensor components are returned as found (not copied) after
     * checking that they have the shape and dtype of like; absent ones are null. Every key read is added to
     * consumed. Errors start with owner and name the key, the value found and the expectation.
     */
    static <R extends Record> R read(Class<R> type, String prefix, Map<String, Tensor> in, Set<String> consumed, Tensor like, String owner) {
        RecordComponent[] cs = COMPONENTS.get(type);
        Object[] args = new Object[cs.length];
        for (int i = 0; i < cs.length; i++) {
            String key = prefix + key(cs[i].getName());
            Tensor t = in.get(key);
            Class<?> ct = cs[i].getType();
            if (ct == Tensor.class) {
                if (t != null) {
                    if (!Arrays.equals(t.shape(), like.shape()) || t.dtype() != like.dtype())
                        throw new IllegalArgumentException(owner + ": " + key + " has shape " + Arrays.toString(t.shape()) + " and dtype " + t.dtype()
                                + ", expected shape " + Arrays.toString(like.shape()) + " and dtype " + like.dtype() + " (those of its parameter)");
                    consumed.add(key);
                }
                args[i] = t;
                continue;
            }
            if (t == null) throw new IllegalArgumentException(owner + ": missing entry " + key);
            DType want = ct == double.class ? DType.FLOAT64 : ct == boolean.class ? DType.BOOL : DType.INT64;
            if (t.dim() != 0 || t.dtype() != want)
                throw new IllegalArgumentException(owner + ": " + key + " must be a 0-dim " + want + " tensor, got " + t.dtype() + " of shape " + Arrays.toString(t.shape()));
            if (ct == double.class) args[i] = t.item();
            else if (ct == boolean.class) args[i] = t.item() != 0;
            else if (ct == long.class) args[i] = t.toLongArray()[0];
            else if (ct == int.class) args[i] = Math.toIntExact(t.toLongArray()[0]);
            else throw new IllegalStateException("StateCodec: component " + cs[i].getName() + " of " + type.getSimpleName() + " has unsupported type " + ct);
            consumed.add(key);
        }
        try {
            return construct(type, cs, args);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(owner + ": entries under " + prefix + " are invalid: " + e.getMessage(), e);
        }
    }

    /** The non-null tensor components of r. */
    static List<Tensor> tensors(Record r) {
        List<Tensor> out = new ArrayList<>();
        for (RecordComponent c : COMPONENTS.get(r.getClass()))
            if (c.getType() == Tensor.class && get(c, r) instanceof Tensor t) out.add(t);
        return out;
    }

    /** A copy of r with f applied to each non-null tensor component. */
    @SuppressWarnings("unchecked")
    static <R extends Record> R mapTensors(R r, UnaryOperator<Tensor> f) {
        RecordComponent[] cs = COMPONENTS.get(r.getClass());
        Object[] args = new Object[cs.length];
        for (int i = 0; i < cs.length; i++) {
            Object v = get(cs[i], r);
            args[i] = v instanceof Tensor t ? f.apply(t) : v;
        }
        return construct((Class<R>) r.getClass(), cs, args);
    }

    /** camelCase -> snake_case, the names PyTorch uses (weightDecay -> weight_decay, expAvgSq -> exp_avg_sq). */
    static String key(String name) {
        StringBuilder b = new StringBuilder(name.length() + 4);
        for (char ch : name.toCharArray()) {
            if (Character.isUpperCase(ch)) b.append('_').append(Character.toLowerCase(ch));
            else b.append(ch);
        }
        return b.toString();
    }

    private static Tensor longScalar(long v) {
        if (Math.abs(v) > (1L << 53)) throw new IllegalStateException("StateCodec: " + v + " is too large to store exactly");
        return Tensor.scalar(v, DType.INT64);
    }

    private static Object get(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("StateCodec: cannot read " + c.getName() + " of " + r.getClass().getName(), e);
        }
    }

    private static <R extends Record> R construct(Class<R> type, RecordComponent[] cs, Object[] args) {
        try {
            Constructor<R> ctor = type.getDeclaredConstructor(Arrays.stream(cs).map(RecordComponent::getType).toArray(Class<?>[]::new));
            return ctor.newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException("StateCodec: cannot build " + type.getName(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("StateCodec: cannot build " + type.getName(), e);
        }
    }
}

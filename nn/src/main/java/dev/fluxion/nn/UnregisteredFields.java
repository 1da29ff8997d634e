package dev.fluxion.nn;

import java.lang.reflect.Field;
import java.lang.reflect.InaccessibleObjectException;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Finds a module or parameter kept in a field of a {@link Module} but never registered: it would be missing
 * from parameters(), the optimizer and the state dict, and the error would come later and elsewhere (an
 * optimizer with no parameters). Looks at the fields a subclass declares (and their collections and arrays);
 * a field declared {@code transient} is taken to refer to a module owned elsewhere on purpose and skipped.
 */
final class UnregisteredFields {
    private UnregisteredFields() {}

    /** Throws, naming the first unregistered field of m. */
    static void check(Module m, Collection<Module> subtree, Collection<Parameter> parameters) {
        Set<Object> known = Collections.newSetFromMap(new IdentityHashMap<>());
        known.addAll(subtree);
        known.addAll(parameters);
        for (Class<?> c = m.getClass(); c != Module.class && c != null; c = c.getSuperclass()) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || Modifier.isTransient(f.getModifiers()) || f.isSynthetic()) continue;
                Object value;
                try {
                    f.setAccessible(true);
                    value = f.get(m);
                } catch (InaccessibleObjectException | IllegalAccessException e) {
                    continue;                                        // a class in a closed module: nothing to learn
                }
                for (Object v : elements(value))
                    if ((v instanceof Module || v instanceof Parameter) && !known.contains(v)) throw error(m, c, f, v);
            }
        }
    }

    private static Iterable<?> elements(Object value) {
        if (value instanceof Module || value instanceof Parameter) return Collections.singletonList(value);
        if (value instanceof Collection<?> c) return c;
        if (value instanceof Map<?, ?> map) return map.values();
        if (value instanceof Object[] a) return java.util.Arrays.asList(a);
        return Collections.emptyList();
    }

    private static IllegalStateException error(Module m, Class<?> owner, Field f, Object v) {
        String what = v instanceof Module ? "a " + v.getClass().getSimpleName() + " module" : "a Parameter";
        String fix = v instanceof Module
                ? "register it in the constructor: " + f.getName() + " = child(\"" + f.getName() + "\", ...) (a replaceable Child) or register(\""
                  + f.getName() + "\", module)"
                : "register it in the constructor: " + f.getName() + " = register(\"" + f.getName() + "\", tensor)";
        return new IllegalStateException(m.getClass().getSimpleName() + ": field '" + f.getName() + "' (declared in " + owner.getSimpleName()
                + ") holds " + what + " that is not registered, so parameters(), optimizers and stateDict() would not see it; " + fix
                + ". Declare the field transient if it refers on purpose to a module owned elsewhere.");
    }
}

package dev.fluxion.parallel.nccl;

import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The store prefix of one NCCL group instance: the group's namespace plus how many groups of that namespace this
 * rank (its store client) has opened before. Rank 0 publishes the unique id under that prefix, so re-creating a
 * group (after an abort, or a second {@code create} in the same namespace) never reads the id of an earlier
 * instance still in the store. Every rank opens its groups in the same order, as with PyTorch's process groups,
 * so the ranks of one instance agree on its number without talking.
 */
final class GroupGenerations {
    private GroupGenerations() {}

    private static final Map<Object, Map<String, Integer>> BY_STORE = new WeakHashMap<>();

    /** "ns@g": g = how often next() was called before with this store client and ns. */
    static synchronized String next(Object storeClient, String ns) {
        int g = BY_STORE.computeIfAbsent(storeClient, k -> new HashMap<>()).merge(ns, 1, Integer::sum) - 1;
        return ns + "@" + g;
    }
}

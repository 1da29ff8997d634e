package dev.fluxion.parallel;

import dev.fluxion.tensor.Tensor;

import java.time.Duration;

/**
 * A set of ranks that communicate: collectives (every member calls them, in the same order, with tensors of
 * the same dtype and size) and point-to-point transfers. Every operation returns at once with a {@link Work}
 * handle; the group runs its operations in call order on its own thread. Tensors must be contiguous and are
 * read and written in place; do not touch them until the handle's {@code waitFor()} returns.
 *
 * <p>Ranks in arguments ({@code root}, {@code peer}) are ranks within this group (0..size-1); {@link
 * #globalRank(int)} maps them to world ranks. Every wait is bounded by {@link #timeout()}: when a member dies
 * or stalls, the others fail with a {@link DistributedException} that names it, and the group is then broken
 * (later operations fail at once).
 *
 * <pre>{@code
 * ProcessGroup pg = Distributed.initFromEnv();            // RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT
 * pg.allReduce(t, ReduceOp.SUM).waitFor();               // every rank now holds the bitwise-same sum
 * ProcessGroup pair = pg.newGroup(0, 1);                 // a sub-group (members only call this)
 * }</pre>
 */
public interface ProcessGroup extends AutoCloseable {
    /** This process's rank in the group. */
    int rank();

    /** Number of members. */
    int size();

    /** The world rank of the member with the given group rank. */
    int globalRank(int groupRank);

    /** How long any operation may wait for a peer before failing. */
    Duration timeout();

    /** Reduces t across the group in place: afterwards every rank holds op(t_0, ..., t_{n-1}), bitwise identical. */
    Work allReduce(Tensor t, ReduceOp op);

    /** Copies root's t into t on every rank. */
    Work broadcast(Tensor t, int root);

    /**
     * Gathers every rank's input into output on every rank, in rank order: output holds size() * input.numel()
     * elements of input's dtype (shape [size, ...] or flat), block r coming from rank r.
     */
    Work allGather(Tensor output, Tensor input);

    /**
     * Reduces input (size() * output.numel() elements, block r destined for rank r) across the group and
     * leaves block rank() of the result in output.
     */
    Work reduceScatter(Tensor output, Tensor input, ReduceOp op);

    /** Sends t to peer, which must call {@link #recv} with a tensor of the same dtype and size. */
    Work send(Tensor t, int peer);

    /** Receives into t what peer sends with {@link #send}. */
    Work recv(Tensor t, int peer);

    /**
     * Sends toSend to sendPeer and receives from recvPeer into toRecv at the same time (as a ring step or
     * pipeline parallelism's send-forward-receive-backward do); two ranks that exchange large tensors must use
     * this rather than a send and a recv each, which would wait on each other.
     */
    Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer);

    /** Completes once every member has called it. */
    Work barrier();

    /**
     * A group of some of this group's members, given by their ranks in this group, in the order that defines
     * their new ranks (tensor, pipeline and FSDP meshes are built from these). Only the members call it, each
     * with the same list, and members create their groups in the same order.
     */
    ProcessGroup newGroup(int... ranks);

    /** Finishes the queued operations (within the timeout), then releases connections and threads. */
    @Override void close();

    /** Releases everything at once; queued and running operations fail. For use after a failure. */
    void abort();
}

package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.AsyncWork;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.Work;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.Pointer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaMemsetAsync;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.nccl.*;

/**
 * The process group for CUDA tensors, on NCCL through the JavaCPP presets. Rank 0 makes the unique id and
 * shares it through the store; each group (sub-groups too) has its own communicator, created non-blocking so
 * that a stuck init or collective can be abandoned: every operation is enqueued on the CUDA backend's stream
 * for the device, followed by an event, and a watchdog thread completes the {@link Work} when the event
 * fires, or aborts the communicator (ncclCommAbort; never ncclCommDestroy after a failure) when NCCL reports
 * an error or the timeout passes. Paired sends and receives go in one ncclGroupStart/End.
 *
 * <p>Device memory comes from {@link CudaTensors}, which the native module provides; this class has not yet
 * run on a GPU (see the gpu-tagged tests).
 */
public final class NcclProcessGroup implements ProcessGroup {
    private final TcpStore store;
    private final String ns;
    private final int rank, size;
    private final int[] globalRanks;
    private final Device device;
    private final CudaTensors cuda;
    private final Duration timeout;
    private final ncclComm comm;
    private final CommGuard guard;
    private final Watchdog watchdog;
    private final Map<String, Integer> subgroups = new HashMap<>();
    private Pointer barrierBuffer;   // 4 bytes of device memory, made on first barrier
    private long seq;

    private NcclProcessGroup(TcpStore store, String ns, int rank, int[] globalRanks, Device device, CudaTensors cuda, Duration timeout, ncclComm comm) {
        this.store = store;
        this.ns = ns;
        this.rank = rank;
        this.size = globalRanks.length;
        this.globalRanks = globalRanks;
        this.device = device;
        this.cuda = cuda;
        this.timeout = timeout;
        this.comm = comm;
        this.guard = new CommGuard(() -> ncclCommAbort(comm), () -> ncclCommDestroy(comm));
        this.watchdog = new Watchdog(comm, guard, "rank " + globalRanks[rank], this::blame);
    }

    /**
     * The NCCL group of all size ranks, this process being rank on device (its GPU). cuda may be null until
     * the native module provides it (tensor operations then fail with a message saying so).
     */
    public static NcclProcessGroup create(TcpStore store, int rank, int size, Device device, CudaTensors cuda, Duration timeout, String namespace) {
        int[] ranks = new int[size];
        Arrays.setAll(ranks, i -> i);
        return open(store, namespace + "/nccl-world", rank, ranks, device, cuda, timeout);
    }

    /**
     * The NCCL group of all size ranks, with CUDA tensors reached through the {@link CudaTensors} service the
     * native module registers (tensor operations fail with a message saying so when it is not on the class path).
     */
    public static NcclProcessGroup create(TcpStore store, int rank, int size, Device device, Duration timeout, String namespace) {
        return create(store, rank, size, device, Nccl.cudaTensors().orElse(null), timeout, namespace);
    }

    private static NcclProcessGroup open(TcpStore store, String group, int rank, int[] globalRanks, Device device, CudaTensors cuda, Duration timeout) {
        Nccl.unavailableReason().ifPresent(r -> { throw new DistributedException("NCCL backend: " + r); });
        if (device.kind() != Device.Kind.CUDA) throw new IllegalArgumentException("NCCL backend: device must be a GPU, got " + device);
        int size = globalRanks.length;
        String who = "rank " + globalRanks[rank];
        String ns = GroupGenerations.next(store, group);   // this instance's keys: never an earlier instance's unique id
        NcclCalls.checkCuda(cudaSetDevice(device.index()), who + ": cudaSetDevice(" + device.index() + ")");
        ncclUniqueId id;
        if (rank == 0) {
            id = new ncclUniqueId();
            NcclCalls.check(ncclGetUniqueId(id), who + ": ncclGetUniqueId");
            store.set(ns + "/nccl-id", NcclCalls.bytes(id));
        } else {
            id = NcclCalls.uniqueId(store.get(ns + "/nccl-id", timeout));
        }
        store.set(ns + "/joined/" + rank, "1");
        ncclComm comm = new ncclComm();
        Deadline d = Deadline.after(timeout);
        NcclCalls.check(ncclCommInitRankConfig(comm, size, id, rank, NcclCalls.nonBlockingConfig()), who + ": ncclCommInitRankConfig");
        int state;
        while ((state = NcclCalls.state(comm)) == ncclInProgress) {
            if (d.passed()) {
                ncclCommAbort(comm);
                List<String> missing = new ArrayList<>();
                for (int p = 0; p < size; p++) if (store.tryGet(ns + "/joined/" + p).isEmpty()) missing.add("rank " + globalRanks[p]);
                throw new DistributedException(who + ": creating the NCCL communicator of " + ns + " timed out after " + Deadline.format(timeout)
                        + (missing.isEmpty() ? " (every rank joined; NCCL itself is stuck: check NCCL_DEBUG=INFO)" : "; never joined: " + missing));
            }
            sleep(1);
        }
        if (state != ncclSuccess) {
            ncclCommAbort(comm);
            NcclCalls.check(state, who + ": ncclCommInitRankConfig");
        }
        return new NcclProcessGroup(store, ns, rank, globalRanks, device, cuda, timeout, comm);
    }

    @Override public int rank() { return rank; }

    @Override public int size() { return size; }

    @Override public int globalRank(int groupRank) {
        if (groupRank < 0 || groupRank >= size) throw new IllegalArgumentException("globalRank: group rank " + groupRank + " is not in [0, " + size + ")");
        return globalRanks[groupRank];
    }

    @Override public Duration timeout() { return timeout; }

    // ------------------------------------------------------------------ tensor operations

    @Override public Work allReduce(Tensor t, ReduceOp op) {
        check("allReduce", t);
        return allReduce(ptr(t), t.numel(), t.dtype(), op, "allReduce #" + nextSeq() + " (" + t.dtype() + " " + Arrays.toString(t.shape()) + ", " + op + ")");
    }

    /** All-reduce of count elements at buf in device memory (the tensor-free path the gpu tests use). */
    Work allReduce(Pointer buf, long count, DType dt, ReduceOp op, String what) {
        int nop = NcclCalls.op(op, dt), ndt = NcclCalls.dtype(dt);
        return enqueue(what, s -> ncclAllReduce(buf, buf, count, ndt, nop, comm, s));
    }

    @Override public Work broadcast(Tensor t, int root) {
        check("broadcast", t);
        checkRank("broadcast", root);
        Pointer p = ptr(t);
        int ndt = NcclCalls.dtype(t.dtype());
        return enqueue("broadcast #" + nextSeq() + " from rank " + globalRanks[root], s -> ncclBroadcast(p, p, t.numel(), ndt, root, comm, s));
    }

    @Override public Work allGather(Tensor output, Tensor input) {
        check("allGather", input);
        check("allGather", output);
        if (output.dtype() != input.dtype() || (long) output.numel() != (long) input.numel() * size)
            throw new IllegalArgumentException("allGather: output (" + output.dtype() + ", " + output.numel() + " elements) must hold size * input ("
                    + size + " * " + input.numel() + " elements of " + input.dtype() + ")");
        Pointer in = ptr(input), out = ptr(output);
        int ndt = NcclCalls.dtype(input.dtype());
        return enqueue("allGather #" + nextSeq(), s -> ncclAllGather(in, out, input.numel(), ndt, comm, s));
    }

    @Override public Work reduceScatter(Tensor output, Tensor input, ReduceOp op) {
        check("reduceScatter", input);
        check("reduceScatter", output);
        if (output.dtype() != input.dtype() || (long) input.numel() != (long) output.numel() * size)
            throw new IllegalArgumentException("reduceScatter: input (" + input.dtype() + ", " + input.numel() + " elements) must hold size * output ("
                    + size + " * " + output.numel() + " elements of " + output.dtype() + ")");
        Pointer in = ptr(input), out = ptr(output);
        int ndt = NcclCalls.dtype(input.dtype()), nop = NcclCalls.op(op, input.dtype());
        return enqueue("reduceScatter #" + nextSeq(), s -> ncclReduceScatter(in, out, output.numel(), ndt, nop, comm, s));
    }

    @Override public Work send(Tensor t, int peer) { return sendRecv(t, peer, null, -1); }

    @Override public Work recv(Tensor t, int peer) { return sendRecv(null, -1, t, peer); }

    @Override public Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer) {
        if (toSend != null) { check("send", toSend); checkRank("send", sendPeer); }
        if (toRecv != null) { check("recv", toRecv); checkRank("recv", recvPeer); }
        Pointer ps = toSend == null ? null : ptr(toSend), pr = toRecv == null ? null : ptr(toRecv);
        String what = (toSend != null ? "send to rank " + globalRanks[sendPeer] : "") + (toSend != null && toRecv != null ? " and " : "")
                + (toRecv != null ? "recv from rank " + globalRanks[recvPeer] : "");
        return enqueue(what, s -> {
            // fused in one group, so a send and a receive that wait on each other both progress
            NcclCalls.check(ncclGroupStart(), "ncclGroupStart");
            if (toSend != null) NcclCalls.check(ncclSend(ps, toSend.numel(), NcclCalls.dtype(toSend.dtype()), sendPeer, comm, s), "ncclSend");
            if (toRecv != null) NcclCalls.check(ncclRecv(pr, toRecv.numel(), NcclCalls.dtype(toRecv.dtype()), recvPeer, comm, s), "ncclRecv");
            return ncclGroupEnd();
        });
    }

    @Override public Work barrier() {
        synchronized (this) {
            if (barrierBuffer == null) {
                Pointer p = new Pointer();
                NcclCalls.checkCuda(cudaMalloc(p, 4), "cudaMalloc(4) for the barrier");
                barrierBuffer = p;
            }
        }
        Pointer b = barrierBuffer;
        return enqueue("barrier #" + nextSeq(), s -> {
            NcclCalls.checkCuda(cudaMemsetAsync(b, 0, 4, s), "cudaMemsetAsync");
            return ncclAllReduce(b, b, 1, ncclInt32, ncclSum, comm, s);
        });
    }

    @Override public ProcessGroup newGroup(int... ranks) {
        int me = -1;
        int[] global = new int[ranks.length];
        for (int i = 0; i < ranks.length; i++) {
            checkRank("newGroup", ranks[i]);
            global[i] = globalRanks[ranks[i]];
            if (ranks[i] == rank) me = i;
        }
        if (me < 0) throw new IllegalArgumentException("newGroup: this rank (" + rank + ") is not in " + Arrays.toString(ranks) + "; only members call newGroup");
        String key = Arrays.toString(ranks).replace(" ", "");
        int k;
        synchronized (subgroups) { k = subgroups.merge(key, 1, Integer::sum); }
        // a fresh communicator among the members only (ncclCommSplit would need every rank of this group to call)
        return open(store, ns + "/" + key + "#" + k, me, global, device, cuda, timeout);
    }

    // ------------------------------------------------------------------ enqueueing and watching

    /** One or more NCCL calls that enqueue work on stream s and return an NCCL result. */
    interface Calls { int enqueue(CUstream_st s); }

    private synchronized long nextSeq() { return seq++; }

    private synchronized AsyncWork enqueue(String what, Calls calls) {
        String desc = what + " on rank " + globalRanks[rank] + " (" + size + " ranks, NCCL)";
        DistributedException broken = watchdog.broken();
        if (broken != null) return AsyncWork.failed(desc, new DistributedException(desc + " was not run: the NCCL group broke earlier: " + broken.getMessage(), broken));
        NcclCalls.checkCuda(cudaSetDevice(device.index()), "cudaSetDevice(" + device.index() + ")");
        CUstream_st stream = cuda == null ? null : cuda.stream(device);
        Deadline d = Deadline.after(timeout);
        AsyncWork w = new AsyncWork(desc);
        // a non-blocking communicator may still be finishing the previous call (or connecting): NCCL takes the next only after it
        if (!watchdog.awaitIdle(d, w, what)) return w;
        try {
            NcclCalls.check(guard.call(desc, () -> calls.enqueue(stream)), desc);
        } catch (DistributedException e) {
            if (!guard.isDead()) throw e;
            w.fail(new DistributedException(desc + " was not run: the NCCL group was aborted meanwhile", e));
            return w;
        }
        if (!watchdog.awaitIdle(d, w, what)) return w;
        watchdog.watch(w, what, stream, d);
        return w;
    }

    /** Files this rank's failure in the store, waits briefly for the others', and names those who filed nothing. */
    private String blame(String what) {
        try {
            store.set(ns + "/failed/" + rank, what);
            Deadline d = Deadline.after(Duration.ofSeconds(2));
            List<String> silent = new ArrayList<>();
            do {
                silent.clear();
                for (int p = 0; p < size; p++) if (store.tryGet(ns + "/failed/" + p).isEmpty()) silent.add("rank " + globalRanks[p]);
                if (silent.isEmpty()) break;
                sleep(50);
            } while (!d.passed());
            return silent.isEmpty() ? "every rank failed in this operation" : String.join(", ", silent) + " did not reach or finish it: stalled or dead";
        } catch (RuntimeException e) {
            return "the store on world rank 0 is unreachable, so rank 0 has probably died";
        }
    }

    private Pointer ptr(Tensor t) {
        if (cuda == null)
            throw new IllegalStateException("NCCL backend: no CudaTensors service on the classpath, so CUDA tensors' device memory cannot be reached "
                    + "(the native module provides it)");
        return cuda.devicePointer(t);
    }

    private void check(String op, Tensor t) {
        if (t.device().kind() != Device.Kind.CUDA)
            throw new IllegalArgumentException(op + ": the NCCL process group moves CUDA tensors; got one on " + t.device() + " (the TCP group handles CPU tensors)");
        if (!t.device().equals(device))
            throw new IllegalArgumentException(op + ": tensor is on " + t.device() + " but this rank's NCCL communicator is on " + device);
        if (!t.isContiguous()) throw new IllegalArgumentException(op + ": tensor of shape " + Arrays.toString(t.shape()) + " is not contiguous");
    }

    private void checkRank(String op, int r) {
        if (r < 0 || r >= size) throw new IllegalArgumentException(op + ": rank " + r + " is not in this group [0, " + size + ")");
    }

    // ------------------------------------------------------------------ lifetime

    /** Waits for the enqueued work, then finalizes and destroys the communicator. */
    @Override public void close() {
        watchdog.drain(timeout);
        if (watchdog.broken() == null && !guard.isDead()) {
            try {
                guard.call("ncclCommFinalize", () -> ncclCommFinalize(comm));
                Deadline d = Deadline.after(timeout);
                while (watchdog.state() == ncclInProgress && !d.passed()) sleep(1);
                if (watchdog.state() == ncclSuccess) guard.destroy();
                else guard.abort();
            } catch (DistributedException aborted) {
                guard.abort();
            }
        }
        watchdog.stop();
        if (barrierBuffer != null) cudaFree(barrierBuffer);
    }

    /** Aborts the communicator at once (never hangs on a dead peer, unlike ncclCommDestroy). */
    @Override public void abort() {
        watchdog.abort(new DistributedException("the NCCL group " + ns + " was aborted on rank " + globalRanks[rank]));
        watchdog.stop();
    }

    static void sleep(long ms) {
        try { Thread.sleep(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}

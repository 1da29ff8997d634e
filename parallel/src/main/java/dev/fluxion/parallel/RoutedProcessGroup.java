package dev.fluxion.parallel;

import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.time.Duration;

/**
 * One group over two backends, as PyTorch's "cpu:gloo,cuda:nccl": operations on CPU tensors go to the TCP
 * group, operations on CUDA tensors to the NCCL group. Both span the same ranks in the same order.
 */
public final class RoutedProcessGroup implements ProcessGroup {
    private final ProcessGroup cpu, cuda;

    public RoutedProcessGroup(ProcessGroup cpu, ProcessGroup cuda) {
        if (cpu.size() != cuda.size() || cpu.rank() != cuda.rank())
            throw new IllegalArgumentException("RoutedProcessGroup: the CPU group (rank " + cpu.rank() + " of " + cpu.size() + ") and the CUDA group (rank "
                    + cuda.rank() + " of " + cuda.size() + ") differ");
        this.cpu = cpu;
        this.cuda = cuda;
    }

    private ProcessGroup on(Tensor t) { return t.device().kind() == Device.Kind.CUDA ? cuda : cpu; }

    @Override public int rank() { return cpu.rank(); }
    @Override public int size() { return cpu.size(); }
    @Override public int globalRank(int groupRank) { return cpu.globalRank(groupRank); }
    @Override public Duration timeout() { return cpu.timeout(); }
    @Override public Work allReduce(Tensor t, ReduceOp op) { return on(t).allReduce(t, op); }
    @Override public Work broadcast(Tensor t, int root) { return on(t).broadcast(t, root); }
    @Override public Work allGather(Tensor output, Tensor input) { return on(input).allGather(output, input); }
    @Override public Work reduceScatter(Tensor output, Tensor input, ReduceOp op) { return on(input).reduceScatter(output, input, op); }
    @Override public Work send(Tensor t, int peer) { return on(t).send(t, peer); }
    @Override public Work recv(Tensor t, int peer) { return on(t).recv(t, peer); }

    @Override public Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer) {
        if (toSend != null && toRecv != null && on(toSend) != on(toRecv))
            throw new IllegalArgumentException("sendRecv: one tensor is on " + toSend.device() + ", the other on " + toRecv.device() + "; use one device");
        return on(toSend != null ? toSend : toRecv).sendRecv(toSend, sendPeer, toRecv, recvPeer);
    }

    /** The TCP group's barrier: it involves no device. */
    @Override public Work barrier() { return cpu.barrier(); }

    @Override public ProcessGroup newGroup(int... ranks) { return new RoutedProcessGroup(cpu.newGroup(ranks), cuda.newGroup(ranks)); }

    @Override public void close() {
        try { cuda.close(); } finally { cpu.close(); }
    }

    @Override public void abort() {
        try { cuda.abort(); } finally { cpu.abort(); }
    }
}

package dev.fluxion.parallel;

import dev.fluxion.nn.GELU;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.lora.Lora;
import dev.fluxion.nn.lora.LoraConfig;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * LoRA and QLoRA under DDP on 2 thread-ranks: the adapters end where one process training on the whole
 * batch leaves them, and the all-reduces carry exactly the adapter gradients (the frozen base, 4-bit or
 * not, is never communicated after the initial broadcast).
 */
class LoraDdpTest {
    static final int B = 4, STEPS = 4, WORLD = 2;

    /** The base model with a LoRA (or, with qlora, a 4-bit base and LoRA) adapter on both Linears; same on every rank. */
    static Module model(boolean qlora) {
        Init init = Init.seed(1);
        Module m = new Sequential(new Linear(6, 16, true, init), new GELU(true), new Linear(16, 3, true, init));
        if (qlora) Lora.quantize(m, path -> true, true);
        Lora.wrap(m, LoraConfig.of(4, 8, "0", "2"), Init.seed(2));
        // B starts at zero; a nonzero B makes A's gradient nonzero from the first step
        for (var e : m.namedParameters().entrySet())
            if (e.getKey().contains("lora_B")) try (var off = dev.fluxion.autodiff.Autodiff.noGrad()) { e.getValue().copy_(Tensor.randn(new Generator(3), e.getValue().shape()).mul(0.1)); }
        return m;
    }

    static Tensor[] batch(int step) {
        Generator g = new Generator(500 + step);
        return new Tensor[] {Tensor.randn(g, WORLD * B, 6), Tensor.randn(g, WORLD * B, 3)};
    }

    static List<float[]> adapters(Module m) {
        List<float[]> out = new ArrayList<>();
        for (Parameter p : Lora.trainable(m)) out.add(p.toFloatArray());
        return out;
    }

    static List<float[]> singleProcess(boolean qlora) {
        Module m = model(qlora);
        SGD opt = new SGD(Lora.trainable(m), SGD.Config.DEFAULT.withLr(0.2));
        for (int step = 0; step < STEPS; step++)
            try (var s = Scope.open()) {
                Tensor[] b = batch(step);
                Tensor loss = Losses.mse(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        return adapters(m);
    }

    @ParameterizedTest(name = "qlora={0}")
    @ValueSource(booleans = {false, true})
    void adaptersTrainUnderDdpAndOnlyTheyAreCommunicated(boolean qlora) throws Exception {
        List<float[]> want = singleProcess(qlora);
        long trainable = Lora.count(model(qlora)).trainable();
        List<List<float[]>> got = LocalCluster.run(WORLD, Duration.ofSeconds(30), pg -> {
            Module m = model(qlora);
            AtomicLong reduced = new AtomicLong();
            var ddp = new DistributedDataParallel(m, new CountingGroup(pg, reduced));
            SGD opt = new SGD(Lora.trainable(m), SGD.Config.DEFAULT.withLr(0.2));
            for (int step = 0; step < STEPS; step++)
                try (var s = Scope.open()) {
                    Tensor[] b = batch(step);
                    Tensor x = b[0].narrow(0, pg.rank() * B, B), y = b[1].narrow(0, pg.rank() * B, B);
                    Tensor loss = Losses.mse(ddp.forward(x), y);
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                }
            assertEquals(STEPS * trainable, reduced.get(), "all-reduced elements: the adapters' gradients, each step, and nothing else");
            for (var e : m.namedParameters().entrySet()) if (!e.getKey().contains("lora_")) assertNull(e.getValue().grad(), e.getKey() + " is frozen");
            return adapters(m);
        });
        for (List<float[]> rank : got)
            for (int i = 0; i < want.size(); i++)
                for (int k = 0; k < want.get(i).length; k++)
                    assertEquals(want.get(i)[k], rank.get(i)[k], 1e-5, "adapter tensor " + i + " element " + k);
    }

    /** Counts the elements all-reduced; everything else passes through. */
    record CountingGroup(ProcessGroup pg, AtomicLong reduced) implements ProcessGroup {
        public int rank() { return pg.rank(); }
        public int size() { return pg.size(); }
        public int globalRank(int groupRank) { return pg.globalRank(groupRank); }
        public Duration timeout() { return pg.timeout(); }
        public Work allReduce(Tensor t, ReduceOp op) { reduced.addAndGet(t.numel()); return pg.allReduce(t, op); }
        public Work broadcast(Tensor t, int root) { return pg.broadcast(t, root); }
        public Work allGather(Tensor output, Tensor input) { return pg.allGather(output, input); }
        public Work reduceScatter(Tensor output, Tensor input, ReduceOp op) { return pg.reduceScatter(output, input, op); }
        public Work send(Tensor t, int peer) { return pg.send(t, peer); }
        public Work recv(Tensor t, int peer) { return pg.recv(t, peer); }
        public Work sendRecv(Tensor toSend, int sendPeer, Tensor toRecv, int recvPeer) { return pg.sendRecv(toSend, sendPeer, toRecv, recvPeer); }
        public Work barrier() { return pg.barrier(); }
        public ProcessGroup newGroup(int... ranks) { return pg.newGroup(ranks); }
        public void close() { }
        public void abort() { pg.abort(); }
    }
}

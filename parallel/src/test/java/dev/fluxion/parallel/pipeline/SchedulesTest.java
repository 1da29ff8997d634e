package dev.fluxion.parallel.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Generators produce valid schedules with the bubble and memory the literature gives (REFERENCE.md §2.4). */
class SchedulesTest {
    static final int[] PS = {1, 2, 3, 4, 6}, MS = {1, 2, 3, 4, 8, 16};

    @Test void everyGeneratedScheduleIsValid() {
        for (int p : PS)
            for (int m : MS) {
                ScheduleValidator.validate(Schedules.gpipe(p, m));
                ScheduleValidator.validate(Schedules.oneForwardOneBackward(p, m), p);
                ScheduleValidator.validate(Schedules.zeroBubbleH1(p, m), p);   // 1F1B's peak (rank 0's), on every rank
                for (int v = 2; v <= 3; v++) if (m % p == 0) ScheduleValidator.validate(Schedules.interleaved(p, v, m));
            }
    }

    @Test void gpipeAndOneFOneBHaveTheBubbleOfFillAndDrainExactly() {
        for (var costs : List.of(Simulator.Costs.UNIT, new Simulator.Costs(1, 1.5, 0.5, 0, 0), new Simulator.Costs(0.25, 0.5, 0, 0, 0)))
            for (int p : PS)
                for (int m : MS) {
                    double want = (p - 1.0) / (m + p - 1.0);
                    assertEquals(want, Simulator.simulate(Schedules.gpipe(p, m), costs).bubbleFraction(), 1e-12, "gpipe p=" + p + " m=" + m + " " + costs);
                    assertEquals(want, Simulator.simulate(Schedules.oneForwardOneBackward(p, m), costs).bubbleFraction(), 1e-12, "1f1b p=" + p + " m=" + m + " " + costs);
                }
    }

    @Test void oneFOneBHoldsAtMostPMinusRankMicroBatchesAndGpipeHoldsM() {
        for (int p : PS)
            for (int m : MS) {
                var f = Simulator.simulate(Schedules.oneForwardOneBackward(p, m), Simulator.Costs.UNIT);
                var g = Simulator.simulate(Schedules.gpipe(p, m), Simulator.Costs.UNIT);
                for (int r = 0; r < p; r++) {
                    assertEquals(Math.min(p - r, m), f.peakInFlight()[r], "1f1b p=" + p + " m=" + m + " rank " + r);
                    assertEquals(m, g.peakInFlight()[r], "gpipe p=" + p + " m=" + m + " rank " + r);
                }
            }
    }

    @Test void interleavingDividesTheBubbleByTheVirtualStages() {
        for (int p : new int[] {2, 4})
            for (int v : new int[] {2, 3})
                for (int m : new int[] {p, 2 * p, 4 * p}) {
                    double oneF = Simulator.simulate(Schedules.oneForwardOneBackward(p, m), Simulator.Costs.UNIT).bubbleOverCompute();
                    double inter = Simulator.simulate(Schedules.interleaved(p, v, m), Simulator.Costs.UNIT).bubbleOverCompute();
                    assertEquals((p - 1.0) / m, oneF, 1e-12);
                    assertEquals(oneF / v, inter, 1e-12, "p=" + p + " v=" + v + " m=" + m);
                }
    }

    @Test void zeroBubbleH1HasAThirdOfOneFOneBsBubbleWithTheSameMemory() {
        for (int p : new int[] {2, 3, 4, 6})
            for (int m : new int[] {p, 2 * p, 16}) {
                var oneF = Simulator.simulate(Schedules.oneForwardOneBackward(p, m), Simulator.Costs.UNIT);
                var zb = Simulator.simulate(Schedules.zeroBubbleH1(p, m), Simulator.Costs.UNIT);
                double oneFIdle = oneF.stepTime() - oneF.busy()[0], zbIdle = zb.stepTime() - zb.busy()[0];
                assertEquals(3.0 * (p - 1), oneFIdle, 1e-12);
                assertEquals(p - 1.0, zbIdle, 1e-12, "p=" + p + " m=" + m + ": ZB-H1 idles p-1 units per rank, a third of 1F1B's 3(p-1)");
                for (int r = 0; r < p; r++) assertTrue(zb.peakInFlight()[r] <= p, "rank " + r + " holds " + zb.peakInFlight()[r]);
            }
    }

    @Test void bytesSentCountEveryTransfer() {
        int p = 4, m = 8;
        var r = Simulator.simulate(Schedules.oneForwardOneBackward(p, m), Simulator.Costs.UNIT.withMessageBytes(100));
        assertEquals(2L * (p - 1) * m * 100, r.totalBytesSent());      // an activation forward and a gradient back per boundary and micro-batch
        assertEquals(m * 100L, r.bytesSent()[0]);                        // rank 0 sends activations only
        var inter = Simulator.simulate(Schedules.interleaved(p, 2, m), Simulator.Costs.UNIT.withMessageBytes(100));
        assertEquals(2L * (2 * p - 1) * m * 100, inter.totalBytesSent()); // more boundaries: more traffic
    }

    @Test void latencyLengthensTheStep() {
        var free = Simulator.simulate(Schedules.oneForwardOneBackward(4, 8), Simulator.Costs.UNIT);
        var slow = Simulator.simulate(Schedules.oneForwardOneBackward(4, 8), Simulator.Costs.UNIT.withLatency(0.5));
        assertTrue(slow.stepTime() > free.stepTime() + 1, free.stepTime() + " vs " + slow.stepTime());
    }

    @Test void csvRoundTrips(@TempDir Path dir) throws Exception {
        for (String name : Schedules.NAMES) {
            Schedule s = Schedules.byName(name, 4, 8, 2);
            Path f = dir.resolve(name + ".csv");
            s.writeCsv(f);
            Schedule back = Schedule.readCsv(f, s.ranks(), s.stages(), s.microbatches());
            assertEquals(s.actions(), back.actions(), name);
        }
    }

    @Test void csvByHandIsReadAndBadLinesAreNamed() {
        String csv = """
                rank,kind,stage,microbatch
                0,F,0,0
                0,SEND_F,0,0
                1,RECV_F,1,0
                1,F,1,0
                1,B,1,0
                1,SEND_B,1,0
                0,RECV_B,0,0
                0,B,0,0
                """;
        Schedule s = Schedule.fromCsv("hand", csv, 2, 2, 1);
        ScheduleValidator.validate(s);
        assertEquals(List.of(Action.forward(0, 0), new Action(Action.Kind.SEND_ACTIVATION, 0, 0), new Action(Action.Kind.RECV_GRADIENT, 0, 0), Action.backward(0, 0)), s.actions(0));
        var e = assertThrows(IllegalArgumentException.class, () -> Schedule.fromCsv("bad", "rank,kind,stage,microbatch\n0,X,0,0\n", 2, 2, 1));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("unknown kind 'X'"), e.getMessage());
    }

    static List<List<Action>> mutable(Schedule s) {
        List<List<Action>> out = new ArrayList<>();
        for (List<Action> l : s.actions()) out.add(new ArrayList<>(l));
        return out;
    }
}

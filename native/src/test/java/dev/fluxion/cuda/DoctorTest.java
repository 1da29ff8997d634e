package dev.fluxion.cuda;

import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.Device;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The environment check runs on any machine and says which device programs use. */
class DoctorTest {
    @Test void runsAndSaysWhichDevice() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean gpu = new Doctor(new PrintStream(bytes, true, StandardCharsets.UTF_8)).run();
        String out = bytes.toString(StandardCharsets.UTF_8);
        for (String label : new String[] {"Java", "CPU", "OpenBLAS", "CUDA driver", "Kernels", "Programs use"})
            assertTrue(out.contains("  " + label), "missing line '" + label + "' in:\n" + out);
        assertEquals(Backends.devices().stream().anyMatch(d -> d.kind() == Device.Kind.CUDA), gpu);
        if (!gpu) {
            assertTrue(out.contains("Programs use  cpu, because"), out);
            assertTrue(out.contains("To get what is missing:"), out);
        } else {
            assertTrue(out.contains("cuda:0"), out);
        }
    }
}

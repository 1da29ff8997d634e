package dev.fluxion.tensor;

import dev.fluxion.tensor.cpu.CpuBackend;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.logging.Logger;

/** The registry of backends: the CPU one always, others found through {@link BackendProvider} services. */
public final class Backends {
    private static final Logger LOG = Logger.getLogger("dev.fluxion");
    private static final Map<Device, Backend> BY_DEVICE = new LinkedHashMap<>();
    private static final List<String> UNAVAILABLE = new ArrayList<>();

    static {
        BY_DEVICE.put(Device.CPU, CpuBackend.INSTANCE);
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            try {
                for (Backend b : p.backends()) BY_DEVICE.put(b.device(), b);
                p.unavailableReason().ifPresent(UNAVAILABLE::add);
            } catch (RuntimeException | LinkageError e) {
                UNAVAILABLE.add(p.getClass().getSimpleName() + " failed to load: " + e);
            }
        }
    }

    private Backends() {}

    public static Backend of(Device device) {
        Backend b = BY_DEVICE.get(device);
        if (b == null) throw new IllegalArgumentException("no backend for device " + device + "; available: " + BY_DEVICE.keySet()
                + (UNAVAILABLE.isEmpty() ? "" : " (" + String.join("; ", UNAVAILABLE) + ")"));
        return b;
    }

    public static List<Device> devices() { return List.copyOf(BY_DEVICE.keySet()); }

    /** Reasons GPU backends are not in use, as their providers gave them. */
    public static List<String> unavailableReasons() { return List.copyOf(UNAVAILABLE); }

    private static volatile boolean bestLogged;

    static Device best() {
        for (Device d : BY_DEVICE.keySet()) if (d.kind() == Device.Kind.CUDA) return d;
        if (!bestLogged) {
            bestLogged = true;
            LOG.info("Fluxion runs on the CPU: " + (UNAVAILABLE.isEmpty() ? "no GPU backend is on the classpath" : String.join("; ", UNAVAILABLE)));
        }
        return Device.CPU;
    }
}

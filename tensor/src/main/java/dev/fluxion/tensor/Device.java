package dev.fluxion.tensor;

/**
 * Where a tensor lives. {@code Device.CPU} always exists; CUDA devices appear when the CUDA backend
 * (module fluxion-native) finds a driver and a GPU.
 */
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (index < 0) throw new IllegalArgumentException("Device: index " + index + " must be >= 0");
    }

    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    /** The fastest device present: the first GPU if a CUDA backend is loaded and usable, else the CPU. */
    public static Device best() { return Backends.best(); }

    /** Parses "cpu", "cuda" or "cuda:1". */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("cuda")) return cuda(0);
        if (t.startsWith("cuda:")) return cuda(Integer.parseInt(t.substring(5)));
        throw new IllegalArgumentException("Device.parse: '" + text + "' is not cpu, cuda or cuda:N");
    }

    @Override public String toString() { return kind == Kind.CPU ? "cpu" : "cuda:" + index; }
}

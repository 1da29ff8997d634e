package dev.fluxion.tensor;

import java.util.List;
import java.util.Optional;

/**
 * Service interface through which device backends register (META-INF/services). A provider that cannot
 * run here (no driver, no GPU, missing libraries) returns an empty list and says why in {@link #unavailableReason()}.
 */
public interface BackendProvider {
    /** The backends this provider can run on this machine, one per device. */
    List<Backend> backends();

    /** Why {@link #backends()} is empty, for the one-line log and the environment check. */
    Optional<String> unavailableReason();
}

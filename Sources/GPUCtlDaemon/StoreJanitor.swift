import GPUCtlStore
import Logging
import ServiceLifecycle

/// Keeps the store's job history bounded: at start and every `interval`, finished jobs past the
/// newest `keep` are forgotten (their output files stay). Without it the store grows by every
/// job for as long as the daemon runs.
struct StoreJanitor: Service {
    let store: JobStore
    let keep: Int
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                tidy()
                try? await Task.sleep(for: interval)
            }
        }
    }

    func tidy() {
        do {
            let forgotten = try store.forgetFinishedJobs(keeping: keep)
            if forgotten > 0 { logger.debug("forgot \(forgotten) finished job(s) past the newest \(keep)") }
        } catch {
            logger.warning("could not forget old finished jobs: \(error.message)")
        }
    }
}

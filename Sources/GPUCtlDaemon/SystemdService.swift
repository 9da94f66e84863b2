import Foundation
import Logging
import ServiceLifecycle

/// Tells systemd how the daemon is: READY=1 once it serves (it is started after the socket
/// answers), a one-line STATUS= for `systemctl status` whenever it changes, WATCHDOG=1 at half
/// of `WatchdogSec=`, and STOPPING=1 as soon as a stop begins. The line and the watchdog ping
/// both come from the Supervisor, so a wedged Supervisor stops the pings and systemd restarts
/// the daemon.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let supervisor: Supervisor
    let statusInterval: Duration
    let watchdogInterval: Duration?
    let logger: Logger

    func run() async throws {
        // A service that returns early stops the whole group: without systemd, just wait.
        guard notifier.isActive else { return try await gracefulShutdown() }
        let first = await supervisor.statusLine()
        if !notifier.send(["READY": "1", "STATUS": first]) {
            logger.warning("could not reach systemd's notify socket \(notifier.socketPath ?? "")")
        }
        let tick = watchdogInterval.map { min($0 / 2, statusInterval) } ?? statusInterval
        await cancelWhenGracefulShutdown {
            var last = first
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard !Task.isCancelled else { return }
                let line = await supervisor.statusLine()
                if watchdogInterval != nil { notifier.send(["WATCHDOG": "1"]) }
                if line != last {
                    notifier.send(["STATUS": line])
                    last = line
                }
            }
        }
        notifier.send(["STOPPING": "1", "STATUS": "stopping"])
    }
}

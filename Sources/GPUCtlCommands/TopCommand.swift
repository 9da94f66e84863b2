import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl top`: a full-screen live view of the card, the models, the queue and the events.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Watch the GPU live: the card's leases, resident models, the queue with progress, events.",
        discussion: "Built on events.subscribe: a job's progress moves as ComfyUI reports it. q or Ctrl-C quits and gives the terminal back as it was; the view follows the window's size. If the daemon stops, top says so and reconnects.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Seconds between snapshots when nothing happens (expiry countdowns, GPU numbers).")
    var interval: Double = 1

    func run() throws {
        if global.json { return try printSnapshot() }
        // Fails here, before the screen changes, when the daemon cannot be reached.
        let snapshots = TopSnapshots(global: global)
        var model = TopModel()
        try snapshots.fetch(into: &model, failHard: true)
        let live = TopLiveState(model)
        let socketPath = global.socketPath
        let follower = Thread { TopEventFollower(socketPath: socketPath, state: live).run() }
        follower.start()
        let terminal = Terminal()
        terminal.enter()
        defer { terminal.restore() }
        let color = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        var lastSnapshot = ContinuousClock.now
        var lastDraw = ContinuousClock.now - .seconds(60)
        var redraw = true
        while true {
            let (keys, signals) = terminal.wait(milliseconds: 100)
            if terminal.isGone { return }
            if keys.contains(where: { $0 == UInt8(ascii: "q") || $0 == UInt8(ascii: "Q") }) { return }
            if signals.contains(where: { $0 != SIGWINCH }) { return }
            if signals.contains(SIGWINCH) { redraw = true }
            let now = ContinuousClock.now
            if live.takeSnapshotWish() || now - lastSnapshot >= .milliseconds(Int(interval * 1000)) {
                lastSnapshot = now
                live.update { try? snapshots.fetch(into: &$0, failHard: false) }
                redraw = true
            }
            if live.takeDirty() { redraw = true }
            // At most 10 frames a second; at least one a second for the clock and countdowns.
            if redraw || now - lastDraw >= .seconds(1) {
                let size = Terminal.size()
                terminal.draw(TopRenderer.render(live.model, width: size.columns, height: size.rows, color: color))
                if terminal.isGone { return }
                lastDraw = now
                redraw = false
            }
        }
    }
}

extension TopCommand {
    /// The jobs `top` shows: those not ended yet, up to 50.
    static let openJobs = JobsListParams(limit: 50, states: [.queued, .admitted, .submitted, .running])

    /// `top --json`: what the screen is drawn from, once, as `{"status","models","jobs"}`
    /// (`gpuctl events --json` is the live part).
    func printSnapshot() throws {
        let client = try global.connect()
        let open = TopCommand.openJobs.json
        let parts = try CLIExit.run { () throws(RPCClientError) -> [String: JSONValue] in
            func raw(_ method: RPCMethod, _ params: JSONValue? = nil) throws(RPCClientError) -> JSONValue {
                let data = try client.callRaw(method.rawValue, params: params)
                guard let value = try? JSONParser.parse(data) else { throw .protocolError("not JSON") }
                return value
            }
            return ["status": try raw(.status), "models": try raw(.modelsList), "jobs": try raw(.jobsList, open)]
        }
        Output.printJSON(JSONWriter.data(.object(parts)))
    }
}

/// What the event thread and the screen share.
final class TopLiveState: @unchecked Sendable {
    private let lock = NSLock()
    private var current: TopModel
    private var dirty = true
    private var snapshotWanted = false

    init(_ model: TopModel) { current = model }

    var model: TopModel { lock.withLock { current } }

    func update(_ change: (inout TopModel) -> Void) {
        lock.withLock {
            change(&current)
            dirty = true
        }
    }

    func heard(_ event: DaemonEvent) {
        lock.withLock {
            current.apply(event)
            dirty = true
            if TopModel.needsSnapshot(after: event) { snapshotWanted = true }
        }
    }

    func takeDirty() -> Bool { lock.withLock { defer { dirty = false }; return dirty } }
    func takeSnapshotWish() -> Bool { lock.withLock { defer { snapshotWanted = false }; return snapshotWanted } }
}

/// Follows events.subscribe on its own connection, reconnecting while the daemon is away.
struct TopEventFollower {
    let socketPath: String
    let state: TopLiveState

    func run() {
        while true {
            do throws(RPCClientError) {
                let client = try RPCClient(socketPath: socketPath, timeout: .seconds(365 * 86_400))
                state.update { $0.problem = nil }
                _ = try client.callRaw(RPCMethod.eventsSubscribe.rawValue) { data in
                    if let event = try? JSONDecoder().decode(DaemonEvent.self, from: data) { state.heard(event) }
                }
            } catch {
                state.update { $0.problem = "reconnecting every second: \(error.message)" }
            }
            Thread.sleep(forTimeInterval: 1)
        }
    }
}

/// The snapshot top starts from and refreshes: status, models.list and the open jobs.
final class TopSnapshots {
    private let global: GlobalOptions
    private var client: RPCClient?

    init(global: GlobalOptions) { self.global = global }

    func fetch(into model: inout TopModel, failHard: Bool) throws {
        do throws(RPCClientError) {
            let client: RPCClient
            if let existing = self.client {
                client = existing
            } else {
                client = try RPCClient(socketPath: global.socketPath, timeout: .seconds(global.timeout ?? 10))
            }
            self.client = client
            let status = try client.call(.status, as: StatusResult.self)
            let models = try client.call(.modelsList, as: ModelsListResult.self)
            let jobs = try client.call(.jobsList, params: TopCommand.openJobs.json, as: JobsListResult.self)
            model.take(status: status, models: models, jobs: jobs.jobs.reversed())
        } catch {
            client = nil
            if failHard { throw CLIExit.fail(error) }
            model.problem = "reconnecting: \(error.message)"
        }
    }
}

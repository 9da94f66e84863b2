import Foundation

/// A running child process. Its exit is waited for by a thread of its own (never the
/// cooperative pool, never a run loop) and its collected output is read to the end by
/// threads of their own, so a child that writes much never blocks on a full pipe.
/// A child still running when its `Child` is released is killed: no child outlives its owner.
public final class Child: Sendable {
    public let pid: pid_t
    /// The path that was run.
    public let executable: String
    private let exit = OneShot<ExitStatus>()
    private let collected = OneShot<(output: [UInt8], error: [UInt8])>()
    /// Held while the exit is recorded and while a signal is sent, so a signal never reaches
    /// another process that was given the reaped child's pid.
    private let reaping = Locked(Reaping())

    private struct Reaping: Sendable {
        var reaped = false
        /// User plus system CPU seconds, from wait4 once reaped.
        var cpuSeconds: Double?
    }

    /// Starts `spec`. Throws one sentence when the program cannot be started.
    public static func spawn(_ spec: ChildSpec) throws(SpawnError) -> Child {
        guard let path = ChildSpec.find(spec.executable, path: spec.environment["PATH"]) else {
            throw SpawnError("cannot start \(spec.executable): no such executable\(spec.executable.contains("/") ? "" : " on PATH")")
        }
        let lifeline: pid_t? = if case .lifeline = spec.group { try Lifeline.group() } else { nil }
        let launched = try Spawner.launch(spec, executable: path, processGroup: lifeline)
        let child = Child(pid: launched.pid, executable: path)
        child.follow(launched, input: spec.input)
        return child
    }

    private init(pid: pid_t, executable: String) {
        self.pid = pid
        self.executable = executable
    }

    private func follow(_ launched: Spawner.Launched, input: ChildSpec.Input) {
        let pid = self.pid
        let exit = self.exit
        let reaping = self.reaping
        Thread.detachNewThread {
            // Waits without reaping, then reaps under the lock that `signal` takes.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            var status: Int32 = 0
            var usage = rusage()
            reaping.withLock { reaping in
                while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                reaping.reaped = true
                reaping.cpuSeconds = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
            }
            exit.fulfil(ExitStatus(waitStatus: status))
        }
        if let fd = launched.input, case .bytes(let bytes) = input {
            Thread.detachNewThread { Self.write(bytes, to: fd) }
        }
        let streams = [launched.output, launched.error]
        let parts = Locked<[[UInt8]?]>([nil, nil])
        let collected = self.collected
        let expected = streams.compactMap { $0 }.count
        if expected == 0 { collected.fulfil(([], [])) }
        for (index, fd) in streams.enumerated() {
            guard let fd else { continue }
            Thread.detachNewThread {
                let bytes = Self.readToEnd(fd)
                let done = parts.withLock { parts -> (output: [UInt8], error: [UInt8])? in
                    parts[index] = bytes
                    let finished = zip(streams, parts).allSatisfy { $0.0 == nil || $0.1 != nil }
                    return finished ? (parts[0] ?? [], parts[1] ?? []) : nil
                }
                if let done { collected.fulfil(done) }
            }
        }
    }

    deinit {
        signal(SIGKILL)
    }

    /// How it ended, if it has.
    public var exitStatus: ExitStatus? { exit.value }

    /// Sends `number`, unless the child has already been reaped.
    public func signal(_ number: Int32) {
        reaping.withLock { reaping in
            if !reaping.reaped { _ = kill(pid, number) }
        }
    }

    /// The CPU time it has used (user plus system): read from /proc while it runs, from the
    /// kernel's accounting once it has ended.
    public var cpuSeconds: Double? {
        reaping.withLock { reaping in
            if reaping.reaped { return reaping.cpuSeconds }
            guard let file = fopen("/proc/\(pid)/stat", "r") else { return nil }
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 4096)
            guard fgets(&line, Int32(line.count), file) != nil else { return nil }
            let text = String(cString: line)
            // Fields after the command name (which may hold spaces, so it ends at the last ')').
            guard let end = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: end)...].split(separator: " ")
            // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }

    /// Waits for the exit, at most `limit` (nil: no limit); nil if it is still running then.
    public func wait(within limit: Duration? = nil) async -> ExitStatus? { await exit.wait(within: limit) }

    /// The same for synchronous callers.
    public func waitBlocking(within limit: Duration? = nil) -> ExitStatus? { exit.waitBlocking(within: limit) }

    /// Asks it to stop (SIGTERM), kills it (SIGKILL) if it has not stopped within `grace`, and
    /// returns how it ended.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async -> ExitStatus {
        signal(SIGTERM)
        if let status = await wait(within: grace) { return status }
        signal(SIGKILL)
        return await wait() ?? ExitStatus(signal: SIGKILL)
    }

    /// Everything the child wrote to its collected streams, once both reached their end (the
    /// child and every process that inherited them closed them); nil if `limit` passes first.
    public func output(within limit: Duration? = nil) async -> (output: [UInt8], error: [UInt8])? {
        await collected.wait(within: limit)
    }

    /// The same for synchronous callers.
    public func outputBlocking(within limit: Duration? = nil) -> (output: [UInt8], error: [UInt8])? {
        collected.waitBlocking(within: limit)
    }

    private static func readToEnd(_ fd: Int32) -> [UInt8] {
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 { result.append(contentsOf: chunk[..<count]); continue }
            if count < 0 && errno == EINTR { continue }
            return result
        }
    }

    /// Writes all of `bytes`, then closes: the child reads end of file. A child that stops
    /// reading early ends the write with EPIPE, not this process with SIGPIPE.
    private static func write(_ bytes: [UInt8], to fd: Int32) {
        defer { close(fd) }
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGPIPE)
        // The SIGPIPE a write to a closed pipe raises goes to this thread, where it stays
        // pending and blocked until the thread ends.
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

extension Child {
    /// What a finished run produced.
    public struct Result: Sendable {
        /// How it ended; nil when it outlived its limit and was killed.
        public var status: ExitStatus?
        public var output: [UInt8]
        public var error: [UInt8]

        public var outputText: String { String(decoding: output, as: UTF8.self) }
        public var errorText: String { String(decoding: error, as: UTF8.self) }
    }

    /// Runs `spec` to its end. A child that outlives `limit` is killed, and its result has no
    /// status; output is awaited only briefly after that (a grandchild may hold the pipes).
    public static func run(_ spec: ChildSpec, within limit: Duration = .seconds(60)) async throws(SpawnError) -> Result {
        let child = try spawn(spec)
        let status = await child.wait(within: limit)
        if status == nil {
            child.signal(SIGKILL)
            _ = await child.wait()
        }
        let streams = await child.output(within: status == nil ? .seconds(1) : limit) ?? ([], [])
        return Result(status: status, output: streams.output, error: streams.error)
    }

    /// The same for synchronous callers.
    public static func runBlocking(_ spec: ChildSpec, within limit: Duration = .seconds(60)) throws(SpawnError) -> Result {
        let child = try spawn(spec)
        let status = child.waitBlocking(within: limit)
        if status == nil {
            child.signal(SIGKILL)
            _ = child.waitBlocking()
        }
        let streams = child.outputBlocking(within: status == nil ? .seconds(1) : limit) ?? ([], [])
        return Result(status: status, output: streams.output, error: streams.error)
    }
}

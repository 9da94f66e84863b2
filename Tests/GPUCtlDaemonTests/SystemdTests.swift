import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The test plays systemd's part: a datagram socket for NOTIFY_SOCKET, a listening socket
/// handed to the daemon as descriptor 3 with LISTEN_FDS / LISTEN_PID.
@Suite(.timeLimit(.minutes(3))) struct SystemdTests {
    @Test func notifySaysReadyThenStatusAndWatchdogThenStopping() async throws {
        let directory = try TemporaryDirectory()
        let listener = try DatagramListener(path: directory.file("notify"))
        let daemon = try await TestDaemon.start {
            $0.systemd = SystemdEnvironment(notifySocket: directory.file("notify"), watchdogInterval: .milliseconds(200))
            $0.systemdStatusInterval = .milliseconds(100)
        }
        let first = try #require(await listener.next())
        #expect(first.hasPrefix("READY=1\nSTATUS=budget "), "\(first)")
        #expect(first.contains("no model loaded; jobs: 0 running, 0 queued; Ollama "), "\(first)")
        var sawWatchdog = false
        for _ in 0..<20 where !sawWatchdog {
            sawWatchdog = await listener.next()?.contains("WATCHDOG=1") == true
        }
        #expect(sawWatchdog)
        try await daemon.stop()
        var sawStopping = false
        for _ in 0..<20 where !sawStopping {
            guard let message = await listener.next() else { break }
            sawStopping = message.contains("STOPPING=1")
        }
        #expect(sawStopping)
        directory.remove()
    }

    @Test func anAbstractNotifySocketIsReached() async throws {
        let name = "@gpuctl-test-\(UUID().uuidString)"
        let listener = try DatagramListener(path: name)
        #expect(SystemdNotifier(socketPath: name).send(["STATUS": "two\nlines"]))
        #expect(await listener.next() == "STATUS=two lines")
        #expect(!SystemdNotifier(socketPath: nil).send(["READY": "1"]))
    }

    @Test func theEnvironmentCountsOnlyForTheNamedPID() {
        let mine = SystemdEnvironment(environment: ["LISTEN_FDS": "1", "LISTEN_PID": "42", "NOTIFY_SOCKET": "/run/n",
                                                    "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "42"], pid: 42)
        #expect(mine == SystemdEnvironment(listenFD: 3, listenFDCount: 1, notifySocket: "/run/n", watchdogInterval: .seconds(3)))
        let inherited = SystemdEnvironment(environment: ["LISTEN_FDS": "1", "LISTEN_PID": "41", "WATCHDOG_USEC": "3000000",
                                                         "WATCHDOG_PID": "41"], pid: 42)
        #expect(inherited == SystemdEnvironment())
        #expect(SystemdEnvironment(environment: ["WATCHDOG_USEC": "500000"], pid: 42).watchdogInterval == .milliseconds(500))
        #expect(SystemdEnvironment(environment: ["LISTEN_FDS": "0", "LISTEN_PID": "42", "NOTIFY_SOCKET": ""], pid: 42) == SystemdEnvironment())
    }

    /// gpuctld as systemd starts it from gpuctld.socket: it serves the passed socket, leaves
    /// the file when it stops (systemd keeps listening), and a second start serves it again.
    @Test func socketActivationServesThePassedSocketAndLeavesIt() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("activated.sock")
        let listener = try listeningSocket(path)
        defer { close(listener) }
        var arguments = ProcessTests.daemonArguments(directory)
        arguments[1] = directory.file("unused.sock")
        for round in 0..<2 {
            let daemon = try spawnActivated(arguments, listener: listener)
            let pid = daemon.pid
            #expect(await eventually { await ProcessTests.pings(path) }, "round \(round)")
            let status = try await blocking { try RPCClient(socketPath: path).call(.status, as: StatusResult.self) }
            #expect(status.daemon.pid == pid && status.daemon.socket == path, "\(status.daemon)")
            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit() == 0)
            #expect(FileManager.default.fileExists(atPath: path), "systemd's socket must stay")
            #expect(!FileManager.default.fileExists(atPath: directory.file("unused.sock")))
        }
        directory.remove()
    }

    @Test func aPassedDescriptorThatIsNoListeningSocketStopsTheStart() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { ends.forEach { close($0) } }
        await #expect {
            _ = try await TestDaemon.start { $0.systemd = SystemdEnvironment(listenFD: ends[0], listenFDCount: 1) }
        } throws: { error in
            (error as? DaemonStartError)?.message.contains("not a socket") == true
        }
    }
}

/// A datagram socket standing in for systemd's notify socket.
final class DatagramListener: @unchecked Sendable {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// The next message, or nil after 5 s of silence.
    func next() async -> String? {
        let fd = fd
        return try? await blocking { () -> String? in
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
        }
    }
}

/// A listening Unix stream socket at `path`, as systemd opens it for ListenStream=.
func listeningSocket(_ path: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
    return fd
}

/// Starts gpuctld with `listener` as descriptor 3 and LISTEN_PID set to its own pid (a shell
/// that execs the daemon keeps its pid), as systemd does.
func spawnActivated(_ arguments: [String], listener: Int32) throws -> ChildProcess {
    let binary = ChildProcess.productsDirectory.appendingPathComponent("gpuctld").path
    var environment = ChildProcess.environment(adding: ["LISTEN_FDS": "1"])
    environment["NOTIFY_SOCKET"] = nil
    return try ChildProcess(command: ["/bin/sh", "-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", binary] + arguments,
                            environment: environment, descriptors: [3: listener])
}

import Foundation

/// A stand-in nvidia-smi: a shell script that answers the two queries gpuctld makes for one
/// 24 GiB card, listing the compute processes the test sets with `show`, which it may change
/// while the daemon samples.
public struct FakeNvidiaSMI: Sendable {
    /// One row of `--query-compute-apps`: its pid, command line and MiB on the card.
    public struct Process: Sendable {
        public var pid: Int32
        public var commandLine: String
        public var mebibytes: Int

        public init(pid: Int32, commandLine: String, mebibytes: Int) {
            self.pid = pid
            self.commandLine = commandLine
            self.mebibytes = mebibytes
        }
    }

    /// A pid no process can have, for rows the probe must name by nvidia-smi's own column:
    /// above Linux's PID_MAX_LIMIT (2^22), while a real pid would be read from /proc, and pids
    /// wrap at 32768 on a machine like CI's, where a test run spawns thousands.
    public static func impossiblePID(_ offset: Int32 = 0) -> Int32 { 4_194_305 + offset }

    /// The script, to give the daemon as its nvidia-smi.
    public let path: String
    private let appsPath: String

    /// Writes the script into `directory`, listing no processes until `show` is called.
    public init(in directory: TemporaryDirectory) async throws {
        path = directory.file("nvidia-smi")
        appsPath = directory.file("apps")
        try "".write(toFile: appsPath, atomically: true, encoding: .utf8)
        try await """
            #!/bin/sh
            case "$1" in
              --query-gpu=*) echo "0, GPU-aaaa, NVIDIA GeForce RTX 3090, 24576, 4000, 20576" ;;
              --query-compute-apps=*) cat "\(appsPath)" ;;
            esac
            """.writeExecutable(to: path)
    }

    /// What the next reading lists on the card (replaced whole, so a reading sees all or none).
    public func show(_ processes: [Process]) throws {
        let rows = processes.map { "GPU-aaaa, \($0.pid), \($0.commandLine), \($0.mebibytes)\n" }.joined()
        try rows.write(toFile: appsPath, atomically: true, encoding: .utf8)
    }
}

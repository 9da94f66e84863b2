import CProcessSpawn
#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose two ends are close-on-exec from the moment they exist: no child spawned
/// meanwhile, by any thread, inherits either end.
public struct CloseOnExecPipe: Sendable {
    public let read: Int32
    public let write: Int32

    /// Nil when the system has no descriptor left (errno tells why).
    public init?() {
        var fds: [Int32] = [-1, -1]
        guard gpuctl_pipe_cloexec(&fds) == 0 else { return nil }
        read = fds[0]
        write = fds[1]
    }
}

import Foundation

/// A TCP server on 127.0.0.1 that accepts each connection, reads the request, and resets the
/// connection without answering: a backend that crashed after it got the request. It counts
/// the requests that reached it, so a test can tell whether a client sent one twice.
public final class DroppingServer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var received = 0
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    public init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw RawHTTPError("the dropping server could not listen: \(String(cString: strerror(errno)))")
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// Requests that arrived whole (their head).
    public var requests: Int { lock.withLock { received } }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Only this thread closes the listener, once it stops using it: a descriptor closed under
    /// a thread blocked in accept() can be reused by another socket, whose connections that
    /// thread would then take.
    private func serve() {
        defer {
            close(listener)
            finished.signal()
        }
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65536)
            var seen: [UInt8] = []
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while !seen.containsSequence(Array("\r\n\r\n".utf8)) {
                let n = recv(connection, &buffer, buffer.count, 0)
                if n <= 0 { break }
                seen += buffer[0..<n]
            }
            if seen.containsSequence(Array("\r\n\r\n".utf8)) { lock.withLock { received += 1 } }
            // A reset, not an orderly close: what a crashing process leaves.
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(connection)
            if lock.withLock({ stopped }) { return }
        }
    }

    /// Stops listening (connections are refused from then on) and waits for the thread.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
    }
}

private extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

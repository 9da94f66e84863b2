import Foundation
import GPUCtlTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The plainest way to read the fake's stream: one blocking TCP socket on its own thread, an
/// HTTP/1.1 request written by hand, and every `"done":false` chunk noted as it arrives. It is
/// the "direct" reader, so that both sides of the relay comparison are blocking-thread clients.
enum RawHTTPReader {
    /// POSTs `body` to `path` on 127.0.0.1:`port`; returns when the server closes, with the
    /// receipt time of each streamed chunk.
    static func stream(port: Int, path: String, body: String) throws -> [ContinuousClock.Instant] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        let marker = Array(#""done":false"#.utf8)
        var times: [ContinuousClock.Instant] = []
        var carry: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            let now = ContinuousClock.now
            let window = carry + buffer[..<count]
            times += ByteSearch.occurrences(of: marker, in: window).map { _ in now }
            carry = Array(window.suffix(marker.count - 1))
        }
        return times
    }

    /// POSTs `body` and reads the whole answer until the server closes; returns its size.
    static func exchange(port: Int, path: String, body: String) throws -> Int {
        let fd = try RawHTTP.connect(port: port, timeout: 30)
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            total += count
        }
        return total
    }
}

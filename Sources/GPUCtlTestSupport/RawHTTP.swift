import Foundation
import GPUCtlModels

/// HTTP/1.1 over a plain TCP socket, for tests that check framing byte for byte (what an HTTP
/// client library would hide: Content-Length or chunked, a trailing newline, the status line).
public enum RawHTTP {
    /// One answer as it came off the wire.
    public struct Answer: Sendable {
        public var status: Int
        /// Header names lowercased.
        public var headers: [String: String]
        /// The body after de-chunking (when chunked).
        public var body: Data
        public var chunked: Bool
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// The body as JSON (null when it is not).
        public var json: JSONValue { (try? JSONParser.parse(body)) ?? .null }
    }

    /// Sends `request` (bytes as written) to 127.0.0.1:`port` and reads until the server closes
    /// the connection or `timeout` passes. Blocking: call it through `blocking`.
    public static func exchange(port: Int, _ request: Data, timeout: TimeInterval = 10) throws -> Data {
        let socket = try connect(port: port, timeout: timeout)
        defer { close(socket) }
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(socket, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw RawHTTPError("send failed: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(socket, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return received
    }

    /// A socket connected to 127.0.0.1:`port` with send and receive timeouts. The caller closes it.
    /// `receiveBuffer` caps the socket's receive buffer (set before connecting, so the kernel
    /// never grows the window past it).
    public static func connect(port: Int, timeout: TimeInterval = 10, receiveBuffer: Int32? = nil) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw RawHTTPError("socket failed") }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer { setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw RawHTTPError("connect to port \(port) failed: \(String(cString: strerror(errno)))")
        }
        return socket
    }

    /// A request with `Connection: close`, so the answer ends with the connection.
    public static func request(_ method: String, _ path: String, json: String? = nil,
                               headers: [(String, String)] = []) -> Data {
        let host = headers.contains { $0.0.lowercased() == "host" } ? "" : "Host: 127.0.0.1\r\n"
        var text = "\(method) \(path) HTTP/1.1\r\n\(host)Connection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let json { text += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n" }
        text += "\r\n" + (json ?? "")
        return Data(text.utf8)
    }

    /// Splits the bytes of one answer into status, headers and body (de-chunked).
    public static func parse(_ data: Data) throws -> Answer {
        let separator = Data("\r\n\r\n".utf8)
        guard let end = data.range(of: separator) else { throw RawHTTPError("no end of headers in \(data.count) bytes") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw RawHTTPError("bad status line \(head.first ?? "")") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[end.upperBound...])
        let chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
        if chunked { body = try dechunk(body) }
        return Answer(status: status, headers: headers, body: body, chunked: chunked)
    }

    static func dechunk(_ data: Data) throws -> Data {
        var out = Data()
        var rest = data[...]
        let crlf = Data("\r\n".utf8)
        while let lineEnd = rest.range(of: crlf) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16) else { throw RawHTTPError("bad chunk size '\(sizeText)'") }
            if size == 0 { return out }
            let start = lineEnd.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= size + 2 else { throw RawHTTPError("truncated chunk") }
            let stop = rest.index(start, offsetBy: size)
            out.append(rest[start..<stop])
            rest = rest[rest.index(stop, offsetBy: 2)...]
        }
        throw RawHTTPError("no last chunk")
    }
}

public struct RawHTTPError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

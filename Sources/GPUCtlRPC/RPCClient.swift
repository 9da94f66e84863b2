#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GPUCtlModels

/// Why a call did not produce a result. `message` is one sentence for people.
public enum RPCClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing listens on the socket (no file, or a stale one).
    case notRunning(path: String, reason: String)
    case permissionDenied(path: String)
    case timedOut(path: String, after: Duration)
    /// The daemon closed the connection before answering.
    case closed(path: String)
    /// The daemon sent something that is not a JSON-RPC reply.
    case protocolError(String)
    /// The daemon answered with an error.
    case remote(RPCErrorPayload)

    public var message: String {
        switch self {
        case .notRunning(let path, let reason):
            "gpuctld is not running: nothing answers on \(path) (\(reason)); start it with 'gpuctld --socket \(path)' or 'systemctl start gpuctld', or point --socket / GPUCTL_SOCKET at the right socket"
        case .permissionDenied(let path):
            "permission denied on \(path): ask the daemon's owner to add you to its --allow-group (then log in again)"
        case .timedOut(let path, let after):
            "gpuctld on \(path) did not answer within \(after); it may be overloaded or stuck (check its log)"
        case .closed(let path):
            "gpuctld on \(path) closed the connection before answering; it may be shutting down"
        case .protocolError(let detail):
            "gpuctld sent a reply this client cannot read (\(detail)); are the CLI and daemon versions the same?"
        case .remote(let error):
            error.message
        }
    }

    public var description: String { message }
}

/// A blocking JSON-RPC client over the Unix socket, built on plain POSIX calls so the CLI
/// starts and answers in milliseconds. It may move between threads, but only one may use it at a time.
public final class RPCClient: @unchecked Sendable {
    public let socketPath: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// Reused for every recv, so a read allocates nothing.
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private var nextID = 1
    private let timeout: Duration

    /// Connects to the daemon. `timeout` bounds every later read.
    public init(socketPath: String, timeout: Duration = .seconds(30)) throws(RPCClientError) {
        self.socketPath = socketPath
        self.timeout = timeout
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .protocolError("cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        guard UnixAddress.fill(&address, path: socketPath) else {
            close(fd)
            throw .notRunning(path: socketPath, reason: "the path is too long for a Unix socket")
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let code = errno
            close(fd)
            switch code {
            case EACCES, EPERM: throw .permissionDenied(path: socketPath)
            default: throw .notRunning(path: socketPath, reason: String(cString: strerror(code)))
            }
        }
        self.fd = fd
        var interval = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func shutdownWriting() { _ = shutdown(fd, Int32(SHUT_WR)) }

    /// Calls `method` and returns its raw JSON result. Stream notifications for this call are
    /// handed to `onNotification` (their `data`, as JSON) as they arrive.
    public func callRaw(_ method: String, params: JSONValue? = nil,
                        onNotification: ((Data) -> Void)? = nil) throws(RPCClientError) -> Data {
        let id = nextID
        nextID += 1
        try send(RPCWire.request(id: .number(Double(id)), method: method, params: params))
        let streamPrefix = Array(#"{"jsonrpc":"2.0","method":"stream","params":{"id":"#.utf8)
        let idBytes = Array(JSONWriter.data(.number(Double(id))))
        let dataKey = Array(#","data":"#.utf8)
        while true {
            let line = try readLine()
            // Fast path for the daemon's own notification layout: the data is handed on as the
            // bytes it arrived as, with no parse and no re-encode (streams send thousands).
            if let data = Self.notificationData(line, prefix: streamPrefix, id: idBytes, dataKey: dataKey) {
                onNotification?(data)
                continue
            }
            // One parse of the line serves the notification check, the error and the result.
            guard let reply = try? JSONParser.parse(line), reply.objectValue != nil else {
                throw .protocolError("not JSON: \(String(decoding: line.prefix(120), as: UTF8.self))")
            }
            if reply["method"] == .string("stream"), let params = reply["params"], params["id"] == .number(Double(id)) {
                if let data = params["data"], let onNotification {
                    onNotification((try? JSONEncoder.rpc.encode(data)) ?? Data())
                }
                continue
            }
            if let error = reply["error"] {
                guard let payload = try? JSONDecoder().decode(RPCErrorPayload.self, from: JSONEncoder.rpc.encode(error)) else {
                    throw .protocolError("an error reply without code and message")
                }
                throw .remote(payload)
            }
            guard reply["id"] == .number(Double(id)) else {
                throw .protocolError("a reply for id \(reply["id"].map { "\($0)" } ?? "null") while waiting for \(id)")
            }
            guard let result = reply["result"], let data = try? JSONEncoder.rpc.encode(result) else {
                throw .protocolError("a reply without a result")
            }
            return data
        }
    }

    /// `data` of `{"jsonrpc":"2.0","method":"stream","params":{"id":ID,"data":DATA}}` when the line
    /// has exactly that layout (the one RPCWire writes) and this call's id; nil otherwise.
    static func notificationData(_ line: Data, prefix: [UInt8], id: [UInt8], dataKey: [UInt8]) -> Data? {
        let headerLength = prefix.count + id.count + dataKey.count
        guard line.count > headerLength + 2 else { return nil }
        return line.withUnsafeBytes { raw -> Data? in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard bytes.starts(with: prefix),
                  bytes[prefix.count..<(prefix.count + id.count)].elementsEqual(id),
                  bytes[(prefix.count + id.count)..<headerLength].elementsEqual(dataKey),
                  bytes[bytes.count - 2] == UInt8(ascii: "}"), bytes[bytes.count - 1] == UInt8(ascii: "}") else { return nil }
            return Data(bytes[headerLength..<(bytes.count - 2)])
        }
    }

    /// Calls `method` and decodes its result.
    public func call<Result: Decodable>(_ method: RPCMethod, params: JSONValue? = nil,
                                        as type: Result.Type) throws(RPCClientError) -> Result {
        let data = try callRaw(method.rawValue, params: params)
        do {
            return try JSONDecoder().decode(Result.self, from: data)
        } catch {
            throw .protocolError("the \(method.rawValue) result does not match this client (\(error))")
        }
    }

    /// Writes bytes as they are (tests send malformed input with it).
    public func send(_ bytes: Data) throws(RPCClientError) {
        var line = bytes
        if line.last != UInt8(ascii: "\n") { line.append(UInt8(ascii: "\n")) }
        try sendRaw(line)
    }

    public func sendRaw(_ bytes: Data) throws(RPCClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(path: socketPath, after: timeout) }
                throw .closed(path: socketPath)
            }
            offset += written
        }
    }

    /// Reads one line (without its newline).
    public func readLine() throws(RPCClientError) -> Data {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                buffer.append(contentsOf: chunk[..<count])
            } else if count == 0 {
                throw .closed(path: socketPath)
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw .timedOut(path: socketPath, after: timeout)
            } else {
                throw .closed(path: socketPath)
            }
        }
    }

}

extension RPCClient {
    /// Half-closes the connection: the daemon sees end of input but can still answer.
    public func finishWriting() {
        shutdownWriting()
    }

    /// Ends the connection both ways, from any thread: a read blocked in another thread returns
    /// (`closed`), and the daemon cancels what this connection had in flight.
    public func hangUp() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }
}

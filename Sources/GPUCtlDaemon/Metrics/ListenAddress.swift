import Foundation

/// A TCP address to serve on, `127.0.0.1:9464` or `[::1]:9464`. Loopback only unless the user
/// says otherwise: metrics name models and jobs, which is nobody else's business.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reads `HOST:PORT` for `setting`; refuses a host that is not loopback unless `allowRemote`
    /// (`remoteSetting` is the switch that allows it).
    public static func parse(_ text: String, allowRemote: Bool, setting: DaemonSetting = .metricsListen,
                             remoteSetting: DaemonSetting = .metricsAllowRemote,
                             example: Int = 9464) throws(ConfigurationError) -> ListenAddress {
        let usage = "\(setting.label) is '\(text)'; write HOST:PORT like 127.0.0.1:\(example)"
        var host: Substring
        var portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ConfigurationError(usage) }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ConfigurationError(usage) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { throw ConfigurationError(usage) }
        if host == "localhost" { host = "127.0.0.1" }
        let address = ListenAddress(host: String(host), port: port)
        guard allowRemote || address.isLoopback else {
            throw ConfigurationError("\(setting.label) is '\(text)', which is not a loopback address; use 127.0.0.1:\(port), or add --\(remoteSetting.flag) (\(remoteSetting.variable)=1) to serve it to the network")
        }
        return address
    }

    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        if host == "::1" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

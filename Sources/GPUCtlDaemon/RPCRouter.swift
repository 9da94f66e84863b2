import Foundation
import GPUCtlCore
import GPUCtlModels
import GPUCtlRPC

/// The method table: one entry per `RPCMethod`, the one place a method name meets its code.
public struct RPCRouter: RPCHandling {
    private let supervisor: Supervisor
    private let pingReply: RPCReply
    private let versionReply: RPCReply

    public init(supervisor: Supervisor) {
        self.supervisor = supervisor
        // Answers that never change are encoded once.
        self.pingReply = .encoding(PingResult())
        self.versionReply = .encoding(VersionResult())
    }

    public func answerImmediately(_ call: RPCCall) -> RPCReply? {
        switch RPCMethod(rawValue: call.method) {
        case .ping?: Self.noParams(call) ?? pingReply
        case .version?: Self.noParams(call) ?? versionReply
        case nil: Self.unknown(call)
        default: nil
        }
    }

    public func handle(_ call: RPCCall, context: RPCCallContext) async -> RPCReply {
        if let immediate = answerImmediately(call) { return immediate }
        switch RPCMethod(rawValue: call.method) {
        case .status?:
            if let error = Self.noParams(call) { return error }
            return .encoding(await supervisor.status())
        case .ping?, .version?, nil:
            return Self.unknown(call)
        }
    }

    /// These methods take no params: absent, `{}` and `[]` are fine, anything else is -32602.
    private static func noParams(_ call: RPCCall) -> RPCReply? {
        switch call.params {
        case nil, .object([:])?, .array([])?: return nil
        default:
            return .error(RPCErrorPayload(.invalidParams, "invalid params for \(call.method): it takes no params; send {} or leave params out"))
        }
    }

    private static func unknown(_ call: RPCCall) -> RPCReply {
        let suggestion = Suggestion.closest(to: call.method, in: RPCMethod.allCases.map(\.rawValue))
            .map { "; did you mean '\($0)'?" } ?? "; see docs/rpc.md for the methods"
        return .error(RPCErrorPayload(.methodNotFound, "method not found: '\(call.method)'\(suggestion)"))
    }
}

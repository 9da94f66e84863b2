import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// `gpuctl trust BACKEND`: after an upgrade or a restart that changed a backend's identity,
/// trusts what answers at its URL now, so that the work held for it goes on.
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Trust the Ollama or ComfyUI now answering at its URL after its identity changed (an upgrade), so held work goes on.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "ollama or comfyui.") var backend: String

    func validate() throws {
        guard Backend(rawValue: backend) != nil else {
            throw ValidationError("'\(backend)' is not a backend; name ollama or comfyui")
        }
    }

    func run() throws {
        let client = try global.connect()
        let params = BackendTrustParams(backend: Backend(rawValue: backend)!).json
        let data = try CLIExit.run { () throws(RPCClientError) in try client.callRaw(RPCMethod.backendsTrust.rawValue, params: params) }
        if global.json {
            Output.printJSON(data)
            return
        }
        let result = try JSONDecoder().decode(BackendTrustResult.self, from: data)
        switch (result.identity, result.wasHeld) {
        case (nil, _): Output.print("\(backend) has not answered yet: there is nothing to trust")
        case (let identity?, true): Output.print("\(backend) trusted as \(identity); held work goes on")
        case (let identity?, false): Output.print("\(backend) was already trusted (\(identity))")
        }
    }
}

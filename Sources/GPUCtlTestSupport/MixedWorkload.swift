import Foundation
import GPUCtlModels
import GPUCtlRPC

/// The mixed workload that the fault matrix (FaultMatrixTests) and the soak (`gpuctl-bench
/// soak`) send to a built gpuctld: ComfyUI jobs of two workflows, and streamed and whole
/// generate and chat, and embed, each on a connection of its own as separate clients would.
public enum WorkItem: Int, CaseIterable, Sendable {
    case comfyInvert, comfyTxt2img, generateStreamed, generateWhole, chatStreamed, chatWhole, embed

    /// The catalog the workload's models come from: two chat models and a checkpoint that do
    /// not all fit on 16 GiB once a job and a foreign program take their share.
    public static let catalog = """
    {"models": {
      "llama3.1:8b": {"backend": "ollama", "vram": "6GiB", "priority": 60},
      "llama3.2:3b": {"backend": "ollama", "vram": "3GiB", "priority": 50},
      "v1-5-pruned-emaonly.safetensors": {"backend": "comfyui", "vram": "5GiB"}
    }}
    """

    public var isJob: Bool { self == .comfyInvert || self == .comfyTxt2img }

    /// The RPC method and params; `tag` makes a job's output prefix unique.
    public func call(tag: String) -> (method: String, params: JSONValue) {
        switch self {
        case .comfyInvert:
            ("comfy.submit", ["workflow": "invert", "params": ["width": 16, "prefix": .string("mix/\(tag)")]])
        case .comfyTxt2img:
            ("comfy.submit", ["workflow": "txt2img", "class": "batch", "params": ["prompt": "x", "steps": 3, "prefix": .string("mix/\(tag)")]])
        case .generateStreamed: ("generate", ["model": "llama3.2:3b", "prompt": "hi"])
        case .generateWhole: ("generate", ["model": "llama3.2:3b", "prompt": "hi", "stream": false])
        case .chatStreamed: ("chat", ["model": "llama3.1:8b", "messages": [["role": "user", "content": "hi"]]])
        case .chatWhole: ("chat", ["model": "llama3.1:8b", "messages": [["role": "user", "content": "hi"]], "stream": false])
        case .embed: ("embed", ["model": "llama3.2:3b", "input": "hi"])
        }
    }

    /// Sends the item on a connection of its own (off the cooperative pool) and says how it went.
    public func send(to socket: String, tag: String, timeout: Duration) async -> WorkOutcome {
        let (method, params) = call(tag: tag)
        let started = ContinuousClock.now
        let reply: Result<Data, Error> = await Result {
            try await blocking { try RPCClient(socketPath: socket, timeout: timeout).callRaw(method, params: params) }
        }
        let elapsed = ContinuousClock.now - started
        switch reply {
        case .success(let data) where isJob:
            guard let id = (try? JSONDecoder().decode(JobInfo.self, from: data))?.id else {
                return .failed(kind: "protocol", message: "comfy.submit answered without a job id")
            }
            return .job(id, after: elapsed)
        case .success:
            return .served(after: elapsed)
        case .failure(RPCClientError.remote(let payload)):
            return .failed(kind: payload.data?.kind ?? "code \(payload.code)", message: payload.message)
        case .failure(let error):
            return .failed(kind: "connection", message: "\(error)")
        }
    }
}

/// What one work item came to.
public enum WorkOutcome: Sendable {
    /// A ComfyUI job was accepted (its id); it ends later.
    case job(String, after: Duration)
    /// An inference call was answered in full.
    case served(after: Duration)
    /// Refused or cut: the error kind and the daemon's sentence (or the client's, when the
    /// connection itself failed, as when the daemon is killed).
    case failed(kind: String, message: String)
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Where a request for a model came from: the socket, or a front door.
public enum RequestSource: String, Codable, Sendable, CaseIterable {
    case socket
    /// The Ollama-compatible HTTP door (`--ollama-listen`), OpenAI's `/v1` included.
    case ollamaDoor = "ollama-door"
    /// The ComfyUI door (`--comfyui-listen`): ComfyUI's page and API.
    case comfyUIDoor = "comfyui-door"

    /// As `ps` and `top` write it.
    public var label: String {
        switch self {
        case .socket: "socket"
        case .ollamaDoor: "Ollama door"
        case .comfyUIDoor: "ComfyUI door"
        }
    }
}

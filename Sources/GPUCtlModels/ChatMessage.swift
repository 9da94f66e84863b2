/// One message of a chat, in Ollama's shape (and `chat`'s params).
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public var thinking: String?
    public var images: [String]?

    public init(role: String, content: String, thinking: String? = nil, images: [String]? = nil) {
        self.role = role
        self.content = content
        self.thinking = thinking
        self.images = images
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["role": .string(role), "content": .string(content)]
        object["thinking"] = thinking.map(JSONValue.string)
        object["images"] = images.map { .array($0.map(JSONValue.string)) }
        return .object(object)
    }
}

import ArgumentParser
import Foundation
import GPUCtlModels
import GPUCtlRPC

/// Options of generate and chat.
struct InferenceOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "A model name or alias.") var model: String
    @Option(name: .customLong("option"), help: "An Ollama option as key=value, e.g. temperature=0.2 (repeatable).")
    var options: [String] = []
    @Flag(help: "Queue as batch work (interactive requests go first).") var batch = false

    /// key=value pairs; numbers and true/false are sent as such.
    func optionsValue() throws -> JSONValue? {
        guard !options.isEmpty else { return nil }
        var object: [String: JSONValue] = [:]
        for pair in options {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--option takes key=value, not '\(pair)'") }
            if let number = Double(parts[1]) { object[parts[0]] = .number(number) }
            else if parts[1] == "true" || parts[1] == "false" { object[parts[0]] = .bool(parts[1] == "true") }
            else { object[parts[0]] = .string(parts[1]) }
        }
        return .object(object)
    }
}

/// `gpuctl generate -m MODEL [PROMPT]`: tokens printed as they arrive.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text; the prompt comes from the arguments or stdin.",
        discussion: "Tokens are printed as they arrive; --json prints each chunk and the result as NDJSON. Ctrl-C stops the request upstream.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var inference: InferenceOptions
    @Option(help: "A system prompt.") var system: String?
    @Argument(help: "The prompt (read from stdin when left out).") var prompt: [String] = []

    func run() throws {
        let text = prompt.isEmpty ? Stdin.readAll() : prompt.joined(separator: " ")
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("give a prompt as arguments or on stdin")
        }
        var params = GenerateParams(model: inference.model, prompt: text)
        params.system = system
        params.options = try inference.optionsValue()?.objectValue ?? [:]
        if inference.batch { params.requestClass = .batch }
        _ = try Streamer(global: global).run(.generate, params: params, model: inference.model)
    }
}

/// `gpuctl chat -m MODEL`: a minimal interactive loop that keeps the conversation.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Chat with a model; each line you type is a turn (/reset forgets, /bye or Ctrl-D ends).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var inference: InferenceOptions
    @Option(help: "A system prompt.") var system: String?

    func run() throws {
        var history: [ChatMessage] = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
        let interactive = isatty(STDIN_FILENO) == 1
        let streamer = Streamer(global: global)
        while true {
            if interactive { FileHandle.standardError.write(Data(">>> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/bye" { break }
            if input == "/reset" {
                history = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
                continue
            }
            history.append(ChatMessage(role: "user", content: input))
            var params = ChatParams(model: inference.model, messages: history)
            params.options = try inference.optionsValue()?.objectValue ?? [:]
            if inference.batch { params.requestClass = .batch }
            let answer = try streamer.run(.chat, params: params, model: inference.model)
            history.append(ChatMessage(role: "assistant", content: answer))
        }
    }
}

/// `gpuctl embed -m MODEL TEXT...`: one vector per text, as a JSON array per line; with
/// `--into NAME`, the texts are stored in that collection instead (for `gpuctl search`).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Print the embedding vector of each TEXT, or store the texts in a collection (--into).")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "A model name or alias (with --into, needed only for a new collection).") var model: String?
    @Option(help: "Truncate the vectors to this length.") var dimensions: Int?
    @Option(help: "Store the texts, their vectors and --meta in this collection instead of printing vectors.") var into: String?
    @Option(help: ArgumentHelp("Metadata stored with every text (with --into).", valueName: "key=value")) var meta: [String] = []
    @Argument(help: "The texts (read from stdin, one per line, when left out).") var texts: [String] = []

    func validate() throws {
        if into == nil && model == nil { throw ValidationError("give the model with -m MODEL") }
        if into == nil && !meta.isEmpty { throw ValidationError("--meta goes with --into NAME") }
        if into != nil && dimensions != nil { throw ValidationError("--dimensions cannot be used with --into: a collection keeps its model's vectors whole") }
        for pair in meta where !pair.contains("=") { throw ValidationError("--meta takes key=value, not '\(pair)'") }
    }

    func run() throws {
        let inputs = texts.isEmpty ? Stdin.readAll().split(separator: "\n").map(String.init) : texts
        guard !inputs.isEmpty else { throw ValidationError("give the texts as arguments or on stdin") }
        if let into { return try store(inputs, into: into) }
        var params = EmbedParams(model: model ?? "", input: inputs)
        params.dimensions = dimensions
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let progress = global.json ? nil : LoadProgress.start(for: params.model, socketPath: client.socketPath)
        let raw = try CLIExit.run { () throws(RPCClientError) in
            defer { progress?.stop() }
            return try client.callRaw(RPCMethod.embed.rawValue, params: params.json)
        }
        if global.json { return Output.printJSON(raw) }
        guard case .array(let vectors)? = (try? JSONParser.parse(raw))?["embeddings"] else {
            throw CLIExit.fail(.protocolError("the embed result has no embeddings"))
        }
        for vector in vectors { Output.printJSON(JSONWriter.data(vector)) }
    }

    private func store(_ inputs: [String], into collection: String) throws {
        var metadata: [String: JSONValue] = [:]
        for pair in meta {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            metadata[parts[0]] = .string(parts.count > 1 ? parts[1] : "")
        }
        let params = CollectionsAddParams(collection: collection, model: model, input: inputs,
                                          metadata: metadata.isEmpty ? nil : Array(repeating: metadata, count: inputs.count))
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let progress = global.json || model == nil ? nil : LoadProgress.start(for: model ?? "", socketPath: client.socketPath)
        let raw = try CLIExit.run { () throws(RPCClientError) in
            defer { progress?.stop() }
            return try client.callRaw(RPCMethod.collectionsAdd.rawValue, params: params.json)
        }
        if global.json { return Output.printJSON(raw) }
        guard let result = try? JSONDecoder().decode(CollectionsAddResult.self, from: raw) else {
            throw CLIExit.fail(.protocolError("the collections.add result does not match this client"))
        }
        let texts = result.ids.count == 1 ? "1 text" : "\(result.ids.count) texts"
        Output.print("Added \(texts) to \(result.collection) (\(result.count) in all; \(result.model), \(result.dimensions) dimensions).")
    }
}

/// Runs a streaming call: progress while the model loads, text as it arrives, a newline at the
/// end; with --json, every chunk and the result as NDJSON.
struct Streamer {
    let global: GlobalOptions

    /// Returns the whole answer.
    func run(_ method: RPCMethod, params: some RPCParams, model: String) throws -> String {
        Interrupt.exitOnCtrlC()
        let client = try global.connect(slow: true)
        let json = global.json
        let progress = json ? nil : LoadProgress.start(for: model, socketPath: client.socketPath)
        defer { progress?.stop() }
        var printedAny = false
        let raw = try CLIExit.run { () throws(RPCClientError) in
            defer { if printedAny && !json { Output.write("\n") } }
            return try client.callRaw(method.rawValue, params: params.json) { data in
                progress?.stop()
                if json { return Output.printJSON(data) }
                if let text = (try? JSONParser.parse(data))?["text"]?.stringValue {
                    Output.write(text)
                    printedAny = true
                }
            }
        }
        if json { Output.printJSON(raw) }
        guard let result = try? JSONDecoder().decode(InferenceResult.self, from: raw) else {
            throw CLIExit.fail(.protocolError("the \(method.rawValue) result does not match this client"))
        }
        // Without streaming (or if nothing was streamed) the text is only in the result.
        if !json, !printedAny, !result.response.isEmpty { Output.print(result.response) }
        if result.fallbackUsed, !json {
            FileHandle.standardError.write(Data("(answered by \(result.model), the fallback for \(result.requestedModel))\n".utf8))
        }
        return result.response
    }
}

enum Stdin {
    static func readAll() -> String {
        guard isatty(STDIN_FILENO) != 1 else { return "" }
        return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }
}

/// Ctrl-C during a request: exit at once. Closing the socket is what tells gpuctld to stop the
/// request upstream, so nothing else is needed. The disposition is set (and SIGINT unblocked)
/// explicitly because a parent may have started us with it ignored or masked.
enum Interrupt {
    static func exitOnCtrlC() {
        // Only async-signal-safe work here: a byte on the stack (an array literal would call
        // malloc, and a Ctrl-C landing inside malloc would then deadlock the CLI), write, _exit.
        signal(SIGINT) { _ in
            var newline: UInt8 = 0x0A
            _ = write(STDOUT_FILENO, &newline, 1)
            _exit(130)
        }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigprocmask(SIG_UNBLOCK, &set, nil)
    }
}

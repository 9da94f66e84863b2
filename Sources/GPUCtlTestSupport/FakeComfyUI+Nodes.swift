import Foundation
import GPUCtlModels

extension FakeComfyUI {
    /// What the fake knows of a node class: its required inputs (and which are links), whether
    /// it is an output node, and what running it does.
    struct NodeClass: Sendable {
        enum Behaviour: Sendable {
            /// Passes data on; nothing to show.
            case plain
            /// Loads `ckpt_name`, charging the virtual card until /free.
            case checkpoint
            /// Reports `steps` progress ticks, a step delay apart.
            case sampler
            /// Writes an image file (`output`, or `temp` for a preview).
            case save(type: String)
            /// Writes a file of another kind: history lists it under `key` (`images` for an
            /// animated WebP, `audio` for SaveAudio's FLAC), named with `ext`.
            case saveMedia(key: String, ext: String)
        }

        var required: [String]
        var output: Bool
        var behaviour: Behaviour
        var category: String
    }

    /// The classes the fake runs: the model-free ones a CPU ComfyUI runs, and a minimal
    /// SD graph (checkpoint → text encode → sampler → decode → save).
    static let nodeClasses: [String: NodeClass] = [
        "EmptyImage": .init(required: ["width", "height", "batch_size", "color"], output: false, behaviour: .plain, category: "image"),
        "LoadImage": .init(required: ["image"], output: false, behaviour: .plain, category: "image"),
        "ImageInvert": .init(required: ["image"], output: false, behaviour: .plain, category: "image"),
        "SaveImage": .init(required: ["images", "filename_prefix"], output: true, behaviour: .save(type: "output"), category: "image"),
        "PreviewImage": .init(required: ["images"], output: true, behaviour: .save(type: "temp"), category: "image"),
        "CheckpointLoaderSimple": .init(required: ["ckpt_name"], output: false, behaviour: .checkpoint, category: "loaders"),
        "CLIPTextEncode": .init(required: ["text", "clip"], output: false, behaviour: .plain, category: "conditioning"),
        "EmptyLatentImage": .init(required: ["width", "height", "batch_size"], output: false, behaviour: .plain, category: "latent"),
        "KSampler": .init(required: ["model", "seed", "steps", "cfg", "sampler_name", "scheduler", "positive", "negative",
                                     "latent_image", "denoise"], output: false, behaviour: .sampler, category: "sampling"),
        "VAEDecode": .init(required: ["samples", "vae"], output: false, behaviour: .plain, category: "latent"),
        // txt2video (Wan 2.1) and txt2audio (Stable Audio Open): the same shapes, fake media.
        "UNETLoader": .init(required: ["unet_name", "weight_dtype"], output: false, behaviour: .plain, category: "loaders"),
        "CLIPLoader": .init(required: ["clip_name", "type"], output: false, behaviour: .plain, category: "loaders"),
        "VAELoader": .init(required: ["vae_name"], output: false, behaviour: .plain, category: "loaders"),
        "EmptyHunyuanLatentVideo": .init(required: ["width", "height", "length", "batch_size"], output: false, behaviour: .plain, category: "latent"),
        "ModelSamplingSD3": .init(required: ["model", "shift"], output: false, behaviour: .plain, category: "advanced"),
        "SaveAnimatedWEBP": .init(required: ["images", "filename_prefix", "fps", "lossless", "quality", "method"], output: true,
                                  behaviour: .saveMedia(key: "images", ext: "webp"), category: "image/animation"),
        "ConditioningStableAudio": .init(required: ["positive", "negative", "seconds_start", "seconds_total"], output: false, behaviour: .plain, category: "conditioning"),
        "EmptyLatentAudio": .init(required: ["seconds", "batch_size"], output: false, behaviour: .plain, category: "latent/audio"),
        "VAEDecodeAudio": .init(required: ["samples", "vae"], output: false, behaviour: .plain, category: "latent/audio"),
        "SaveAudio": .init(required: ["audio", "filename_prefix"], output: true, behaviour: .saveMedia(key: "audio", ext: "flac"), category: "audio"),
    ]

    /// `GET /object_info` for the classes above, in ComfyUI's shape (enough for validation).
    static func objectInfo(_ name: String, _ node: NodeClass) -> [String: Any] {
        var required: [String: Any] = [:]
        for input in node.required { required[input] = ["*"] }
        return ["input": ["required": required], "input_order": ["required": node.required], "output": [String](),
                "name": name, "display_name": name, "category": node.category, "output_node": node.output,
                "python_module": "nodes", "description": ""]
    }

    /// ComfyUI's validation of a submitted graph (§2): the 400 body, or nil when it may run.
    static func validate(_ graph: JSONValue?, inputFiles: Set<String>) -> [String: JSONValue]? {
        func failure(_ type: String, _ message: String, _ details: String, nodeErrors: [String: JSONValue] = [:]) -> [String: JSONValue] {
            ["error": ["type": .string(type), "message": .string(message), "details": .string(details), "extra_info": [:]],
             "node_errors": .object(nodeErrors)]
        }
        guard let nodes = graph?.objectValue else { return failure("no_prompt", "No prompt provided", "") }
        for (id, node) in nodes.sorted(by: { $0.key < $1.key }) {
            guard let type = node["class_type"]?.stringValue else {
                return failure("invalid_prompt", "Cannot execute because a node is missing the class_type property.", "Node ID '#\(id)'")
            }
            guard nodeClasses[type] != nil else {
                return failure("invalid_prompt", "Cannot execute because node \(type) does not exist.", "Node ID '#\(id)'")
            }
        }
        let outputs = nodes.filter { nodeClasses[$0.value["class_type"]!.stringValue!]!.output }
        guard !outputs.isEmpty else { return failure("prompt_no_outputs", "Prompt has no outputs", "") }
        var nodeErrors: [String: JSONValue] = [:]
        for (id, node) in nodes {
            let type = node["class_type"]!.stringValue!
            var errors: [JSONValue] = []
            for input in nodeClasses[type]!.required {
                let value = node["inputs"]?[input]
                if value == nil {
                    errors.append(["type": "required_input_missing", "message": "Required input is missing",
                                   "details": .string(input), "extra_info": ["input_name": .string(input)]])
                } else if case .array(let link)? = value, let source = link.first?.stringValue, nodes[source] == nil {
                    errors.append(["type": "exception_during_validation", "message": "Exception when validating node",
                                   "details": .string("'\(source)'"), "extra_info": ["input_name": .string(input)]])
                } else if type == "LoadImage", input == "image", let name = value?.stringValue, !inputFiles.contains(name) {
                    errors.append(["type": "custom_validation_failed", "message": "Custom validation failed for node",
                                   "details": .string("image - Invalid image file: \(name)"), "extra_info": ["input_name": "image"]])
                }
            }
            if case .number(let width)? = node["inputs"]?["width"], width < 1 {
                errors.append(["type": "value_smaller_than_min", "message": .string("Value \(Int(width)) smaller than min of 1"),
                               "details": "width", "extra_info": ["input_name": "width"]])
            }
            if !errors.isEmpty {
                nodeErrors[id] = ["errors": .array(errors), "dependent_outputs": .array(outputs.keys.sorted().map(JSONValue.string)),
                                  "class_type": .string(type)]
            }
        }
        guard nodeErrors.isEmpty else {
            return failure("prompt_outputs_failed_validation", "Prompt outputs failed validation", "", nodeErrors: nodeErrors)
        }
        return nil
    }

    /// Node ids in an order where every node comes after the nodes it links to.
    static func executionOrder(_ nodes: [String: JSONValue]) -> [String] {
        var order: [String] = []
        var visited: Set<String> = []
        func visit(_ id: String) {
            guard !visited.contains(id), let node = nodes[id] else { return }
            visited.insert(id)
            for (_, value) in (node["inputs"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                if case .array(let link) = value, let source = link.first?.stringValue { visit(source) }
            }
            order.append(id)
        }
        for id in nodes.keys.sorted(by: { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }) { visit(id) }
        return order
    }

    /// A 1×1 PNG: what every fake image file holds.
    /// A stand-in file of a media kind: its magic bytes and a little padding (nothing decodes it).
    static func media(_ ext: String) -> [UInt8] {
        switch ext {
        case "webp": Array("RIFF".utf8) + [24, 0, 0, 0] + Array("WEBPVP8L".utf8) + [12, 0, 0, 0] + Array(repeating: 0, count: 12)
        case "flac": Array("fLaC".utf8) + Array(repeating: 0, count: 38)
        default: Array(repeating: 0, count: 16)
        }
    }

    public static let png: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
        0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
        0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xDD, 0x8D, 0xB0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
        0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}

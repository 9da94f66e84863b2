import GPUCtlModels

/// ComfyUI's 400 answer to a graph it refuses, as one readable sentence:
/// `ComfyUI refused the workflow (Prompt outputs failed validation): node 2 (SaveImage) input 'images': Required input is missing`.
public enum ComfyValidation {
    public static func describe(_ body: String) -> String? {
        guard let reply = try? JSONParser.parse(Array(body.utf8)), let error = reply["error"] else { return nil }
        let summary = error["message"]?.stringValue ?? error["type"]?.stringValue ?? "invalid workflow"
        var problems: [String] = []
        for (nodeID, node) in (reply["node_errors"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let classType = node["class_type"]?.stringValue.map { " (\($0))" } ?? ""
            guard case .array(let errors)? = node["errors"] else { continue }
            for item in errors {
                let inputName = item["extra_info"]?["input_name"]?.stringValue
                let input = inputName.map { " input '\($0)'" } ?? ""
                let message = item["message"]?.stringValue ?? item["type"]?.stringValue ?? "invalid"
                // details often repeats the input's name; say it once.
                let details = item["details"]?.stringValue.flatMap { $0.isEmpty || $0 == inputName ? nil : $0 }
                problems.append("node \(nodeID)\(classType)\(input): \(message)\(details.map { " (\($0))" } ?? "")")
            }
        }
        if problems.isEmpty, let details = error["details"]?.stringValue, !details.isEmpty { problems.append(details) }
        return "ComfyUI refused the workflow (\(summary))" + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))
    }
}

import Foundation

/// gpuctl(1) in roff (man(7) macros), from ArgumentParser's description of the command tree.
public enum ManPage {
    struct ToolInfo: Decodable { var command: Command }

    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var arguments: [Argument]?
        var subcommands: [Command]?
        var shouldDisplay: Bool?
    }

    struct Argument: Decodable {
        struct Name: Decodable { var kind: String; var name: String }
        var kind: String
        var names: [Name]?
        var valueName: String?
        var abstract: String?
        var isOptional: Bool
        var isRepeating: Bool
        var shouldDisplay: Bool
        var defaultValue: String?

        var flagText: String {
            let spelled = (names ?? []).map { $0.kind == "short" ? "-\($0.name)" : "--\($0.name)" }.joined(separator: ", ")
            switch kind {
            case "positional": return "<\(valueName ?? "value")>"
            case "flag": return spelled
            default: return "\(spelled) <\(valueName ?? "value")>"
            }
        }
    }

    /// The page for `toolInfo`, the JSON of `gpuctl --experimental-dump-help`.
    public static func render(toolInfo: Data, date: Date = Date()) throws -> String {
        let root = try JSONDecoder().decode(ToolInfo.self, from: toolInfo).command
        let day = date.formatted(Date.ISO8601FormatStyle().year().month().day())
        var page = [".TH GPUCTL 1 \"\(day)\" \"gpuctl\" \"User Commands\"", ".SH NAME",
                    "gpuctl \\- \(escape(root.abstract ?? ""))", ".SH SYNOPSIS", ".B gpuctl",
                    "[\\fI--socket PATH\\fR] [\\fI--json\\fR] [\\fI--timeout SECONDS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
                    ".SH DESCRIPTION",
                    "gpuctl is the command line of gpuctld, the daemon that shares one GPU between Ollama and ComfyUI. Every command talks to the daemon over its Unix socket (docs/rpc.md)."]
        if let discussion = root.discussion { page += [".PP", escape(discussion)] }
        page += [".SH OPTIONS", "Every command takes these, before or after its name.", ".TP", "\\fB--socket\\fR \\fIPATH\\fR",
                 "The daemon's socket.", ".TP", "\\fB--json\\fR",
                 "Print the daemon's JSON result (streams: one JSON line per notification); errors are printed as JSON too.",
                 ".TP", "\\fB--timeout\\fR \\fISECONDS\\fR", "How long to wait for the daemon's answer.",
                 ".TP", "\\fB-h\\fR, \\fB--help\\fR", "Help for a command."]
        page.append(".SH COMMANDS")
        for command in (root.subcommands ?? []) where command.shouldDisplay != false && command.commandName != "help" {
            page += section(command)
        }
        page += [".SH ENVIRONMENT", ".TP", ".B GPUCTL_SOCKET",
                 "The daemon's socket when --socket is not given (then $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, then /run/gpuctl/gpuctld.sock).",
                 ".TP", ".B NO_COLOR", "When set, output has no colours (they are used only on a terminal anyway).",
                 ".SH SEE ALSO", "gpuctld(8), systemctl(1), journalctl(1); docs/rpc.md and README.md in the gpuctl repository."]
        return page.joined(separator: "\n") + "\n"
    }

    static func section(_ command: Command) -> [String] {
        let arguments = (command.arguments ?? []).filter { argument in
            argument.shouldDisplay && !(argument.names ?? []).contains { globalOptions.contains($0.name) }
        }
        let usage = arguments.map { argument -> String in
            let text = argument.flagText + (argument.isRepeating ? " ..." : "")
            return argument.isOptional ? "[\(text)]" : text
        }.joined(separator: " ")
        var lines = [".SS \"\(command.commandName)\"", ".B gpuctl \(command.commandName)", escape(usage), ".PP",
                     escape(command.abstract ?? "")]
        if let discussion = command.discussion { lines += [".PP", escape(discussion)] }
        for argument in arguments {
            var text = argument.abstract ?? ""
            if let value = argument.defaultValue, argument.kind == "option" { text += " (default: \(value))" }
            lines += [".TP", "\\fB\(escape(argument.flagText))\\fR", escape(text)]
        }
        return lines
    }

    /// Described once under OPTIONS.
    static let globalOptions: Set<String> = ["help", "version", "socket", "json", "timeout"]

    /// Roff treats a leading dot or quote as a request and backslashes as escapes.
    public static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\e").split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : String(line) }
            .joined(separator: "\n")
    }
}

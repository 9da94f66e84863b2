/// Every daemon setting, declared once: its flag, its `GPUCTL_*` variable, its default and what
/// it does. gpuctld's flag parsing and `--help`, the configuration's resolution, the README's
/// table (`markdownTable`, checked by a test) and the environment file's check all read this.
public enum DaemonSetting: String, CaseIterable, Sendable {
    case socket, stateDir, config, ollamaURL, comfyUIURL, ttsURL, vram, reserve, allowGroup, logLevel, gpuIndex
    case loadTimeout, freeTimeout, backendWait, workflows, outputDir, jobTimeout, jobHeadroom, keepJobs, metricsListen, metricsAllowRemote, minResidency
    case ollamaListen, ollamaAllowRemote, ollamaQueueTimeout, comfyUIListen, comfyUIAllowRemote

    /// The long flag, without its dashes.
    public var flag: String {
        switch self {
        case .socket: "socket"
        case .stateDir: "state-dir"
        case .config: "config"
        case .ollamaURL: "ollama-url"
        case .comfyUIURL: "comfyui-url"
        case .ttsURL: "tts-url"
        case .vram: "vram"
        case .reserve: "reserve"
        case .allowGroup: "allow-group"
        case .logLevel: "log-level"
        case .gpuIndex: "gpu-index"
        case .loadTimeout: "load-timeout"
        case .freeTimeout: "free-timeout"
        case .backendWait: "backend-wait"
        case .workflows: "workflows"
        case .outputDir: "output-dir"
        case .jobTimeout: "job-timeout"
        case .jobHeadroom: "job-headroom"
        case .keepJobs: "keep-jobs"
        case .metricsListen: "metrics-listen"
        case .metricsAllowRemote: "metrics-allow-remote"
        case .minResidency: "min-residency"
        case .ollamaListen: "ollama-listen"
        case .ollamaAllowRemote: "ollama-allow-remote"
        case .ollamaQueueTimeout: "ollama-queue-timeout"
        case .comfyUIListen: "comfyui-listen"
        case .comfyUIAllowRemote: "comfyui-allow-remote"
        }
    }

    /// The environment variable read when the flag is not given.
    public var variable: String { "GPUCTL_" + flag.uppercased().replacingOccurrences(of: "-", with: "_") }

    /// What the flag takes (`PATH`, `SIZE`, …); nil for a switch.
    public var valueName: String? {
        switch self {
        case .socket, .config: "PATH"
        case .stateDir, .workflows, .outputDir: "DIR"
        case .ollamaURL, .comfyUIURL, .ttsURL: "URL"
        case .vram, .reserve, .jobHeadroom: "SIZE"
        case .allowGroup: "NAME"
        case .logLevel: "LEVEL"
        case .gpuIndex, .keepJobs: "N"
        case .loadTimeout, .freeTimeout, .backendWait, .jobTimeout, .minResidency, .ollamaQueueTimeout: "DURATION"
        case .metricsListen, .ollamaListen, .comfyUIListen: "HOST:PORT"
        case .metricsAllowRemote, .ollamaAllowRemote, .comfyUIAllowRemote: nil
        }
    }

    /// The default, as the docs write it (Markdown).
    public var defaultText: String {
        switch self {
        case .socket: "`$XDG_RUNTIME_DIR/gpuctl/gpuctld.sock`, else `/run/gpuctl/gpuctld.sock`"
        case .stateDir: "`$STATE_DIRECTORY`, `~/.local/state/gpuctl`, or `/var/lib/gpuctl` as root"
        case .config: "`./models.json`, then `/etc/gpuctl/models.json`"
        case .ollamaURL: "`http://127.0.0.1:11434`"
        case .comfyUIURL: "`http://127.0.0.1:8188`"
        case .ttsURL: "none (no speech)"
        case .vram, .allowGroup, .metricsListen, .ollamaListen, .comfyUIListen: "none"
        case .reserve: "`512MiB`"
        case .logLevel: "`info`"
        case .gpuIndex: "`0`"
        case .loadTimeout: "`5m`"
        case .freeTimeout: "`30s`"
        case .backendWait: "`5m`"
        case .workflows: "`./Workflows`, then `/etc/gpuctl/workflows`"
        case .outputDir: "`STATE_DIR/outputs`"
        case .jobTimeout: "`1h`"
        case .jobHeadroom: "`2GiB`"
        case .keepJobs: "`10000`"
        case .metricsAllowRemote, .ollamaAllowRemote, .comfyUIAllowRemote: "off"
        case .minResidency: "`2s`"
        case .ollamaQueueTimeout: "`5m`"
        }
    }

    /// What it does (Markdown; empty when the flag says it all).
    public var about: String {
        switch self {
        case .socket: "the socket served"
        case .stateDir: "the SQLite store"
        case .config: "the model catalog"
        case .ollamaURL, .comfyUIURL: ""
        case .ttsURL: "a text-to-speech server with OpenAI's `/v1/audio/speech` (Kokoro-FastAPI, Speaches, openedai-speech): `gpuctl speak`, and `speak` pipeline steps; its voice model is a `tts` model of the catalog"
        case .vram: "the card's total when no GPU can be read"
        case .reserve: "kept free for the desktop and CUDA contexts"
        case .allowGroup: "members may use the socket (it is given to this group)"
        case .logLevel: "trace … critical"
        case .gpuIndex: "which card on a multi-GPU machine"
        case .loadTimeout: "how long Ollama may take to send the first byte of an answer (a model load included)"
        case .backendWait: "how long a pipeline step waits for its backend (Ollama down, restarting) before the run fails naming the step"
        case .freeTimeout: "how long ComfyUI may take to give its memory back after `/free` (it frees after the prompt it is running); memory still held then stays counted, and is asked for again later"
        case .workflows: "ComfyUI workflow templates; a broken one is reported by name and skipped"
        case .outputDir: "where each job's output files are saved, one folder per job id"
        case .keepJobs: "finished jobs kept in the store (`gpuctl jobs`, `jobs.get`); older ones are forgotten, their output files are not deleted"
        case .jobHeadroom: "what a ComfyUI job that loads catalog models is charged above their sizes (sampling's activations) until its workflow has been seen running; after, the most it was seen to take"
        case .jobTimeout: "how long a ComfyUI job may run (unless it sets its own `timeout`) before it is interrupted and failed"
        case .metricsListen: "serve Prometheus metrics at `http://HOST:PORT/metrics`; loopback addresses only (`127.0.0.1:9464`, `[::1]:9464`)"
        case .metricsAllowRemote: "let `--metrics-listen` name another address (metrics name your models and jobs)"
        case .ollamaListen: "serve an Ollama-compatible API (and OpenAI's `/v1`) at `http://HOST:PORT` whose requests go through the VRAM budget; loopback addresses only (`127.0.0.1:11435`)"
        case .ollamaAllowRemote: "let `--ollama-listen` name another address (anyone who reaches it can drive your GPU)"
        case .ollamaQueueTimeout: "how long a request through the Ollama door may wait for room on the card before it gets a 503"
        case .comfyUIListen: "serve ComfyUI's web page and API at `http://HOST:PORT`, its prompts queued as gpuctld jobs behind the VRAM budget; loopback addresses only (`127.0.0.1:8189`)"
        case .comfyUIAllowRemote: "let `--comfyui-listen` name another address (anyone who reaches it can queue work on your GPU)"
        case .minResidency: "a loaded model stays at least this long before another model's request may evict it (the swap-rate limit; `models.swap` and `models.unload` ignore it)"
        }
    }

    /// How errors name it: `--state-dir / GPUCTL_STATE_DIR`.
    public var label: String { "--\(flag) / \(variable)" }

    /// README's table of settings, as it must read.
    public static var markdownTable: String {
        var lines = ["| flag | variable | default | |", "|---|---|---|---|"]
        for setting in allCases {
            let flag = "`--\(setting.flag)\(setting.valueName.map { " \($0)" } ?? "")`"
            let variable = "`\(setting.variable)`" + (setting.valueName == nil ? " (`1`)" : "")
            lines.append("| \(flag) | \(variable) | \(setting.defaultText) |" + (setting.about.isEmpty ? " |" : " \(setting.about) |"))
        }
        return lines.joined(separator: "\n")
    }

    /// gpuctld's `--help` list of options.
    public static var helpText: String {
        allCases.map { setting in
            let head = "--\(setting.flag)\(setting.valueName.map { " \($0)" } ?? "")"
            let about = setting.about.isEmpty ? "" : "\(setting.about.replacingOccurrences(of: "`", with: "")) "
            let defaultText = setting.defaultText.replacingOccurrences(of: "`", with: "")
            return "  \(head)\n      \(about)(\(setting.variable); default \(defaultText))"
        }.joined(separator: "\n")
    }
}

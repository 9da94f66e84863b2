import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import ProcessSpawn
import Testing

/// The official `ollama` and `openai` Python packages, installed from PyPI into a venv under
/// .build, against the Ollama door in front of the fake Ollama
/// (Tests/PythonClients/official_clients.py). Cancelled, with the reason, when the venv cannot
/// be made (no python3-venv, no PyPI).
@Suite(.timeLimit(.minutes(6))) struct OfficialClientTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let venv = root.appendingPathComponent(".build/python-clients").path

    /// The venv's python with both packages, made on first use; nil and why when it cannot be.
    static func python() async -> (path: String?, problem: String?) {
        let python = "\(venv)/bin/python"
        let probe = try? await ChildProcess.run(command: [python, "-c", "import ollama, openai"], environment: ChildProcess.environment(adding: [:]),
                                                within: .seconds(30))
        if probe?.status == 0 { return (python, nil) }
        guard ChildSpec.find("python3") != nil else { return (nil, "python3 is not installed") }
        guard let made = try? await ChildProcess.run(command: ["python3", "-m", "venv", "--clear", venv],
                                                     environment: ChildProcess.environment(adding: [:]), within: .seconds(120)),
              made.status == 0 else {
            return (nil, "python3 -m venv failed (install python3-venv)")
        }
        let install = try? await ChildProcess.run(
            command: ["\(venv)/bin/pip", "install", "--quiet", "--disable-pip-version-check", "ollama", "openai"],
            environment: ChildProcess.environment(adding: [:]), within: .seconds(300))
        guard let install, install.status == 0 else {
            let reason = install?.stderr.split(separator: "\n").last.map(String.init) ?? "pip did not finish"
            return (nil, "pip could not install ollama and openai from PyPI: \(reason)")
        }
        return (python, nil)
    }

    @Test func theOfficialOllamaAndOpenAIClientsWorkThroughTheDoor() async throws {
        let (python, problem) = await Self.python()
        guard let python else { try Test.cancel(Comment(rawValue: problem ?? "no python")) }
        // A model the catalog knows and no card of 16 GiB can hold: 503 at once.
        let catalog = BackendTestBed.catalog.replacingOccurrences(
            of: #"{"models": {"#, with: #"{"models": {"huge": {"backend": "ollama", "vram": "40GiB"},"#)
        let bed = try await DoorBed.start(catalog: catalog)
        let run = try await ChildProcess.run(
            command: [python, "Tests/PythonClients/official_clients.py"],
            environment: ChildProcess.environment(adding: ["GPUCTL_DOOR": "http://127.0.0.1:\(bed.port)"]),
            workingDirectory: Self.root.path, within: .seconds(120))
        #expect(run.status == 0 && run.stdout.contains("all checks passed"), "\(run.stdout)\n\(run.stderr)")
        try await bed.stop()
    }
}

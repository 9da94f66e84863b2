import Foundation
import GPUCtlCommands
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// The daemon reads its workflow folder at start: valid templates are listed, broken ones skipped by name.
@Suite(.timeLimit(.minutes(3))) struct WorkflowsTests {
    @Test func theDaemonListsTemplatesAndSkipsBrokenOnes() async throws {
        let folder = try TemporaryDirectory()
        let root = RPCDocsTests.root.appendingPathComponent("Workflows")
        for file in ["invert.json", "invert.params.json"] {
            try FileManager.default.copyItem(atPath: root.appendingPathComponent(file).path, toPath: folder.file(file))
        }
        try Data(#"{"1": {"class_type": "EmptyImage", "inputs": {}}}"#.utf8).write(to: URL(fileURLWithPath: folder.file("bad.json")))
        try Data(#"{"parameters": {"w": {"node": "1", "input": "width", "type": "int"}}}"#.utf8)
            .write(to: URL(fileURLWithPath: folder.file("bad.params.json")))
        let daemon = try await TestDaemon.start { $0.workflowsDirectory = folder.path }
        let path = daemon.socketPath
        let list = try await blocking { try RPCClient(socketPath: path).call(.workflowsList, as: WorkflowsListResult.self) }
        #expect(list.workflows.map(\.name) == ["invert"] && list.workflows.first?.vram == ByteSize(bytes: 0))
        #expect(list.workflows.first?.parameters.map(\.name) == ["color", "height", "prefix", "width"])
        #expect(list.broken == [.init(name: "bad", problems: ["parameter 'w' maps to input 'width' of node 1 (EmptyImage), which has no inputs"])])
        let text = WorkflowsRenderer.render(list)
        #expect(text.hasPrefix("invert  (0 B)  A model-free graph"))
        #expect(text.contains("    width=int  default 512  Image width in pixels."))
        #expect(text.hasSuffix("bad  SKIPPED: parameter 'w' maps to input 'width' of node 1 (EmptyImage), which has no inputs"))
        try await daemon.stop()
        folder.remove()
    }
}

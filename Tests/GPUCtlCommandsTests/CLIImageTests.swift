import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// An image parameter: the CLI reads the file and sends its bytes; the daemon never reads a
/// path a client names (it could read what the client may not: the store, its env file), nor
/// blocks on a FIFO.
@Suite(.timeLimit(.minutes(3))) struct CLIImageTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]

    @Test func theDaemonRefusesPathsAndTakesBytes() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let store = bed.daemon.daemon.configuration.stateDirectory + "/gpuctl.sqlite"
        for path in [store, "/etc/passwd", "../../x.png"] {
            let kind = try await bed.errorKind(.comfySubmit, ["workflow": "img2img", "params": ["prompt": "p", "image": .string(path)]])
            #expect(kind == "invalid_params", "\(path)")
        }
        let leakedStore = await bed.comfyui.inputFile("gpuctl.sqlite")
        let leakedPasswd = await bed.comfyui.inputFile("passwd")
        #expect(leakedStore == nil && leakedPasswd == nil)
        let bytes: JSONValue = ["name": "../cat.png", "data": .string(Data(Self.png).base64EncodedString())]
        let job = try await bed.call(.comfySubmit, ["workflow": "img2img", "params": ["prompt": "p", "image": bytes]], as: JobInfo.self)
        #expect(job.state == "queued")
        #expect(await bed.comfyui.inputFile("cat.png") == Self.png, "uploaded under its plain name")
        let tooBig: JSONValue = ["name": "big.png", "data": .string(Data(count: SubmitParams.largestImage + 1).base64EncodedString())]
        #expect(try await bed.errorKind(.comfySubmit, ["workflow": "img2img", "params": ["prompt": "p", "image": tooBig]]) == "invalid_params")
        #expect(try await bed.errorKind(.comfySubmit, ["workflow": "img2img", "params": ["prompt": "p", "image": ["data": "!!"]]]) == "invalid_params")
        try await bed.stop()
    }

    @Test func gpuctlRunSendsTheFilesBytesAndRefusesAFIFO() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let socket = bed.daemon.socketPath
        let directory = try TemporaryDirectory()
        let image = directory.file("dog.png")
        try Data(Self.png).write(to: URL(fileURLWithPath: image))
        let run = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "img2img", "--set", "prompt=a dog", "--set", "image=\(image)"])
        #expect(run.status == 0 && run.stdout.contains(" queued "), "\(run)")
        #expect(await bed.comfyui.inputFile("dog.png") == Self.png)
        let fifo = directory.file("pipe.png")
        #expect(mkfifo(fifo, 0o600) == 0)
        let blocked = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "img2img", "--set", "prompt=x", "--set", "image=\(fifo)"])
        #expect(blocked.status != 0 && blocked.stderr.contains("not a regular file"), "\(blocked)")
        let missing = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "img2img", "--set", "prompt=x", "--set", "image=/nonexistent/x.png"])
        #expect(missing.status != 0 && missing.stderr.contains("cannot read /nonexistent/x.png"), "\(missing)")
        // A name in ComfyUI's input folder is sent as it is.
        let named = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "img2img", "--set", "prompt=x", "--set", "image=example.png"])
        #expect(named.status == 0, "\(named)")
        try await bed.stop()
    }
}

import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import Testing

/// gpuctl run / jobs / job / cancel, as processes against the daemon and the fake ComfyUI.
@Suite(.timeLimit(.minutes(3))) struct CLIJobTests {
    @Test func runWaitsAndPrintsTheOutputThenJobsAndJobShowIt() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let socket = bed.daemon.socketPath
        let run = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "invert", "--set", "width=32", "--set", "prefix=cli/x", "--wait"])
        #expect(run.status == 0, "\(run)")
        let path = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(path.hasSuffix("/x_00001_.png") && FileManager.default.fileExists(atPath: path), "\(run)")
        let list = try await ChildProcess.run("gpuctl", ["--socket", socket, "jobs"])
        let lines = list.stdout.split(separator: "\n")
        #expect(list.status == 0 && lines.count == 2 && lines[0].hasPrefix("ID ") && lines[1].contains(" succeeded "), "\(list)")
        let id = String(lines[1].split(separator: " ")[0])
        let show = try await ChildProcess.run("gpuctl", ["--socket", socket, "job", id])
        #expect(show.status == 0 && show.stdout.contains("state     succeeded") && show.stdout.contains("output    \(path)  (image/png, "), "\(show)")
        let cancel = try await ChildProcess.run("gpuctl", ["--socket", socket, "cancel", id])
        #expect(cancel.status == 1 && cancel.stderr == "gpuctl: job \(id) already ended as succeeded; there is nothing to cancel\n", "\(cancel)")
        // Without --wait: the id, at once.
        let queued = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "invert"])
        #expect(queued.status == 0 && queued.stdout.hasPrefix("job ") && queued.stdout.contains(" queued (gpuctl job "), "\(queued)")
        try await bed.stop()
    }

    @Test func aBadParameterIsOneLineAndNothingIsQueued() async throws {
        let bed = try await BackendTestBed.startForJobs()
        let socket = bed.daemon.socketPath
        let run = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "invert", "--set", "widht=3"])
        #expect(run.status == 1 && run.stderr == "gpuctl: workflow 'invert': unknown parameter 'widht'; did you mean 'width'?\n", "\(run)")
        let type = try await ChildProcess.run("gpuctl", ["--socket", socket, "run", "invert", "--set", "width=wide"])
        #expect(type.status == 1 && type.stderr == "gpuctl: workflow 'invert': parameter 'width' must be an integer, not 'wide'\n", "\(type)")
        let failed = try await ChildProcess.run("gpuctl", ["--socket", socket, "jobs"])
        #expect(failed.stdout == "No jobs.\n")
        try await bed.stop()
    }
}

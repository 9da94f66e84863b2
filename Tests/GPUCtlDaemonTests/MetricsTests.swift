import AsyncHTTPClient
import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import NIOCore
import Testing

/// Prometheus metrics: the `metrics` method and `--metrics-listen`'s `/metrics` show every
/// family the daemon counts, with numbers that follow what happened.
@Suite(.timeLimit(.minutes(3))) struct MetricsTests {
    /// One sample line of the text format: `name{a="b",…} value`.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line -> Sample? in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
            var labels: [String: String] = [:]
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { labels[String(parts[0])] = String(parts[1].dropFirst().dropLast()) }
            }
            return Sample(name: String(series[..<brace]), labels: labels, value: value)
        }
    }

    /// The value of the one series named `name` whose labels include `labels`.
    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }

    static func scrape(_ bed: BackendTestBed) async throws -> (text: String, samples: [Sample]) {
        let result = try await bed.call(.metrics, as: MetricsResult.self)
        #expect(result.contentType.hasPrefix("text/plain; version=0.0.4"))
        return (result.text, parse(result.text))
    }

    @Test func aScrapeShowsEveryFamilyWithNumbersThatFollowWhatHappened() async throws {
        let bed = try await BackendTestBed.start(catalog: ComfyJobTests.catalog)
        _ = try await bed.call(.modelsSwap, ["model": "llama3.2:3b"], as: ModelChangeResult.self)
        _ = try await bed.call(.modelsSwap, ["model": "llama3.1:8b"], as: ModelChangeResult.self)
        #expect(try await bed.errorKind(.modelsSwap, ["model": "no-such-model"]) == "model_not_found")
        let job = try await bed.call(.comfySubmit, ["workflow": "invert", "params": ["width": 64]], as: JobInfo.self)
        #expect(try await bed.call(.jobsWait, ["id": .string(job.id)], as: JobInfo.self).state == "succeeded")
        // A line that is not JSON is answered before any method runs, and still counted.
        let path = bed.daemon.socketPath
        try await blocking {
            let client = try RPCClient(socketPath: path)
            try client.sendRaw(Data("{not json\n".utf8))
            _ = try client.readLine()
        }
        let (text, samples) = try await Self.scrape(bed)
        let families = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        for family in ["gpuctl_rpc_requests_total", "gpuctl_rpc_request_duration_seconds", "gpuctl_errors_total",
                       "gpuctl_backend_calls_total", "gpuctl_backend_call_duration_seconds", "gpuctl_backend_up",
                       "gpuctl_vram_total_bytes", "gpuctl_vram_budget_bytes", "gpuctl_vram_leased_bytes",
                       "gpuctl_vram_foreign_bytes", "gpuctl_vram_used_bytes", "gpuctl_model_loads_total",
                       "gpuctl_model_load_duration_seconds", "gpuctl_model_unloads_total", "gpuctl_models_resident",
                       "gpuctl_swaps_total", "gpuctl_queue_depth", "gpuctl_jobs_finished_total", "gpuctl_event_subscribers"] {
            #expect(families.contains(family), "\(family) missing")
            #expect(text.contains("# HELP \(family) "), "\(family) has no HELP")
        }
        // RPC: by method and outcome; the failed swap under its error kind.
        #expect(Self.value(samples, "gpuctl_rpc_requests_total", ["method": "models.swap", "outcome": "ok"]) == 2)
        #expect(Self.value(samples, "gpuctl_rpc_requests_total", ["method": "models.swap", "outcome": "model_not_found"]) == 1)
        #expect(Self.value(samples, "gpuctl_rpc_request_duration_seconds_count", ["method": "models.swap"]) == 3)
        #expect(Self.value(samples, "gpuctl_swaps_total", ["outcome": "ok"]) == 2)
        #expect(Self.value(samples, "gpuctl_swaps_total", ["outcome": "model_not_found"]) == 1)
        #expect(Self.value(samples, "gpuctl_errors_total", ["kind": "model_not_found"]) == 1)
        #expect(Self.value(samples, "gpuctl_errors_total", ["kind": "parse_error"]) == 1)
        #expect(Self.value(samples, "gpuctl_errors_total", ["kind": "does_not_fit"]) == 0)
        // Backends: Ollama's /api/ps polls and ComfyUI's /prompt, with their durations.
        #expect((Self.value(samples, "gpuctl_backend_calls_total", ["backend": "ollama", "endpoint": "/api/ps", "outcome": "ok"]) ?? 0) >= 1)
        #expect(Self.value(samples, "gpuctl_backend_calls_total", ["backend": "comfyui", "endpoint": "/prompt", "method": "POST", "outcome": "ok"]) == 1)
        #expect((Self.value(samples, "gpuctl_backend_call_duration_seconds_count", ["backend": "ollama", "endpoint": "/api/generate"]) ?? 0) >= 2)
        #expect(Self.value(samples, "gpuctl_backend_up", ["backend": "ollama"]) == 1)
        // Models: two loads with durations, one unload (the 3B made way for the 8B).
        #expect(Self.value(samples, "gpuctl_model_loads_total", ["model": "llama3.2:3b", "outcome": "ok"]) == 1)
        #expect(Self.value(samples, "gpuctl_model_loads_total", ["model": "llama3.1:8b", "outcome": "ok"]) == 1)
        #expect(Self.value(samples, "gpuctl_model_load_duration_seconds_count", ["model": "llama3.1:8b"]) == 1)
        #expect(Self.value(samples, "gpuctl_model_unloads_total", ["model": "llama3.2:3b"]) == 1)
        #expect(Self.value(samples, "gpuctl_models_resident") == 1)
        // VRAM: the declared 16 GiB card, the 8B leased by Ollama.
        #expect(Self.value(samples, "gpuctl_vram_total_bytes") == Double(16 << 30))
        #expect((Self.value(samples, "gpuctl_vram_leased_bytes", ["consumer": "ollama"]) ?? 0) > Double(4 << 30))
        #expect(Self.value(samples, "gpuctl_vram_foreign_bytes") == 0)
        // Queues are empty again, the job is counted by its end.
        #expect(Self.value(samples, "gpuctl_queue_depth", ["queue": "jobs", "class": "interactive"]) == 0)
        #expect(Self.value(samples, "gpuctl_jobs_finished_total", ["state": "succeeded"]) == 1)
        #expect(Self.value(samples, "gpuctl_jobs_finished_total", ["state": "failed"]) == 0)
        try await bed.stop()
    }

    /// Waiting work shows in the queue gauges, by queue and class.
    @Test func waitingJobsShowInTheQueueDepth() async throws {
        let bed = try await BackendTestBed.start(catalog: ComfyJobTests.catalog)
        bed.comfyui.configure { $0.stepDelay = .milliseconds(50) }
        var ids: [String] = []
        for jobClass in ["interactive", "batch", "batch"] {
            ids.append(try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "x", "steps": 200],
                                                          "class": .string(jobClass)], as: JobInfo.self).id)
        }
        // One runs; two wait (which two depends on who got ComfyUI first).
        #expect(await eventually {
            let samples = try await Self.scrape(bed).samples
            let waiting = JobClass.allCases.compactMap { Self.value(samples, "gpuctl_queue_depth", ["queue": "jobs", "class": $0.rawValue]) }
            return waiting.reduce(0, +) == 2
        })
        for id in ids { _ = try await bed.call(.jobsCancel, ["id": .string(id)], as: JobInfo.self) }
        let samples = try await Self.scrape(bed).samples
        #expect(Self.value(samples, "gpuctl_jobs_finished_total", ["state": "cancelled"]) == 3)
        try await bed.stop()
    }

    @Test func metricsAreServedOverHTTPOnLoopback() async throws {
        let bed = try await BackendTestBed.start { $0.metricsListen = ListenAddress(host: "127.0.0.1", port: 0) }
        let status = try await bed.call(.status, as: StatusResult.self)
        let url = try #require(status.daemon.metricsURL)
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/metrics") && !url.contains(":0/"))
        try await withHTTPClient { http in
            func fetch(_ url: String, post: Bool = false) async throws -> (Int, String?, String) {
                var request = HTTPClientRequest(url: url)
                request.method = post ? .POST : .GET
                let response = try await http.execute(request, timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                return (Int(response.status.code), response.headers.first(name: "Content-Type"), String(buffer: body))
            }
            let (code, type, body) = try await fetch(url)
            #expect(code == 200 && type == MetricsResult.prometheusContentType)
            #expect(body.contains("# TYPE gpuctl_vram_budget_bytes gauge") && body.contains("gpuctl_backend_up{"))
            #expect(Self.value(Self.parse(body), "gpuctl_vram_total_bytes") == Double(16 << 30))
            let (missing, _, _) = try await fetch(url.replacingOccurrences(of: "/metrics", with: "/other"))
            #expect(missing == 404)
            let (wrongMethod, _, _) = try await fetch(url, post: true)
            #expect(wrongMethod == 405)
        }
        try await bed.stop()
    }

    @Test func theListenAddressIsLoopbackUnlessTheUserSaysOtherwise() throws {
        #expect(try ListenAddress.parse("127.0.0.1:9464", allowRemote: false) == ListenAddress(host: "127.0.0.1", port: 9464))
        #expect(try ListenAddress.parse("[::1]:9464", allowRemote: false) == ListenAddress(host: "::1", port: 9464))
        #expect(try ListenAddress.parse("localhost:1", allowRemote: false).host == "127.0.0.1")
        #expect(try ListenAddress.parse("0.0.0.0:9464", allowRemote: true).host == "0.0.0.0")
        do {
            _ = try ListenAddress.parse("0.0.0.0:9464", allowRemote: false)
            Issue.record("a wildcard address was accepted")
        } catch {
            #expect(error.message.contains("not a loopback address") && error.message.contains("--metrics-allow-remote"))
        }
        for bad in ["9464", "127.0.0.1:", "127.0.0.1:99999", ":9464", "[::1]9464"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ListenAddress.parse(bad, allowRemote: false) }
        }
        let environment = ["GPUCTL_METRICS_LISTEN": "192.168.1.10:9464"]
        #expect(throws: ConfigurationError.self) {
            try DaemonConfiguration.resolve(flags: DaemonFlags(), environment: environment, fileExists: { _ in false })
        }
        let allowed = try DaemonConfiguration.resolve(
            flags: DaemonFlags(), environment: environment.merging(["GPUCTL_METRICS_ALLOW_REMOTE": "1"]) { $1 },
            fileExists: { _ in false })
        #expect(allowed.metricsListen == ListenAddress(host: "192.168.1.10", port: 9464))
    }

    @Test func aBusyMetricsPortStopsTheStartWithOneSentence() async throws {
        let first = try await BackendTestBed.start { $0.metricsListen = ListenAddress(host: "127.0.0.1", port: 0) }
        let url = try #require(try await first.call(.status, as: StatusResult.self).daemon.metricsURL)
        let port = try #require(Int(url.split(separator: ":").last?.split(separator: "/").first ?? ""))
        do {
            let second = try await TestDaemon.start { $0.metricsListen = ListenAddress(host: "127.0.0.1", port: port) }
            try await second.stop()
            Issue.record("a second daemon served the same metrics port")
        } catch let error as DaemonStartError {
            #expect(error.message.contains("cannot serve metrics on 127.0.0.1:\(port)") && error.message.contains("--metrics-listen"))
        }
        try await first.stop()
    }
}

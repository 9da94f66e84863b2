import Foundation
import GPUCtlDaemon
import GPUCtlModels
import GPUCtlRPC
import GPUCtlTestDaemon
import GPUCtlTestSupport
import GPUProbe
import Testing

/// `events.subscribe`: every kind of state change reaches a subscriber, filters keep only what
/// was asked for, bad filters are refused, and a subscription never holds the daemon's stop.
@Suite(.timeLimit(.minutes(3))) struct EventsTests {
    @Test func modelsComingAndGoingAreStreamed() async throws {
        let bed = try await BackendTestBed.start()
        let events = try await EventFollower.start(socketPath: bed.daemon.socketPath)
        _ = try await bed.call(.modelsSwap, ["model": "llama3.2:3b"], as: ModelChangeResult.self)
        let loaded = await events.first { $0.type == .modelLoaded && $0.model == "llama3.2:3b" }
        #expect((loaded?.bytes?.bytes ?? 0) > 0, "\(events.events)")
        // A swap to another model: the first leaves the card, the second arrives.
        _ = try await bed.call(.modelsSwap, ["model": "llama3.1:8b"], as: ModelChangeResult.self)
        #expect(await events.first { $0.type == .modelUnloaded && $0.model == "llama3.2:3b" } != nil)
        #expect(await events.first { $0.type == .modelLoaded && $0.model == "llama3.1:8b" } != nil)
        // A load that fails is told too, with the reason.
        bed.ollama.configure { $0.failNextLoads = (5, "out of memory") }
        _ = try await bed.errorKind(.modelsLoad, ["model": "qwen2.5:14b"])
        let failed = await events.first { $0.type == .modelLoadFailed && $0.model == "qwen2.5:14b" }
        #expect(failed?.error?.contains("out of memory") == true, "\(String(describing: failed))")
        // Every event carries a UTC timestamp.
        #expect(events.events.allSatisfy { $0.time.hasSuffix("Z") && $0.time.count >= 20 })
        events.stop()
        try await bed.stop()
    }

    @Test func aJobsStatesAndProgressAreStreamedAndFiltersApply() async throws {
        let bed = try await BackendTestBed.start(catalog: ComfyJobTests.catalog)
        let jobsOnly = try await EventFollower.start(socketPath: bed.daemon.socketPath, types: ["job"])
        let statesOnly = try await EventFollower.start(socketPath: bed.daemon.socketPath, types: ["job.state"])
        bed.comfyui.configure { $0.stepDelay = .milliseconds(10) }
        let job = try await bed.call(.comfySubmit, ["workflow": "txt2img", "params": ["prompt": "a cat", "steps": 40]],
                                     as: JobInfo.self)
        let ended = await jobsOnly.first { $0.type == .jobState && $0.job == job.id && $0.state == "succeeded" }
        #expect(ended != nil, "\(jobsOnly.events)")
        let states = jobsOnly.events.filter { $0.type == .jobState && $0.job == job.id }.compactMap(\.state)
        #expect(states == ["queued", "admitted", "submitted", "running", "succeeded"], "\(states)")
        let progress = jobsOnly.events.compactMap { $0.type == .jobProgress ? $0.progress : nil }
        #expect(!progress.isEmpty && progress.contains { $0.max == 40 }, "\(progress)")
        // The group filter took only job events; the type filter only states.
        #expect(jobsOnly.events.dropFirst().allSatisfy { $0.type == .jobState || $0.type == .jobProgress })
        #expect(await statesOnly.first { $0.state == "succeeded" } != nil)
        #expect(statesOnly.events.dropFirst().allSatisfy { $0.type == .jobState })
        jobsOnly.stop()
        statesOnly.stop()
        try await bed.stop()
    }

    @Test func backendsGoingDownAndUpAndBudgetChangesAreStreamed() async throws {
        let bed = try await BackendTestBed.start()
        #expect(await eventually { try await bed.call(.status, as: StatusResult.self).backends.ollama.state == .up })
        let events = try await EventFollower.start(socketPath: bed.daemon.socketPath, types: ["backend", "budget"])
        await bed.ollama.stop()
        let down = await events.first { $0.type == .backend && $0.backend == "ollama" && $0.state == "down" }
        #expect(down?.error?.isEmpty == false, "\(events.events)")
        try await bed.ollama.restart()
        #expect(await events.first { $0.type == .backend && $0.backend == "ollama" && $0.state == "up" } != nil)
        // Another program takes 2 GiB of the card: the budget shrinks, and subscribers hear it.
        let sample = GPUSample(index: 0, name: "virtual", totalBytes: 16 << 30, usedBytes: 2 << 30, freeBytes: 14 << 30,
                               source: .nvml, processes: [GPUProcessSample(pid: 4242, name: "/usr/bin/blender", usedBytes: 2 << 30)])
        await bed.daemon.daemon.supervisor.observe(gpuSample: .success(sample))
        let budget = await events.first { $0.type == .budget && $0.budget?.foreign.bytes == 2 << 30 }
        #expect(budget?.budget?.total.bytes == 16 << 30, "\(events.events)")
        events.stop()
        try await bed.stop()
    }

    @Test func anUnknownFilterIsRefusedWithTheNames() async throws {
        let bed = try await BackendTestBed.start()
        let (_, result) = try await bed.stream(.eventsSubscribe, ["types": ["jobs"]])
        guard case .failure(let error) = result else { Issue.record("accepted an unknown filter"); return }
        #expect(error.kind == .invalidParams)
        #expect(error.message.contains("'jobs'") && error.message.contains("job.progress"), "\(error.message)")
        #expect(try await bed.errorKind(.eventsSubscribe, ["types": 5]) == "invalid_params")
        #expect(try await bed.errorKind(.eventsSubscribe, ["since": "now"]) == "invalid_params")
        try await bed.stop()
    }

    /// A subscription never ends by itself; hanging up ends it, and the daemon's stop ends the
    /// rest at once (with `shutting_down`) instead of waiting out the grace period.
    @Test func hangingUpOrStoppingEndsASubscription() async throws {
        let bed = try await BackendTestBed.start { $0.shutdownGracePeriod = .seconds(60) }
        let leaving = try await EventFollower.start(socketPath: bed.daemon.socketPath)
        let staying = try await EventFollower.start(socketPath: bed.daemon.socketPath)
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 2 })
        leaving.stop()
        #expect(await eventually { bed.daemon.daemon.supervisor.events.subscriberCount == 1 })
        let started = ContinuousClock.now
        try await bed.stop()
        // Well under the 60 s grace period a held call would have kept the daemon for.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(await eventually { staying.ended != nil })
        if case .remote(let payload)? = staying.ended { #expect(payload.kind == .shuttingDown) } else {
            Issue.record("ended with \(String(describing: staying.ended))")
        }
    }

    /// The hub itself: filters, and a subscriber that never reads loses its oldest events
    /// instead of holding up the publisher.
    @Test func theHubDropsForASubscriberThatDoesNotRead() async throws {
        let hub = EventHub()
        let stream = hub.subscribe(filter: ["model"])
        for index in 0..<(EventHub.bufferSize + 10) {
            hub.publish(DaemonEvent(.modelLoaded, model: "m\(index)"))
            hub.publish(DaemonEvent(.jobState, job: "j\(index)", state: "queued"))
        }
        #expect(hub.dropped == 11)
        var iterator = stream.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.type == .modelLoaded && first?.model == "m10", "\(String(describing: first))")
        hub.finishAll()
        var rest = 0
        while await iterator.next() != nil { rest += 1 }
        #expect(rest == EventHub.bufferSize - 1)
        #expect(hub.subscriberCount == 0)
        var late = hub.subscribe().makeAsyncIterator()
        #expect(await late.next()?.type == .subscribed)
        #expect(await late.next() == nil)
    }
}

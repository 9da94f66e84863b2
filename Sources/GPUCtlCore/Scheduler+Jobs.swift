import GPUCtlModels

/// The ComfyUI lane (DESIGN.md, Scheduling): jobs wait in their own queue, ranked against model
/// requests by class and age; one job at a time holds the `comfyUI` resident, which stays after
/// the job as ComfyUI's cache (an eviction candidate like an idle model, unloaded by `/free`).
extension Scheduler {
    /// True while a job holds ComfyUI or its memory is being freed.
    public var comfyBusy: Bool {
        guard let resident = residents[Self.comfyUI] else { return false }
        return resident.inFlight > 0 || resident.phase != .loaded
    }

    /// The job that would go next, when ComfyUI can take one.
    mutating func nextJob(now: ContinuousClock.Instant) -> Waiting? {
        guard comfyAvailable, !comfyBusy else { return nil }
        return resumedJobs.first ?? jobs.next(now: now, aging: batchAging)
    }

    /// Lower goes first: interactive (or aged batch) before batch, then the older. A resumed
    /// job outranks everything, since ComfyUI may be running it already.
    func rank(_ request: Waiting, now: ContinuousClock.Instant) -> (Int, ContinuousClock.Instant, RequestID) {
        if resumedJobs.first?.id == request.id { return (-1, request.since, request.id) }
        let classRank = request.requestClass == .interactive || now - request.since >= batchAging ? 0 : 1
        return (classRank, request.since, request.id)
    }

    /// Gives ComfyUI to `job` when its bytes fit beside what is resident (what ComfyUI already
    /// holds counts toward them), else unloads idle models to make room, else waits.
    mutating func place(_ job: Waiting, now: ContinuousClock.Instant) -> [Action] {
        let held = residents[Self.comfyUI]?.bytes ?? 0
        let pinned = pinnedBytes(except: Self.comfyUI)
        if job.bytes > budget - min(budget, pinned) {
            take(job)
            return [.fail(job.id, .doesNotFit(model: Self.comfyUI, needed: job.bytes, budget: budget, pinned: pinned))]
                + schedule(now: now)
        }
        let extra = job.bytes > held ? job.bytes - held : 0
        let free = budget - min(budget, usedBytes)
        if extra <= free {
            take(job)
            let loadedAt = residents[Self.comfyUI]?.loadedAt ?? now
            residents[Self.comfyUI] = Resident(phase: .loaded, bytes: max(held, job.bytes), inFlight: 1, lastUsed: now,
                                               loadedAt: loadedAt)
            running[job.id] = Self.comfyUI
            return [.run(job.id, model: Self.comfyUI)]
        }
        let room = makeRoom(for: extra, free: free, excluding: Self.comfyUI, now: now)
        if let victims = room.victims {
            return victims.map { model in
                residents[model]?.phase = .unloading
                return .unload(model: model)
            }
        }
        // Requests in flight finish first; look again when young models may go.
        return room.wake.map { [.wake(at: $0)] } ?? []
    }

    private mutating func take(_ job: Waiting) {
        if resumedJobs.first?.id == job.id { resumedJobs.removeFirst() } else { jobs.remove(job.id) }
    }

    /// ComfyUI's measured memory. While a job runs the larger of its estimate and the measure
    /// counts; between jobs the measure (someone using ComfyUI's own UI counts too); nothing
    /// held and no job means no resident.
    mutating func observeComfy(_ bytes: UInt64, now: ContinuousClock.Instant) {
        guard var resident = residents[Self.comfyUI] else {
            if bytes > 0 { residents[Self.comfyUI] = Resident(phase: .loaded, bytes: bytes, lastUsed: now, loadedAt: now) }
            return
        }
        guard resident.phase == .loaded else { return }
        if resident.inFlight > 0 {
            resident.bytes = max(resident.bytes, bytes)
        } else if bytes == 0 {
            residents[Self.comfyUI] = nil
            return
        } else {
            resident.bytes = bytes
        }
        residents[Self.comfyUI] = resident
    }
}

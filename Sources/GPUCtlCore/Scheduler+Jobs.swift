import GPUCtlModels

/// The job lane (DESIGN.md, Scheduling): jobs wait in their own queue, ranked against model
/// requests by class and age; one job at a time holds the job backend's working set
/// (`.backend(jobBackend)`), which stays after the job as ComfyUI's cache (an eviction
/// candidate like an idle model, given back by `.free`).
extension Scheduler {
    /// The holder jobs run in.
    static var jobHolder: Holder { .backend(jobBackend) }

    /// True while a job holds the job backend or its memory is being freed.
    public var jobBackendBusy: Bool {
        guard let resident = residents[Self.jobHolder] else { return false }
        return resident.inFlight > 0 || resident.phase != .loaded
    }

    /// The job that would go next, when the job backend can take one.
    mutating func nextJob(now: ContinuousClock.Instant) -> Waiting? {
        guard available.contains(Self.jobBackend), !jobBackendBusy else { return nil }
        return resumedJobs.first ?? jobs.next(now: now, aging: batchAging)
    }

    /// Lower goes first: interactive (or aged batch) before batch, then the older. A resumed
    /// job outranks everything, since ComfyUI may be running it already.
    func rank(_ request: Waiting, now: ContinuousClock.Instant) -> (Int, ContinuousClock.Instant, RequestID) {
        if resumedJobs.first?.id == request.id { return (-1, request.since, request.id) }
        let classRank = request.requestClass == .interactive || now - request.since >= batchAging ? 0 : 1
        return (classRank, request.since, request.id)
    }

    /// Gives the job backend to `job` when its bytes fit beside what is resident (what ComfyUI already
    /// holds counts toward them), else unloads idle models to make room, else waits.
    mutating func place(_ job: Waiting, now: ContinuousClock.Instant) -> [Action] {
        let held = residents[Self.jobHolder]?.bytes ?? 0
        let pinned = pinnedBytes(except: Self.jobHolder)
        if job.bytes > budget - min(budget, pinned) {
            take(job)
            return [.fail(job.id, .doesNotFit(model: Self.jobBackend.rawValue, needed: job.bytes, budget: budget, pinned: pinned))]
                + schedule(now: now)
        }
        let extra = job.bytes > held ? job.bytes - held : 0
        let free = budget - min(budget, usedBytes)
        if extra <= free {
            take(job)
            let loadedAt = residents[Self.jobHolder]?.loadedAt ?? now
            residents[Self.jobHolder] = Resident(phase: .loaded, bytes: max(held, job.bytes), inFlight: 1, lastUsed: now,
                                                 loadedAt: loadedAt)
            running[job.id] = Self.jobHolder
            return [.runJob(job.id, on: Self.jobBackend)]
        }
        let room = makeRoom(for: extra, free: free, excluding: Self.jobHolder, now: now)
        if let victims = room.victims { return victims.map { evict($0) } }
        // Requests in flight finish first; look again when young models may go.
        return room.wake.map { [.wake(at: $0)] } ?? []
    }

    private mutating func take(_ job: Waiting) {
        if resumedJobs.first?.id == job.id { resumedJobs.removeFirst() } else { jobs.remove(job.id) }
    }

    /// A backend's measured working set. While a job runs the larger of its estimate and the
    /// measure counts; between jobs the measure (someone using ComfyUI's own UI counts too);
    /// nothing held and no job means no resident.
    mutating func observe(_ backend: Backend, holding bytes: UInt64, now: ContinuousClock.Instant) {
        let holder = Holder.backend(backend)
        guard var resident = residents[holder] else {
            if bytes > 0 { residents[holder] = Resident(phase: .loaded, bytes: bytes, lastUsed: now, loadedAt: now) }
            return
        }
        guard resident.phase == .loaded else { return }
        if resident.inFlight > 0 {
            resident.bytes = max(resident.bytes, bytes)
        } else if bytes == 0 {
            residents[holder] = nil
            return
        } else {
            resident.bytes = bytes
        }
        residents[holder] = resident
    }
}

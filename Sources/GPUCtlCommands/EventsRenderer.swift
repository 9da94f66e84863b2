import Foundation
import GPUCtlModels

/// One line per event, as `gpuctl events` prints them and `gpuctl top` lists the latest.
public enum EventsRenderer {
    /// `22:31:05  model.loaded    llama3.1:8b  6.2 GiB`. Time is the event's, in local time.
    /// `shortIDs`: job ids cut to their first 8 characters (as `gpuctl top` shows them).
    public static func line(_ event: DaemonEvent, timeZone: TimeZone = .current, shortIDs: Bool = false) -> String {
        let time = clock(event.time, timeZone: timeZone)
        let kind = event.type.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
        var event = event
        if shortIDs { event.job = event.job.map { String($0.prefix(8)) } }
        return "\(time)  \(kind)\(detail(event))".trimmingTrailingSpaces()
    }

    static func detail(_ event: DaemonEvent) -> String {
        switch event.type {
        case .subscribed: return "following the daemon's events"
        case .modelLoaded: return "\(event.model ?? "?")\(event.bytes.map { "  \($0)" } ?? "")"
        case .modelUnloaded: return event.model ?? "?"
        case .modelLoadFailed: return "\(event.model ?? "?")  \(event.error ?? "")"
        case .jobState:
            return "\(event.job ?? "?")  \(event.state ?? "?")\(event.error.map { "  \($0)" } ?? "")"
        case .jobProgress:
            let progress = JobsRenderer.progressLine(JobNotification(job: event.job ?? "", progress: event.progress))
            return "\(event.job ?? "?")  \(progress)"
        case .budget:
            guard let budget = event.budget else { return "" }
            return "\(budget.budget) = \(budget.total) total − \(budget.reserve) reserve − \(budget.foreign) foreign"
        case .backend:
            return "\(event.backend ?? "?") \(event.state ?? "?")\(event.error.map { ": \($0)" } ?? "")"
        case .traceArrival:
            guard let arrival = event.arrival else { return "" }
            let what = arrival.model ?? arrival.workflow ?? "?"
            let ran = arrival.serviceSeconds.map { String(format: "  ran %.1f s", $0) } ?? ""
            return "\(what)  \(arrival.requestClass.rawValue)\(arrival.client.map { "  from \($0)" } ?? "")\(ran)"
        }
    }

    /// `HH:mm:ss` of an ISO 8601 time; the text itself when it cannot be read.
    static func clock(_ iso: String, timeZone: TimeZone) -> String {
        guard let date = try? Date(iso, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) else {
            return iso
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute, .second], from: date)
        return String(format: "%02d:%02d:%02d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }
}

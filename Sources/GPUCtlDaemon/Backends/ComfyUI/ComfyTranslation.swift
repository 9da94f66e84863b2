import ComfyUIClient
import Foundation
import GPUCtlCore
import GPUCtlModels

// ComfyUI's wire types in the job lifecycle's words. Translation only: nothing is decided here.

extension JobEvent {
    /// A /ws item as the lifecycle sees it; nil for what it does not follow.
    init?(_ item: ComfyStreamItem) {
        switch item {
        case .connected: self = .connected
        case .disconnected: self = .disconnected
        case .event(.status(let remaining, _)): self = .queueReported(remaining: remaining)
        case .event(let event): self = .execution(promptID: event.promptID, ComfyExecution(event))
        }
    }
}

extension ComfyExecution {
    init(_ event: ComfyEvent) {
        switch event {
        case .executionStart: self = .started
        case .executionCached(_, let nodes): self = .cached(nodes: nodes)
        case .executing(_, let node): self = .executing(node: node)
        case .progress(_, let node, let value, let max): self = .progress(node: node, value: value, max: max)
        case .progressState: self = .progressState
        case .executed(_, let node, _): self = .executed(node: node)
        case .executionSuccess: self = .succeeded
        case .executionError(let failure): self = .failed(message: failure.message)
        case .executionInterrupted: self = .interrupted
        case .status, .featureFlags, .preview, .text, .other: self = .other
        }
    }
}

extension ComfyQueueView {
    init(_ queue: QueueState) {
        func entries(_ items: [QueueItem]) -> [Entry] { items.map { Entry(promptID: $0.promptID, clientID: $0.clientID) } }
        self.init(running: entries(queue.running), pending: entries(queue.pending))
    }
}

extension ComfyHistoryOutcome {
    /// How the entry says the prompt ended: its status, else the last error or interrupt among
    /// its messages.
    init(_ entry: HistoryEntry) {
        if entry.statusString == "success" {
            self = .succeeded
            return
        }
        for message in entry.messages.reversed() {
            guard case .array(let pair) = message, pair.count == 2, let type = pair[0].stringValue else { continue }
            switch ComfyEvent(text: JSONWriter.data(["type": .string(type), "data": pair[1]])) {
            case .executionError(let failure)?: self = .failed(message: failure.message); return
            case .executionInterrupted?: self = .interrupted; return
            default: continue
            }
        }
        self = .ended(status: entry.statusString)
    }
}

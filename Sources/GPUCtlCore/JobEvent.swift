import GPUCtlModels

/// What the job lifecycle is told.
public enum JobEvent: Sendable, Equatable {
    // From the Supervisor
    /// The Scheduler gave ComfyUI to this job.
    case admitted(JobLifecycle.Ticket)
    case cancel(jobID: String)
    // From /ws
    case connected
    case disconnected
    /// A `status` message: ComfyUI's queue length.
    case queueReported(remaining: Int)
    /// A message about a prompt (nil when it names none).
    case execution(promptID: String?, ComfyExecution)
    /// Time passed (every `tickInterval`).
    case tick
    // Answers to the actions' questions
    case queueAnswered(ComfyQueueView)
    /// `/history`: nil when ComfyUI has no entry for the prompt.
    case historyAnswered(ComfyHistoryOutcome?)
    /// `/queue` or `/history` could not be asked (ComfyUI unreachable, failing or too slow).
    case unanswered(reason: String)
    case submitAnswered(ComfySubmitOutcome)
    /// The store took a state change (with the job's attempts after it).
    case recorded(JobState, attempts: Int)
    /// The store refused a state change: the job had ended already.
    case recordRefused(JobState)
    /// The outputs were saved; `result` is the job's result column.
    case outputsSaved(result: String)
    /// They could not be: `retryable` when ComfyUI was unreachable or slow (tried again next tick).
    case outputsFailed(reason: String, retryable: Bool)
}

/// What the job lifecycle decides.
public enum JobAction: Sendable, Equatable {
    /// Ask `/queue`; answered `queueAnswered` or `unanswered`.
    case askQueue
    /// Ask `/history/{prompt}`; answered `historyAnswered` or `unanswered`.
    case askHistory
    /// Write a state change; answered `recorded` or `recordRefused`.
    case record(JobState, error: String?, result: String?, countAttempt: Bool)
    /// `POST /prompt` under the job's prompt id; answered `submitAnswered`.
    case submit
    /// Delete the prompt from ComfyUI's queue and interrupt it if it runs (no answer).
    case stop
    /// Download the finished prompt's outputs; answered `outputsSaved` or `outputsFailed`.
    case collectOutputs
    /// Tell those following the job.
    case progress(JobProgress)
    /// ComfyUI went away before it took the job: back in line, first.
    case handBack(reason: String)
    /// The card ran out of memory under the job: back in line, first, charged more (once).
    case retryForMemory(message: String)
    /// The runner is done with the job: ComfyUI is free for the next.
    case release
    case log(JobLogLevel, String)
}

public enum JobLogLevel: Sendable, Equatable { case info, warning }

/// A /ws message about a prompt, reduced to what the lifecycle decides on.
public enum ComfyExecution: Sendable, Equatable {
    case started
    /// Nodes whose cached outputs are reused.
    case cached(nodes: [String])
    /// A node starts; nil marks the end of the prompt.
    case executing(node: String?)
    case progress(node: String?, value: Int, max: Int)
    /// `progress_state`: shows the prompt executes, carries nothing more used here.
    case progressState
    case executed(node: String)
    case succeeded
    case failed(message: String)
    case interrupted
    /// Anything else about the prompt (a preview): it is alive.
    case other

    /// Whether ComfyUI sends this only while the prompt executes.
    public var showsExecution: Bool {
        switch self {
        case .started, .cached, .executing(_?), .progress, .progressState, .executed: true
        default: false
        }
    }
}

/// `/queue`, as the prompt ids and client ids it lists.
public struct ComfyQueueView: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var promptID: String
        public var clientID: String?
        public init(promptID: String, clientID: String?) {
            self.promptID = promptID
            self.clientID = clientID
        }
    }

    public var running: [Entry]
    public var pending: [Entry]

    public init(running: [Entry], pending: [Entry]) {
        self.running = running
        self.pending = pending
    }

    /// Someone else's prompts: not this one, and not under this gpuctld's own client id (a
    /// second gpuctld on another card, a browser, a script are all someone else).
    func foreign(besides promptID: String, ownClientID: String) -> [Entry] {
        (running + pending).filter { $0.clientID != ownClientID && $0.promptID != promptID }
    }
}

/// How a prompt in `/history` ended.
public enum ComfyHistoryOutcome: Sendable, Equatable {
    case succeeded
    case failed(message: String)
    case interrupted
    /// Another status, with no error message.
    case ended(status: String)
}

/// How `POST /prompt` went.
public enum ComfySubmitOutcome: Sendable, Equatable {
    case accepted
    /// 400: the graph is wrong; ComfyUI's words.
    case refused(message: String)
    /// ComfyUI was not reached: it never saw the prompt.
    case unreachable(reason: String)
    /// It may or may not have been queued (a timeout, a 500, a broken reply): ask.
    case unclear
}

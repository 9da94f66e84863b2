import GPUCtlModels

/// The budget arithmetic of DESIGN.md: budget = total − reserve − foreign, never below zero.
public enum VRAMBudget {
    /// Who a process on the GPU belongs to, judged from its command line.
    public enum Owner: String, Sendable {
        case ollama
        case comfyui
        case foreign
    }

    /// Ollama's runners are `ollama` (or `ollama runner ...`); ComfyUI is a python process
    /// running its main.py from a ComfyUI checkout. Anything else is foreign.
    public static func owner(ofCommandLine commandLine: String) -> Owner {
        let lowered = commandLine.lowercased()
        if lowered.contains("ollama") { return .ollama }
        if lowered.contains("comfy") { return .comfyui }
        return .foreign
    }

    /// The bytes gpuctld may hand out.
    public static func budget(total: ByteSize, reserve: ByteSize, foreign: ByteSize) -> BudgetStatus {
        let taken = reserve.bytes.addingReportingOverflow(foreign.bytes)
        let available = taken.overflow || taken.partialValue >= total.bytes ? 0 : total.bytes - taken.partialValue
        return BudgetStatus(total: total, reserve: reserve, foreign: foreign, budget: ByteSize(bytes: available))
    }
}

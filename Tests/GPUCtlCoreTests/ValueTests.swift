import Foundation
import GPUCtlCore
import GPUCtlModels
import Testing

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("6.2GiB", 6_657_199_309), ("512 MiB", 536_870_912), ("24GB", 24_000_000_000),
        ("1073741824", 1_073_741_824), ("1k", 1024), ("0.5 TiB", 549_755_813_888), ("100b", 100),
    ])
    func parses(text: String, bytes: UInt64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "GiB", "-1GiB", "six GiB", "1..2GiB", "1e3GiB", "12 parsecs", "nan"])
    func rejects(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test func formats() {
        #expect(ByteSize.gibibytes(24).description == "24 GiB")
        #expect(ByteSize(parsing: "6.2GiB")!.description == "6.2 GiB")
        #expect(ByteSize.mebibytes(512).description == "512 MiB")
        #expect(ByteSize(bytes: 0).description == "0 B")
    }

    @Test func codesAsIntegerOrString() throws {
        let decoded = try JSONDecoder().decode([ByteSize].self, from: Data(#"[1024, "1KiB"]"#.utf8))
        #expect(decoded == [ByteSize(bytes: 1024), ByteSize(bytes: 1024)])
        #expect(String(decoding: try JSONEncoder().encode(ByteSize.mebibytes(1)), as: UTF8.self) == "1048576")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ByteSize.self, from: Data(#""big""#.utf8)) }
    }
}

@Suite struct KeepAliveTests {
    @Test func parsesGoDurations() {
        #expect(KeepAlive(parsing: "5m") == .seconds(300))
        #expect(KeepAlive(parsing: "1h30m") == .seconds(5400))
        #expect(KeepAlive(parsing: "300ms") == .seconds(0.3))
        #expect(KeepAlive(parsing: "0") == .seconds(0))
        #expect(KeepAlive(parsing: "-1m") == .forever)
        #expect(KeepAlive(seconds: -1) == .forever)
    }

    @Test func rejectsWhatOllamaRejects() {
        // Ollama answers 400 "time: missing unit in duration" for these.
        #expect(KeepAlive(parsing: "300") == nil)
        #expect(KeepAlive(parsing: "-1") == nil)
        #expect(KeepAlive(parsing: "5 minutes") == nil)
        #expect(KeepAlive(parsing: "") == nil)
    }

    @Test func describesAndSends() {
        #expect(KeepAlive.seconds(1800).description == "30m")
        #expect(KeepAlive.forever.ollamaValue == .number(-1))
    }
}

@Suite struct VRAMBudgetTests {
    @Test func budgetIsTotalLessReserveAndForeign() {
        let budget = VRAMBudget.budget(total: .gibibytes(24), reserve: .mebibytes(512), foreign: .gibibytes(2))
        #expect(budget.budget == ByteSize(bytes: (24 << 30) - (512 << 20) - (2 << 30)))
    }

    @Test func budgetNeverGoesNegative() {
        #expect(VRAMBudget.budget(total: .gibibytes(1), reserve: .gibibytes(2), foreign: .gibibytes(0)).budget.bytes == 0)
        #expect(VRAMBudget.budget(total: .gibibytes(1), reserve: ByteSize(bytes: .max), foreign: ByteSize(bytes: .max)).budget.bytes == 0)
    }

    @Test func processesAreAttributed() {
        #expect(VRAMBudget.owner(ofCommandLine: "/usr/local/bin/ollama runner --model /x") == .ollama)
        #expect(VRAMBudget.owner(ofCommandLine: "python3 /opt/ComfyUI/main.py --listen") == .comfyui)
        #expect(VRAMBudget.owner(ofCommandLine: "/usr/bin/Xorg vt1") == .foreign)
    }

    @Test func suggestionsAreCloseOrNothing() {
        #expect(Suggestion.closest(to: "stauts", in: ["status", "ping"]) == "status")
        #expect(Suggestion.closest(to: "frobnicate", in: ["status", "ping"]) == nil)
        #expect(Suggestion.editDistance("kitten", "sitting") == 3)
    }
}

/// The trust in a backend's identity: the first one seen is trusted, another is not until
/// trusted by hand, and the known one coming back is trusted again.
@Suite struct BackendTrustTests {
    @Test func aChangedIdentityIsUntrustedUntilTrustedOrBack() {
        var trust = BackendTrust()
        #expect(trust.isTrusted(.comfyui))
        let first = trust.observe(.comfyui, identity: "ComfyUI 0.3.64")
        #expect(!first && trust.isTrusted(.comfyui) && trust.warning(.comfyui, url: "u") == nil)
        let changed = trust.observe(.comfyui, identity: "ComfyUI 0.3.65")
        #expect(changed)
        #expect(!trust.isTrusted(.comfyui) && trust.isTrusted(.ollama))
        #expect(trust.warning(.comfyui, url: "http://127.0.0.1:8188")
            == "ComfyUI at http://127.0.0.1:8188 is not the one gpuctld knew there (it was ComfyUI 0.3.64, it is now ComfyUI 0.3.65): nothing is sent to it until you run 'gpuctl trust comfyui' (if you upgraded or restarted it yourself)")
        // The known one back: trusted again.
        let back = trust.observe(.comfyui, identity: "ComfyUI 0.3.64")
        #expect(back && trust.isTrusted(.comfyui))
        _ = trust.observe(.comfyui, identity: "ComfyUI 0.3.65")
        let accepted = trust.trust(.comfyui)
        #expect(accepted.identity == "ComfyUI 0.3.65" && accepted.wasUntrusted && trust.isTrusted(.comfyui))
        let nothing = trust.trust(.ollama)
        #expect(nothing.identity == nil && !nothing.wasUntrusted)
    }
}

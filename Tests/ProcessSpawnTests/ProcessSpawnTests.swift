import Foundation
import ProcessSpawn
import Testing

/// The one way this project runs a child: what it passes on, what it collects, how it ends.
@Suite(.timeLimit(.minutes(1))) struct ProcessSpawnTests {
    func sh(_ script: String, input: ChildSpec.Input = .null) -> ChildSpec {
        var spec = ChildSpec("/bin/sh", ["-c", script])
        spec.input = input
        return spec
    }

    @Test func outputErrorAndTheExitCodeAreCollected() async throws {
        let result = try await Child.run(sh("echo out; echo err >&2; exit 3"))
        #expect(result.status == ExitStatus(code: 3) && result.status?.shellStatus == 3)
        #expect(result.outputText == "out\n" && result.errorText == "err\n")
    }

    @Test func muchOutputNeverBlocksTheChild() async throws {
        let result = try await Child.run(ChildSpec("head", ["-c", "4194304", "/dev/zero"]))
        #expect(result.status == ExitStatus(code: 0) && result.output.count == 4_194_304)
    }

    @Test func inputReachesTheChildThenEndOfFile() async throws {
        let bytes = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let result = try await Child.run(ChildSpec("cat"), input: bytes)
        #expect(result.status == ExitStatus(code: 0) && result.output == bytes)
    }

    /// A child that exits without reading its input ends our write with EPIPE; this process
    /// goes on (a SIGPIPE would have ended it).
    @Test func aChildThatDoesNotReadItsInputHurtsNobody() async throws {
        let result = try await Child.run(ChildSpec("true"), input: [UInt8](repeating: 7, count: 8 << 20))
        #expect(result.status == ExitStatus(code: 0))
    }

    /// Descriptors of this process, close-on-exec or not, never reach a child.
    @Test func theChildGetsItsThreeDescriptorsAndNothingElse() async throws {
        let leaky = (0..<40).map { _ in Glibc.open("/dev/null", O_RDONLY) }
        defer { leaky.forEach { close($0) } }
        let result = try await Child.run(sh("ls /proc/$$/fd"))
        let inChild = result.outputText.split(separator: "\n").compactMap { Int32($0) }
        #expect(inChild.filter { $0 > 2 }.allSatisfy { !leaky.contains($0) }, "\(inChild)")
        #expect(Set(inChild).isSuperset(of: [0, 1, 2]))
    }

    @Test func passedDescriptorsAndTheWorkingDirectoryAreTheChildsOwn() async throws {
        let pipe = try #require(CloseOnExecPipe())
        defer { close(pipe.read) }
        var spec = sh("pwd; echo passed >&5")
        spec.workingDirectory = "/tmp"
        spec.descriptors = [5: pipe.write]
        let result = try await Child.run(spec)
        close(pipe.write)
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(pipe.read, &buffer, buffer.count)
        #expect(result.outputText == "/tmp\n")
        #expect(count > 0 && String(decoding: buffer[..<count], as: UTF8.self) == "passed\n")
    }

    /// Whatever this process ignores or blocks, a child starts with the defaults.
    @Test func theChildStartsWithDefaultSignals() async throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        // grep reads its own status: a shell in between blocks every signal while it waits.
        let spec = ChildSpec("grep", ["-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        let child = try Child.spawn(spec)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        _ = await child.wait()
        let text = String(decoding: await child.output()?.output ?? [], as: UTF8.self)
        // Signals 1–31 only: glibc keeps 32 and 33 for itself, and posix_spawn cannot reset them.
        func standardSignals(_ field: String) -> UInt64? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
                  let mask = UInt64(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
            else { return nil }
            return mask & 0x7FFF_FFFF
        }
        #expect(standardSignals("SigBlk") == 0, "\(text)")
        #expect(standardSignals("SigIgn") == 0, "\(text)")
    }

    @Test func aChildPastItsLimitIsKilledAndHasNoStatus() async throws {
        let result = try await Child.run(ChildSpec("sleep", ["30"]), within: .milliseconds(200))
        #expect(result.status == nil)
    }

    @Test func signalsAndStopEndAChild() async throws {
        let child = try Child.spawn(ChildSpec("sleep", ["30"]))
        #expect(child.exitStatus == nil)
        #expect(await child.wait(within: .milliseconds(50)) == nil)
        #expect(await child.stop(grace: .seconds(5)) == ExitStatus(signal: SIGTERM))
        #expect(child.exitStatus?.shellStatus == 128 + SIGTERM)
        // Once reaped, a signal goes nowhere (the pid may belong to someone else by now).
        child.signal(SIGKILL)
        #expect(child.cpuSeconds != nil)
    }

    @Test func aReleasedChildIsKilled() async throws {
        var child: Child? = try Child.spawn(ChildSpec("sleep", ["30"]))
        let pid = try #require(child?.pid)
        child = nil
        var gone = false
        for _ in 0..<500 where !gone {
            // Reaped by its waiter thread: no such process any more.
            gone = kill(pid, 0) != 0
            if !gone { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(gone)
    }

    @Test func aMissingProgramIsOneSentence() throws {
        #expect {
            _ = try Child.spawn(ChildSpec("no-such-program-here"))
        } throws: { error in
            (error as? SpawnError)?.message == "cannot start no-such-program-here: no such executable on PATH"
        }
        #expect(throws: SpawnError.self) { _ = try Child.spawn(ChildSpec("/etc/passwd")) }
    }

    @Test func synchronousCallersGetTheSame() throws {
        let result = try Child.runBlocking(ChildSpec("printf", ["%s", "sync"]))
        #expect(result.status == ExitStatus(code: 0) && result.outputText == "sync")
    }
}

extension Child {
    /// `run` with bytes on standard input.
    static func run(_ spec: ChildSpec, input: [UInt8]) async throws -> Result {
        var spec = spec
        spec.input = .bytes(input)
        return try await run(spec)
    }
}

import CProcessSpawn
#if canImport(Glibc)
import Glibc
#endif

/// Why a child could not be started: one sentence naming the program and the cause.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// posix_spawn with the file actions and attributes every child of ours gets: its three
/// standard descriptors and nothing else (every other descriptor is closed in the child),
/// default signal dispositions and an empty signal mask whatever this process has set.
enum Spawner {
    /// The parent's ends of the child's standard streams (nil where nothing was piped).
    struct Launched {
        var pid: pid_t
        var input: Int32?
        var output: Int32?
        var error: Int32?
    }

    /// `processGroup`: the group to join (0: a new one led by the child); nil leaves it as it is.
    static func launch(_ spec: ChildSpec, executable path: String, processGroup: pid_t?) throws(SpawnError) -> Launched {
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        // Closes what was opened so far if anything below fails.
        var launched = false
        defer {
            childEnds.forEach { close($0) }
            if !launched { parentEnds.forEach { close($0) } }
        }
        func makePipe() throws(SpawnError) -> (read: Int32, write: Int32) {
            guard let pipe = CloseOnExecPipe() else { throw SpawnError("cannot start \(path): no pipe (\(String(cString: strerror(errno))))") }
            return (pipe.read, pipe.write)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var result = Launched(pid: 0)
        if case .newSession(let terminal) = spec.group {
            // Opened by the new session's leader without O_NOCTTY: it becomes the controlling
            // terminal, as in a terminal window (closing the window hangs the program up).
            posix_spawn_file_actions_addopen(&actions, 0, terminal, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
        } else {
            switch spec.input {
            case .null: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, 0)
            case .bytes:
                let pipe = try makePipe()
                childEnds.append(pipe.read)
                parentEnds.append(pipe.write)
                result.input = pipe.write
                posix_spawn_file_actions_adddup2(&actions, pipe.read, 0)
            }
            for (target, output) in [(Int32(1), spec.output), (Int32(2), spec.error)] {
                switch output {
                case .discard: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
                case .collect:
                    let pipe = try makePipe()
                    childEnds.append(pipe.write)
                    parentEnds.append(pipe.read)
                    if target == 1 { result.output = pipe.read } else { result.error = pipe.read }
                    posix_spawn_file_actions_adddup2(&actions, pipe.write, target)
                }
            }
        }
        for (target, source) in spec.descriptors.sorted(by: { $0.key < $1.key }) where target > 2 {
            posix_spawn_file_actions_adddup2(&actions, source, target)
        }
        try closeTheRest(&actions, keeping: Set(spec.descriptors.keys), executable: path)
        if let directory = spec.workingDirectory {
            let code = gpuctl_spawn_add_chdir(&actions, directory)
            guard code == 0 else { throw SpawnError("cannot start \(path) in \(directory): \(String(cString: strerror(code)))") }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        // A parent that ignores SIGPIPE (or SIGINT) would otherwise pass that on through exec.
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        if case .newSession = spec.group {
            flags |= Int32(gpuctl_spawn_flag_setsid())
        } else if let processGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, processGroup)
        }
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))

        let argv = ([path] + spec.arguments).map { strdup($0) } + [nil]
        let envp = spec.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard code == 0 else { throw SpawnError("cannot start \(path): \(String(cString: strerror(code)))") }
        launched = true
        result.pid = pid
        return result
    }

    /// Every descriptor above 2 is closed in the child, ours and any a library opened without
    /// O_CLOEXEC: a child must never hold the write end of a pipe someone else reads to its end.
    private static func closeTheRest(_ actions: inout posix_spawn_file_actions_t, keeping passed: Set<Int32>,
                                     executable: String) throws(SpawnError) {
        let highest = passed.max() ?? 2
        for fd in Int32(3)..<max(3, highest + 1) where !passed.contains(fd) { posix_spawn_file_actions_addclose(&actions, fd) }
        let code = gpuctl_spawn_add_closefrom(&actions, max(3, highest + 1))
        guard code == 0 else { throw SpawnError("cannot start \(executable): \(String(cString: strerror(code)))") }
    }
}

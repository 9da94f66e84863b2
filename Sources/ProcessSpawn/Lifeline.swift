import Foundation

/// A process group whose members die with this process, however it ends (a crash, SIGKILL):
/// a keeper shell leads the group and reads a pipe whose only write end this process holds
/// (close-on-exec, so no child inherits it). When this process is gone the read ends, and the
/// keeper kills its whole group. Children spawned with `ChildSpec.Group.lifeline` join it.
public enum Lifeline {
    private static let keeper = Locked<pid_t?>(nil)

    /// The group's id (the keeper's pid), starting the keeper on first use.
    static func group() throws(SpawnError) -> pid_t {
        let result: Result<pid_t, SpawnError> = keeper.withLock { keeper in
            if let keeper { return .success(keeper) }
            guard let pipe = CloseOnExecPipe() else {
                return .failure(SpawnError("cannot start the lifeline keeper: no pipe (\(String(cString: strerror(errno))))"))
            }
            var spec = ChildSpec("/bin/sh", ["-c", "read -r line; kill -9 0"])
            spec.input = .descriptor(pipe.read)
            spec.output = .discard
            spec.error = .discard
            do {
                // A group of its own, led by the keeper (setpgid(0, 0) in the child).
                let launched = try Spawner.launch(spec, executable: "/bin/sh", processGroup: 0)
                close(pipe.read)
                keeper = launched.pid
                // The write end stays open until this process ends; that is the whole point.
                return .success(launched.pid)
            } catch let error as SpawnError {
                close(pipe.read)
                close(pipe.write)
                return .failure(error)
            } catch {
                close(pipe.read)
                close(pipe.write)
                return .failure(SpawnError("cannot start the lifeline keeper: \(error)"))
            }
        }
        return try result.get()
    }
}

import Foundation
import ProcessSpawn

extension String {
    /// Writes a script that can be run at once. This process never opens the executable for
    /// writing (`sh` copies it from a side file): a child forked meanwhile by another test would
    /// inherit that descriptor, and exec of the script would fail with "Text file busy".
    public func writeExecutable(to path: String) async throws {
        try write(toFile: path + ".src", atomically: true, encoding: .utf8)
        let copy = try await ChildProcess.run(command: ["/bin/sh", "-c", "cat \"$0.src\" > \"$0\" && chmod 755 \"$0\"", path],
                                              environment: ChildSpec.currentEnvironment)
        guard copy.status == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}

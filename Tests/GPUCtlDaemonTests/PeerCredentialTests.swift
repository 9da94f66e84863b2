import Foundation
import GPUCtlModels
import GPUCtlTestDaemon
import GPUCtlTestSupport
import ProcessSpawn
import Testing

/// Another local user who can reach the socket file is still refused: the daemon checks the
/// peer's uid with SO_PEERCRED. Run as root (CI), the client really is another user (nobody,
/// through setpriv and socat); otherwise the test is cancelled with that reason.
@Suite(.timeLimit(.minutes(2))) struct PeerCredentialTests {
    @Test func aPeerWithAnotherUIDIsRefusedEvenWithTheSocketOpenToAll() async throws {
        guard getuid() == 0 else { try Test.cancel("needs root to run a client as another user") }
        guard let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let socat = ["/usr/bin/socat", "/bin/socat"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            try Test.cancel("needs setpriv and socat to connect as another user")
        }
        let daemon = try await TestDaemon.start()
        let socket = daemon.socketPath
        // Open the way to the socket for everyone: only the peer check stands in between.
        var directory = (socket as NSString).deletingLastPathComponent
        // Up to, not including, the temporary folder itself (never loosen /tmp's own mode).
        let temporary = (NSTemporaryDirectory() as NSString).standardizingPath
        while directory != "/" && !directory.isEmpty && directory != temporary && directory != "/tmp" {
            chmod(directory, 0o755)
            directory = (directory as NSString).deletingLastPathComponent
        }
        chmod(socket, 0o666)
        let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8) + [0x0A]
        // `wait`: how long socat waits for the answer after sending (a refused connection ends
        // with the daemon's half-close; a served one stays open, so the owner's wait is shorter).
        // A loaded 2-core CI machine took more than 10 s to answer now and then.
        func ping(as user: [String], wait: Int) async throws -> String {
            var spec = ChildSpec(user.isEmpty ? socat : setpriv,
                                 user + (user.isEmpty ? [] : [socat]) + ["-t", "\(wait)", "-", "UNIX-CONNECT:\(socket)"])
            spec.input = .bytes(line)
            let result = try await Child.run(spec, within: .seconds(45))
            if result.outputText.isEmpty { print("peer test: no answer as \(user): \(result.errorText)") }
            return result.outputText
        }
        let stranger = try await ping(as: ["--reuid=65534", "--regid=65534", "--clear-groups"], wait: 30)
        let reply = try JSONParser.parse(Data(stranger.split(separator: "\n").first.map { Array($0.utf8) } ?? []))
        #expect(reply["error"]?["data"]?["kind"] == "forbidden", "\(stranger)")
        #expect(reply["result"] == nil)
        // The daemon's own user is served the same way.
        let owner = try await ping(as: [], wait: 10)
        #expect(owner.contains(#""pong":true"#), "\(owner)")
        try await daemon.stop()
    }
}

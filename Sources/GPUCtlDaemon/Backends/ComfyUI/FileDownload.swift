import BackendHTTP
import Foundation
import NIOCore
import NIOHTTP1

/// Where a `/view` download goes: a 200's body straight into the output's partial file, up to
/// `limit` bytes (past it the download is stopped); any other status's body, the first 64 KiB
/// of it, kept to report. Called on `eventLoop` only.
final class FileDownload: RelayTarget, @unchecked Sendable {
    let eventLoop: any EventLoop
    let file: OutputFolder.PartialFile
    let limit: Int
    private(set) var status = 0
    private(set) var errorBody = ByteBuffer()
    private(set) var tooLarge = false
    private(set) var writeFailed: Int32?

    init(eventLoop: any EventLoop, file: OutputFolder.PartialFile, limit: Int) {
        self.eventLoop = eventLoop
        self.file = file
        self.limit = limit
    }

    struct Stopped: Error {}

    func relayHead(_ head: HTTPResponseHead) -> EventLoopFuture<Void>? {
        status = Int(head.status.code)
        return nil
    }

    func relayBody(_ buffer: ByteBuffer) -> EventLoopFuture<Void>? {
        guard status == 200 else {
            var part = buffer
            if errorBody.readableBytes < 64 << 10 { errorBody.writeBuffer(&part) }
            return nil
        }
        guard file.bytes + buffer.readableBytes <= limit else {
            tooLarge = true
            return eventLoop.makeFailedFuture(Stopped())
        }
        guard file.append(buffer) else {
            writeFailed = errno
            return eventLoop.makeFailedFuture(Stopped())
        }
        return nil
    }

    func abandon() {}
}

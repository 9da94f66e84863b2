import Foundation
import GPUCtlModels

/// An image the CLI reads for `gpuctl run --set image=FILE` and sends as bytes: the daemon
/// never reads a file its caller names (it may read what the caller may not).
enum ImageFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `{"name": basename, "data": base64}` of the regular file at `path`, at most
    /// `SubmitParams.largestImage` bytes; opened without blocking, so a FIFO is refused rather
    /// than waited on.
    static func value(path: String) throws -> JSONValue {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw Failure(description: "\(path) is not a regular file; give an image file")
        }
        let limit = SubmitParams.largestImage
        guard info.st_size <= limit else {
            throw Failure(description: "\(path) is \(ByteSize(bytes: UInt64(info.st_size))), more than the \(limit >> 20) MiB an image may be sent as; copy it into ComfyUI's input folder and give its name instead")
        }
        var data = Data(count: Int(info.st_size))
        let read = data.withUnsafeMutableBytes { raw -> Int in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.read(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                offset += n
            }
            return offset
        }
        data.count = read
        return ["name": .string((path as NSString).lastPathComponent), "data": .string(data.base64EncodedString())]
    }
}

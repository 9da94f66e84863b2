import NIOCore

/// One frame of the NDJSON stream.
public enum NDJSONFrame: Sendable {
    /// A line without its `\n` (and without a trailing `\r`).
    case line(ByteBuffer)
    /// More than `maximumLineLength` bytes arrived without a newline; the connection must close.
    case tooLong
}

/// Splits the byte stream into lines of at most `maximumLineLength` bytes. It remembers how far
/// it has searched, so a long line arriving in many reads is scanned once, not once per read.
public struct NDJSONFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = NDJSONFrame

    public let maximumLineLength: Int
    private var searched = 0
    private var overflowed = false

    public init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !overflowed else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        let start = view.startIndex + searched
        if let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - view.startIndex
            searched = 0
            guard length <= maximumLineLength else { return overflow(context: context, buffer: &buffer) }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            context.fireChannelRead(wrapInboundOut(.line(line)))
            return .continue
        }
        searched = view.count
        if searched > maximumLineLength { return overflow(context: context, buffer: &buffer) }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                                    seenEOF: Bool) throws -> DecodingState {
        // A last line without a newline is still a request (`echo -n ... | socat`).
        while try decode(context: context, buffer: &buffer) == .continue {}
        if !overflowed, buffer.readableBytes > 0, let line = buffer.readSlice(length: buffer.readableBytes) {
            searched = 0
            context.fireChannelRead(wrapInboundOut(.line(line)))
        }
        return .needMoreData
    }

    private mutating func overflow(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        overflowed = true
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        context.fireChannelRead(wrapInboundOut(.tooLong))
        return .needMoreData
    }
}

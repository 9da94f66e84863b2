import BackendHTTP
import GPUCtlRPC

/// A call's notifications are where a relayed Ollama answer goes: read on the connection's
/// loop, each chunk written as it comes, reading held back by the writes.
extension RPCStream: RelaySink {}

/// Where the daemon's socket is: the one rule the daemon and every client share.
public enum SocketPath {
    /// `--socket`, else `$GPUCTL_SOCKET`, else `$XDG_RUNTIME_DIR/gpuctl/gpuctld.sock`, else
    /// `/run/gpuctl/gpuctld.sock`. Empty values count as unset.
    public static func resolve(flag: String?, environment: [String: String]) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let path = environment["GPUCTL_SOCKET"], !path.isEmpty { return path }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            return runtime.hasSuffix("/") ? "\(runtime)gpuctl/gpuctld.sock" : "\(runtime)/gpuctl/gpuctld.sock"
        }
        return "/run/gpuctl/gpuctld.sock"
    }
}

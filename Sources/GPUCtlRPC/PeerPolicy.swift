#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a connection, from SO_PEERCRED.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Which peers may use the socket: the daemon's own user, root, and members of the allowed group.
public struct PeerPolicy: Sendable, Equatable {
    public var ownerUID: UInt32
    public var allowRoot: Bool
    /// The gid of `--allow-group`, if one was given.
    public var allowedGID: UInt32?

    public init(ownerUID: UInt32 = getuid(), allowRoot: Bool = true, allowedGID: UInt32? = nil) {
        self.ownerUID = ownerUID
        self.allowRoot = allowRoot
        self.allowedGID = allowedGID
    }

    /// Decides for one peer; `groupsOf` lists every group the peer's user belongs to.
    public func allows(_ peer: PeerCredentials, groupsOf: (UInt32, UInt32) -> [UInt32] = PeerPolicy.groups) -> Bool {
        if peer.uid == ownerUID { return true }
        if allowRoot && peer.uid == 0 { return true }
        guard let allowedGID else { return false }
        if peer.gid == allowedGID { return true }
        return groupsOf(peer.uid, peer.gid).contains(allowedGID)
    }

    /// The gid of a group name, or nil when the system has no such group.
    public static func groupID(named name: String) -> UInt32? {
        guard let entry = getgrnam(name) else { return nil }
        return entry.pointee.gr_gid
    }

    /// The primary and supplementary groups of a user, from the system's group database.
    public static func groups(uid: UInt32, primaryGID: UInt32) -> [UInt32] {
        guard let user = getpwuid(uid), let name = user.pointee.pw_name else { return [primaryGID] }
        var count: Int32 = 64
        for _ in 0..<3 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(name, primaryGID, &groups, &found) >= 0 {
                return Array(groups.prefix(Int(found)))
            }
            count = max(found, count * 2)
        }
        return [primaryGID]
    }
}

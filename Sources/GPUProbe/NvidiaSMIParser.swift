import Foundation

/// Parses the CSV that nvidia-smi prints for
/// `--query-gpu=index,uuid,name,memory.total,memory.used,memory.free --format=csv,noheader,nounits`
/// and `--query-compute-apps=gpu_uuid,pid,process_name,used_memory --format=csv,noheader,nounits`.
/// Memory columns are MiB. Pure, so it is tested on recorded outputs.
public enum NvidiaSMIParser {
    /// One row of the GPU query.
    public struct GPURow: Sendable, Equatable {
        public var index: Int
        public var uuid: String
        public var name: String
        public var totalBytes: UInt64
        public var usedBytes: UInt64
        public var freeBytes: UInt64

        public init(index: Int, uuid: String, name: String, totalBytes: UInt64, usedBytes: UInt64, freeBytes: UInt64) {
            self.index = index
            self.uuid = uuid
            self.name = name
            self.totalBytes = totalBytes
            self.usedBytes = usedBytes
            self.freeBytes = freeBytes
        }
    }

    /// One row of the compute-apps query.
    public struct AppRow: Sendable, Equatable {
        public var gpuUUID: String
        public var pid: Int32
        public var processName: String
        public var usedBytes: UInt64

        public init(gpuUUID: String, pid: Int32, processName: String, usedBytes: UInt64) {
            self.gpuUUID = gpuUUID
            self.pid = pid
            self.processName = processName
            self.usedBytes = usedBytes
        }
    }

    public static func parseGPUs(_ output: String) throws(GPUProbeError) -> [GPURow] {
        let lines = meaningfulLines(output)
        if lines.contains(where: { $0.lowercased().contains("no devices were found") }) { return [] }
        var rows: [GPURow] = []
        for line in lines {
            let fields = splitCSV(line)
            guard fields.count == 6, let index = Int(fields[0]) else {
                throw GPUProbeError("nvidia-smi printed a line gpuctld cannot read: \"\(line)\"")
            }
            rows.append(GPURow(index: index, uuid: fields[1], name: fields[2],
                               totalBytes: mebibytes(fields[3]), usedBytes: mebibytes(fields[4]),
                               freeBytes: mebibytes(fields[5])))
        }
        return rows
    }

    public static func parseApps(_ output: String) throws(GPUProbeError) -> [AppRow] {
        var rows: [AppRow] = []
        for line in meaningfulLines(output) {
            if line.lowercased().contains("no running processes") { continue }
            let fields = splitCSV(line)
            guard fields.count >= 4, let pid = Int32(fields[1]) else {
                throw GPUProbeError("nvidia-smi printed a process line gpuctld cannot read: \"\(line)\"")
            }
            // A process name may itself contain commas; the memory is always the last column.
            let name = fields[2..<(fields.count - 1)].joined(separator: ", ")
            rows.append(AppRow(gpuUUID: fields[0], pid: pid, processName: name,
                               usedBytes: mebibytes(fields[fields.count - 1])))
        }
        return rows
    }

    /// nvidia-smi's failure text ("NVIDIA-SMI has failed because ...") is not data.
    private static func meaningfulLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    private static func splitCSV(_ line: String) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// "[N/A]" and "[Not Supported]" read as 0: unknown, not an error.
    private static func mebibytes(_ field: String) -> UInt64 {
        guard let value = UInt64(field) else { return 0 }
        return value << 20
    }
}

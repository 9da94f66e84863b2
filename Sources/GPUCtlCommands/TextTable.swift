import Foundation
import GPUCtlModels

/// Rows of cells as aligned text columns (two spaces apart, the last column not padded).
enum Table {
    static func lines(_ rows: [[String]]) -> [String] {
        guard let first = rows.first else { return [] }
        let widths = (0..<first.count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }

    static func render(_ rows: [[String]]) -> String { lines(rows).joined(separator: "\n") }
}

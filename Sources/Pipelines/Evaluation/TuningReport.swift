import Control
import Foundation

/// The tuning table as Markdown (for docs/) and as a self-contained HTML page with an SVG chart of correctness and
/// naturalness against lambda, the chosen point marked.
public struct TuningReport: Sendable {
    public var title: String
    public var rows: [TuningRow]
    /// Rows of fixed lambdas on the Pareto front.
    public var front: Set<String>
    public var chosen: String?
    public var rule: SelectionRule
    public var notes: [String]

    public init(title: String, rows: [TuningRow], front: Set<String>, chosen: String?, rule: SelectionRule,
                notes: [String] = []) {
        self.title = title
        self.rows = rows
        self.front = front
        self.chosen = chosen
        self.rule = rule
        self.notes = notes
    }

    static func percent(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
    static func fixed(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

    static let columns = ["setting", "right", "accuracy", "checker correctness", "flagged", "unsupported answers",
                          "naturalness", "degenerate", "median words", "tok/s", "s/question", "flagged right / wrong"]

    func cells(_ row: TuningRow) -> [String] {
        var name = row.label
        if front.contains(row.label) { name += " (front)" }
        if row.label == chosen { name += " **chosen**" }
        var cells = [name, row.right.map { "\($0)/\(row.questions)" } ?? "-", Self.percent(row.accuracy),
                     Self.fixed(row.correctness), Self.percent(row.flaggedRate), Self.percent(row.unsupportedRate),
                     Self.fixed(row.naturalness), Self.percent(row.degenerateRate),
                     String(format: "%.1f", row.medianWords), String(format: "%.1f", row.tokensPerSecond),
                     String(format: "%.2f", row.secondsPerQuestion)]
        cells.append(row.flaggedWhenRight == nil && row.flaggedWhenWrong == nil ? "-"
                     : "\(Self.percent(row.flaggedWhenRight)) / \(Self.percent(row.flaggedWhenWrong))")
        return cells
    }

    /// A Markdown table, one row per setting, with the auto rows' choice counts below.
    public var markdown: String {
        var text = "| " + Self.columns.joined(separator: " | ") + " |\n"
        text += "|" + String(repeating: "---|", count: Self.columns.count) + "\n"
        for row in rows { text += "| " + cells(row).joined(separator: " | ") + " |\n" }
        for row in rows {
            if let choices = row.choices {
                text += "\n\(row.label) chose: " + choices.sorted { $0.key < $1.key }
                    .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
        }
        return text
    }

    /// A fixed-width table for the terminal.
    public var plainText: String {
        let all = [Self.columns] + rows.map { cells($0).map { $0.replacingOccurrences(of: "**", with: "") } }
        let widths = Self.columns.indices.map { c in all.map { $0[c].count }.max()! }
        return all.map { line in
            line.indices.map { line[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The SVG chart: x = lambda of the fixed rows, y in [0, 1]; correctness (accuracy where there is gold),
    /// naturalness and unsupported answers as lines; the correctness of auto rows and adaptive policies as dashed
    /// horizontal lines; the chosen setting circled (a fixed lambda) or drawn thicker and marked (chosen).
    public var svg: String {
        let fixedRows = rows.filter { $0.lambda != nil }.sorted { $0.lambda! < $1.lambda! }
        let (width, height, left, right, top, bottom) = (820.0, 400.0, 60.0, 260.0, 20.0, 50.0)
        let lambdas = fixedRows.map { Double($0.lambda!) }
        let lo = min(0, lambdas.min() ?? 0), hi = max(1, lambdas.max() ?? 1)
        func x(_ l: Double) -> Double { left + (l - lo) / (hi - lo) * (width - left - right) }
        func y(_ v: Double) -> Double { top + (1 - v) * (height - top - bottom) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        for tick in stride(from: 0.0, through: 1.0001, by: 0.2) {
            svg += "<line x1=\"\(x(lo))\" x2=\"\(x(hi))\" y1=\"\(y(tick))\" y2=\"\(y(tick))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(left - 8)\" y=\"\(y(tick) + 4)\" text-anchor=\"end\">\(String(format: "%.1f", tick))</text>\n"
        }
        for l in lambdas {
            svg += "<text x=\"\(x(l))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(String(format: "%g", l))</text>\n"
        }
        svg += "<text x=\"\((x(lo) + x(hi)) / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">lambda</text>\n"
        let series: [(String, String, (TuningRow) -> Double)] = [
            ("correctness" + (fixedRows.first?.accuracy != nil ? " (accuracy)" : " (checker)"), "#1f77b4",
             { $0.accuracy ?? $0.correctness }),
            ("naturalness", "#ff7f0e", { $0.naturalness }),
            ("unsupported answers", "#d62728", { $0.unsupportedRate }),
        ]
        for (n, (name, colour, value)) in series.enumerated() {
            let points = fixedRows.map { "\(x(Double($0.lambda!))),\(y(value($0)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            for row in fixedRows {
                svg += "<circle cx=\"\(x(Double(row.lambda!)))\" cy=\"\(y(value(row)))\" r=\"3\" fill=\"\(colour)\"/>"
            }
            let ly = top + 16 * Double(n)
            svg += "\n<line x1=\"\(width - right + 10)\" x2=\"\(width - right + 30)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"\(colour)\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(width - right + 35)\" y=\"\(ly + 4)\">\(Self.escape(name))</text>\n"
        }
        var legendRow = series.count
        let autoColours = ["#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
        for (n, row) in rows.filter({ $0.lambda == nil }).enumerated() {
            let v = row.accuracy ?? row.correctness
            let colour = autoColours[n % autoColours.count]
            let chosenWidth = row.label == chosen ? 3 : 1
            svg += "<line x1=\"\(x(lo))\" x2=\"\(x(hi))\" y1=\"\(y(v))\" y2=\"\(y(v))\" stroke=\"\(colour)\" stroke-width=\"\(chosenWidth)\" stroke-dasharray=\"6 4\"/>\n"
            let ly = top + 16 * Double(legendRow)
            legendRow += 1
            let name = row.choices != nil
                ? "auto " + (row.label.split(separator: " ").last.map(String.init) ?? row.label)
                : String(row.label.prefix { $0 != "(" })
            svg += "<line x1=\"\(width - right + 10)\" x2=\"\(width - right + 30)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"\(colour)\" stroke-dasharray=\"6 4\"/>"
            svg += "<text x=\"\(width - right + 35)\" y=\"\(ly + 4)\">\(Self.escape(name))\(row.label == chosen ? " (chosen)" : "")</text>\n"
        }
        if let chosen, let row = fixedRows.first(where: { $0.label == chosen }) {
            let (cx, cy) = (x(Double(row.lambda!)), y(row.accuracy ?? row.correctness))
            svg += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"9\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(cx + 12)\" y=\"\(cy - 10)\">chosen</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// The whole page.
    public var html: String {
        var page = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>\(Self.escape(title))</title>\n"
        page += "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
        page += "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        page += "tr.chosen{background:#eef6ff;font-weight:bold}</style></head><body>\n"
        page += "<h1>\(Self.escape(title))</h1>\n" + svg
        page += "<p>Rule: <code>\(Self.escape(rule.description))</code>. Chosen: <b>\(Self.escape(chosen ?? "none"))</b>.</p>\n"
        page += "<table><tr>" + Self.columns.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows {
            let cells = cells(row).map { Self.escape($0.replacingOccurrences(of: "**", with: "")) }
            page += "<tr\(row.label == chosen ? " class=\"chosen\"" : "")>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
        }
        page += "</table>\n"
        for note in notes { page += "<p>\(Self.escape(note))</p>\n" }
        return page + "</body></html>\n"
    }
}

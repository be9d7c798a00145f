import Foundation
import Topology

/// A line chart drawn as a standalone SVG file that any browser opens.
public struct LineChart: Sendable {
    /// One line of the chart.
    public struct Line: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool

        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.points = points
            self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var lines: [Line]
    /// A logarithmic x axis, for values spanning orders of magnitude.
    public var logarithmicX = false
    /// Fixed y range; nil fits the data.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, lines: [Line], logarithmicX: Bool = false, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.lines = lines
        self.logarithmicX = logarithmicX
        self.yRange = yRange
    }

    private static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// The chart as SVG text.
    public func svg(width: Double = 860, height: Double = 480) -> String {
        let left = 70.0, right = 190.0, top = 40.0, bottom = 55.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let usable = lines.map { line in line.points.filter { $0.x.isFinite && $0.y.isFinite && (!logarithmicX || $0.x > 0) } }
        let xs = usable.flatMap { $0.map(\.x) }
        let ys = usable.flatMap { $0.map(\.y) }
        func transform(_ x: Double) -> Double { logarithmicX ? log10(x) : x }
        var xLow = xs.map(transform).min() ?? 0
        var xHigh = xs.map(transform).max() ?? 1
        if xHigh <= xLow { xHigh = xLow + 1 }
        if logarithmicX {
            xLow = floor(xLow)
            xHigh = ceil(xHigh)
        }
        var yLow = yRange?.lowerBound ?? min(0, ys.min() ?? 0)
        var yHigh = yRange?.upperBound ?? (ys.max() ?? 1)
        if yHigh <= yLow {
            yHigh = yLow + 1
            yLow = min(yLow, 0)
        }
        func px(_ x: Double) -> Double { left + (transform(x) - xLow) / (xHigh - xLow) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - yLow) / (yHigh - yLow)) * plotHeight }
        func text(_ value: String) -> String {
            value.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func format(_ value: Double) -> String { String(format: "%.1f", value) }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(format(left + plotWidth / 2))" y="22" text-anchor="middle" font-size="15">\(text(title))</text>

        """
        // Grid and ticks.
        let yTicks = Self.ticks(yLow, yHigh)
        for tick in yTicks {
            out += "<line x1=\"\(format(left))\" y1=\"\(format(py(tick)))\" x2=\"\(format(left + plotWidth))\" y2=\"\(format(py(tick)))\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(format(left - 6))\" y=\"\(format(py(tick) + 4))\" text-anchor=\"end\">\(compactNumber(tick))</text>\n"
        }
        let xTicks = logarithmicX ? stride(from: xLow, through: xHigh, by: 1).map { pow(10, $0) } : Self.ticks(xLow, xHigh)
        for tick in xTicks {
            out += "<line x1=\"\(format(px(tick)))\" y1=\"\(format(top))\" x2=\"\(format(px(tick)))\" y2=\"\(format(top + plotHeight))\" stroke=\"#e4e4e4\"/>\n"
            out += "<text x=\"\(format(px(tick)))\" y=\"\(format(top + plotHeight + 16))\" text-anchor=\"middle\">\(logarithmicX ? Self.short(tick) : compactNumber(tick))</text>\n"
        }
        out += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotWidth))\" height=\"\(format(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        out += "<text x=\"\(format(left + plotWidth / 2))\" y=\"\(format(height - 12))\" text-anchor=\"middle\">\(text(xLabel))</text>\n"
        out += "<text transform=\"translate(18 \(format(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(text(yLabel))</text>\n"
        // Lines and legend.
        for (position, line) in lines.enumerated() {
            let colour = Self.colours[position % Self.colours.count]
            let points = usable[position].map { "\(format(px($0.x))),\(format(py(min(max($0.y, yLow), yHigh))))" }.joined(separator: " ")
            let dash = line.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if !points.isEmpty {
                out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(dash) points=\"\(points)\"/>\n"
            }
            let y = top + 10 + Double(position) * 20
            out += "<line x1=\"\(format(left + plotWidth + 14))\" y1=\"\(format(y))\" x2=\"\(format(left + plotWidth + 40))\" y2=\"\(format(y))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
            out += "<text x=\"\(format(left + plotWidth + 46))\" y=\"\(format(y + 4))\">\(text(line.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// A power of ten in few characters: 0.01, 1, 10k, 1M.
    static func short(_ value: Double) -> String {
        for (size, suffix) in [(1e9, "G"), (1e6, "M"), (1e3, "k")] where value >= size {
            return compactNumber(value / size) + suffix
        }
        return compactNumber(value)
    }

    /// About five round values spanning a range.
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var value = ceil(low / step) * step
        while value <= high + step * 1e-9 {
            values.append(abs(value) < step * 1e-9 ? 0 : value)
            value += step
        }
        return values
    }
}

extension Array where Element == SimulationReport {
    /// The completion-time CDF of each policy.
    public var completionChart: LineChart {
        LineChart(
            title: "Job completion time (arrival to end)", xLabel: "completion time, s (log scale)", yLabel: "share of completed jobs, %",
            lines: map { report in
                LineChart.Line(name: report.policy, points: report.completionPercentilesS.enumerated().map { (x: $0.element, y: Double($0.offset)) })
            },
            logarithmicX: true, yRange: 0...100
        )
    }

    /// GPU (solid) and CPU (dashed) allocation of each policy over time.
    public var utilisationChart: LineChart {
        let hours = (map(\.simulatedSeconds).max() ?? 0) > 7_200
        let scale = hours ? 3_600.0 : 1
        var lines: [LineChart.Line] = []
        for report in self {
            let series = report.utilisation
            if series.gpuAllocated.contains(where: { $0 > 0 }) {
                lines.append(LineChart.Line(name: "\(report.policy) GPU", points: zip(series.timeS, series.gpuAllocated).map { (x: $0 / scale, y: $1 * 100) }))
            }
            if series.cpuAllocated.contains(where: { $0 > 0 }) {
                lines.append(LineChart.Line(name: "\(report.policy) CPU", points: zip(series.timeS, series.cpuAllocated).map { (x: $0 / scale, y: $1 * 100) }, dashed: true))
            }
        }
        return LineChart(title: "Allocated share of the network's GPUs and CPU cores", xLabel: hours ? "simulated time, h" : "simulated time, s", yLabel: "allocated, %", lines: lines, yRange: 0...100)
    }
}

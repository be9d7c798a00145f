import CoreMetrics
import Prometheus

/// A swift-metrics factory over a Prometheus registry that registers every metric with the help
/// text and histogram buckets its owner describes. (swift-prometheus's own factory registers
/// metrics without help text, which `promtool check metrics` reports.)
public final class PrometheusExport: MetricsFactory, Sendable {
    /// The registry every metric lands in; `/metrics` renders it.
    public let registry = PrometheusCollectorRegistry()
    private let help: [String: String]
    private let durationBuckets: [String: [Double]]
    private static let defaultBuckets: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

    /// `help` names every metric this export may make; `durationBuckets` gives, in seconds, the
    /// bucket bounds of the ones recorded as durations.
    public init(help: [String: String], durationBuckets: [String: [Double]] = [:]) {
        self.help = help
        self.durationBuckets = durationBuckets
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? label.replacingOccurrences(of: "_", with: " "))
    }

    /// The exposition in Prometheus text format 0.0.4.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        return buffer
    }

    /// A gauge family whose label sets follow what exists: a label set not given to `update`
    /// leaves the exposition, so a link or a GPU model that is gone is not reported at its last value.
    public func gaugeFamily(_ name: String) -> GaugeFamily {
        GaugeFamily(name: name, export: self)
    }

    func gauge(_ name: String, labels: [(String, String)]) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: descriptor(name), labels: labels)
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return gauge(label, labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets[label] ?? Self.defaultBuckets)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        gauge(label, labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let buckets = (durationBuckets[label] ?? Self.defaultBuckets).map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}

/// Gauges of one name whose label sets come and go with what they describe.
public final class GaugeFamily: @unchecked Sendable {
    // @unchecked: `current` is touched only by `update`, which its owner calls from one place at a time.
    private let name: String
    private let export: PrometheusExport
    private var current: [[String]: Prometheus.Gauge] = [:]

    init(name: String, export: PrometheusExport) {
        self.name = name
        self.export = export
    }

    /// Sets every given label set's value and drops the label sets not given.
    public func update(_ values: [(labels: [(String, String)], value: Double)]) {
        var next: [[String]: Prometheus.Gauge] = [:]
        for (labels, value) in values {
            let key = labels.flatMap { [$0.0, $0.1] }
            let gauge = current[key] ?? export.gauge(name, labels: labels)
            gauge.set(value)
            next[key] = gauge
        }
        for (key, gauge) in current where next[key] == nil {
            export.registry.unregisterGauge(gauge)
        }
        current = next
    }
}

/// A counter that follows a running total kept elsewhere: each `update` adds what the total grew
/// by since the last, and a total that went down (a reset) counts from zero again.
public final class CounterFollower: @unchecked Sendable {
    // @unchecked: `last` is touched only by `update`, called from one place at a time.
    private let counter: CoreMetrics.Counter
    private var last = 0

    public init(_ label: String, dimensions: [(String, String)] = [], export: PrometheusExport) {
        counter = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: export)
    }

    public func update(_ total: Int) {
        let added = total >= last ? total - last : total
        if added > 0 { counter.increment(by: added) }
        last = total
    }
}

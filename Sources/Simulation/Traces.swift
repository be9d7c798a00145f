import Foundation

/// One job of a workload trace, in the units the simulator uses.
public struct TraceJob: Sendable, Hashable {
    public var id: String
    /// Seconds after the trace's start.
    public var arrivalS: Double
    /// Runtime on a reference pool, in seconds.
    public var runtimeS: Double
    public var cpuCores: Double
    public var memoryBytes: UInt64
    /// Whole GPUs; a job sharing part of one GPU has 1 here and the share in `gpuShare`.
    public var gpuCount: Int
    /// The part of one GPU a sharing job uses (0 < share < 1), or 1.
    public var gpuShare: Double
    /// Acceptable GPU models; empty accepts any.
    public var gpuModels: [String]
    /// Input data to move, when the trace says.
    public var dataBytes: Double?
    /// Where the job enters the network, when the trace says.
    public var ingress: String?

    public init(id: String, arrivalS: Double, runtimeS: Double, cpuCores: Double = 0, memoryBytes: UInt64 = 0, gpuCount: Int = 0, gpuShare: Double = 1, gpuModels: [String] = [], dataBytes: Double? = nil, ingress: String? = nil) {
        self.id = id
        self.arrivalS = arrivalS
        self.runtimeS = runtimeS
        self.cpuCores = cpuCores
        self.memoryBytes = memoryBytes
        self.gpuCount = gpuCount
        self.gpuShare = gpuShare
        self.gpuModels = gpuModels
        self.dataBytes = dataBytes
        self.ingress = ingress
    }
}

/// A machine of a cluster trace, as pool capacity.
public struct TraceNode: Sendable, Hashable {
    public var id: String
    public var cpuCores: Double
    public var memoryBytes: UInt64
    public var gpus: Int
    public var gpuModel: String?

    public init(id: String, cpuCores: Double, memoryBytes: UInt64, gpus: Int, gpuModel: String?) {
        self.id = id
        self.cpuCores = cpuCores
        self.memoryBytes = memoryBytes
        self.gpus = gpus
        self.gpuModel = gpuModel
    }
}

/// A trace that could not be read, with the line that stopped it.
public struct TraceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public var description: String { "line \(line): \(message)" }
}

/// What reading a trace skipped, for people.
public struct TraceReport: Sendable, Hashable {
    public var jobs: [TraceJob]
    public var skipped: Int
    public var notes: [String]
}

/// The trace formats the simulator reads.
public enum TraceFormat: String, Sendable, CaseIterable {
    /// Alibaba GPU cluster trace v2023 ("openb") pod list.
    case openb
    /// Microsoft Philly job trace CSV.
    case philly
    /// The Standard Workload Format of the Parallel Workloads Archive.
    case swf
    /// Junction's plain CSV: `id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress`,
    /// `gpu_models` separated by `|`, empty fields allowed after `runtime_s`.
    case csv

    /// Reads a whole trace of this format.
    public func read(_ text: String) throws(TraceError) -> TraceReport {
        switch self {
        case .openb: try TraceReader.openb(text)
        case .philly: try TraceReader.philly(text)
        case .swf: try TraceReader.swf(text)
        case .csv: try TraceReader.csv(text)
        }
    }
}

/// Parsers for the trace formats: text in, jobs out, sorted by arrival.
public enum TraceReader {
    /// Splits a CSV line, honouring double quotes.
    static func fields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        for character in line {
            if character == "\"" {
                quoted.toggle()
            } else if character == ",", !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func lines(_ text: String) -> [(number: Int, text: Substring)] {
        // "\r\n" is a single Character in Swift, so split on newlines of every kind.
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
            .map { ($0.offset + 1, $0.element) }
            .filter { !$0.1.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    private static func number(_ text: String, line: Int, _ what: String) throws(TraceError) -> Double {
        guard let value = Double(text), value.isFinite else {
            throw TraceError(line: line, message: "\(what) must be a number, found \"\(text)\"")
        }
        return value
    }

    /// A count (GPUs, say): a whole number from 0 to `limit`, so no trace can trap a conversion.
    private static func count(_ text: String, line: Int, _ what: String, limit: Int = 1_000_000) throws(TraceError) -> Int {
        let value = try number(text, line: line, what)
        guard value >= 0, value <= Double(limit) else {
            throw TraceError(line: line, message: "\(what) must be from 0 to \(limit), found \"\(text)\"")
        }
        return Int(value)
    }

    /// An amount of memory given in `unit`-byte units, in bytes: not negative, below 2^62 bytes.
    private static func bytes(_ text: String, unit: Double, line: Int, _ what: String) throws(TraceError) -> UInt64 {
        try bytes(try number(text, line: line, what), unit: unit, line: line, what, given: text)
    }

    private static func bytes(_ value: Double, unit: Double, line: Int, _ what: String, given: String) throws(TraceError) -> UInt64 {
        guard value >= 0, value * unit < 0x1p62 else {
            throw TraceError(line: line, message: "\(what) must be a size from 0 to 2^62 bytes, found \"\(given)\"")
        }
        return UInt64(value * unit)
    }

    /// The openb pod list: `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`.
    /// Runtime runs from scheduling (or creation, for pods never scheduled) to deletion. Some
    /// published lists keep only the first five columns: their pods all arrive at 0 and take no time.
    public static func openb(_ text: String) throws(TraceError) -> TraceReport {
        let rows = lines(text)
        guard let header = rows.first, fields(header.text).first == "name" else {
            throw TraceError(line: 1, message: "expected the openb header starting with \"name,cpu_milli\"")
        }
        let names = fields(header.text)
        func column(_ name: String) throws(TraceError) -> Int {
            guard let index = names.firstIndex(of: name) else { throw TraceError(line: 1, message: "no \(name) column") }
            return index
        }
        let (name, cpu, memory, gpus, share) = (try column("name"), try column("cpu_milli"), try column("memory_mib"), try column("num_gpu"), try column("gpu_milli"))
        let (spec, created, deleted, scheduled) = (names.firstIndex(of: "gpu_spec"), names.firstIndex(of: "creation_time"), names.firstIndex(of: "deletion_time"), names.firstIndex(of: "scheduled_time"))
        var jobs: [TraceJob] = []
        var skipped = 0
        for row in rows.dropFirst() {
            let values = fields(row.text)
            guard values.count == names.count else {
                throw TraceError(line: row.number, message: "expected \(names.count) fields, found \(values.count)")
            }
            func time(_ column: Int?, _ what: String) throws(TraceError) -> Double? {
                guard let column, !values[column].isEmpty else { return nil }
                return try number(values[column], line: row.number, what)
            }
            let arrival = try time(created, "creation_time") ?? 0
            let start = try time(scheduled, "scheduled_time") ?? arrival
            var runtime = 0.0
            if deleted != nil {
                guard let end = try time(deleted, "deletion_time") else {
                    skipped += 1
                    continue
                }
                runtime = max(0, end - start)
            }
            let gpuCount = try count(values[gpus], line: row.number, "num_gpu")
            let milli = try number(values[share], line: row.number, "gpu_milli")
            let models = spec.map { values[$0] } ?? ""
            jobs.append(TraceJob(
                id: values[name], arrivalS: arrival, runtimeS: runtime,
                cpuCores: try number(values[cpu], line: row.number, "cpu_milli") / 1_000,
                memoryBytes: try bytes(values[memory], unit: 0x1p20, line: row.number, "memory_mib"),
                gpuCount: gpuCount, gpuShare: gpuCount == 1 && milli > 0 && milli < 1_000 ? milli / 1_000 : 1,
                gpuModels: models.isEmpty ? [] : Array(Set(models.split(separator: "|").map(String.init))).sorted()
            ))
        }
        var report = finish(jobs, skipped: skipped, reason: "pods without a deletion time")
        if created == nil { report.notes.append("no times: every pod arrives at 0 and takes no time") }
        return report
    }

    /// The openb node list: `sn,cpu_milli,memory_mib,gpu,model`.
    public static func openbNodes(_ text: String) throws(TraceError) -> [TraceNode] {
        let rows = lines(text)
        guard let header = rows.first, fields(header.text).first == "sn" else {
            throw TraceError(line: 1, message: "expected the openb node header \"sn,cpu_milli,memory_mib,gpu,model\"")
        }
        var nodes: [TraceNode] = []
        for row in rows.dropFirst() {
            let values = fields(row.text)
            guard values.count >= 4 else { throw TraceError(line: row.number, message: "expected 5 fields, found \(values.count)") }
            nodes.append(TraceNode(
                id: values[0], cpuCores: try number(values[1], line: row.number, "cpu_milli") / 1_000,
                memoryBytes: try bytes(values[2], unit: 0x1p20, line: row.number, "memory_mib"),
                gpus: try count(values[3], line: row.number, "gpu"),
                gpuModel: values.count > 4 && !values[4].isEmpty ? values[4] : nil
            ))
        }
        return nodes
    }

    /// The Philly CSV: `#job id,arrival time (sec),topology,shape,size,duration (sec)`; size is GPUs.
    public static func philly(_ text: String) throws(TraceError) -> TraceReport {
        var jobs: [TraceJob] = []
        for row in lines(text) where !row.text.hasPrefix("#") {
            let values = fields(row.text)
            guard values.count >= 6 else { throw TraceError(line: row.number, message: "expected 6 fields, found \(values.count)") }
            jobs.append(TraceJob(
                id: "philly-\(values[0])", arrivalS: try number(values[1], line: row.number, "arrival time"),
                runtimeS: try number(values[5], line: row.number, "duration"),
                gpuCount: try count(values[4], line: row.number, "size")
            ))
        }
        return finish(jobs, skipped: 0, reason: "")
    }

    /// SWF: 18 whitespace-separated fields; submit time (2), run time (4), allocated processors (5),
    /// requested processors (8), requested memory in KB per processor (10). `;` starts a comment.
    public static func swf(_ text: String) throws(TraceError) -> TraceReport {
        var jobs: [TraceJob] = []
        var skipped = 0
        for row in lines(text) where !row.text.trimmingCharacters(in: .whitespaces).hasPrefix(";") {
            let values = row.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard values.count >= 18 else { throw TraceError(line: row.number, message: "expected 18 fields, found \(values.count)") }
            let runtime = try number(values[3], line: row.number, "run time")
            let requested = try number(values[7], line: row.number, "requested processors")
            let allocated = try number(values[4], line: row.number, "allocated processors")
            let processors = requested > 0 ? requested : allocated
            guard runtime >= 0, processors > 0 else {
                skipped += 1
                continue
            }
            // -1 means unknown; memory is per processor.
            let memoryKB = try number(values[9], line: row.number, "requested memory")
            let memory = memoryKB > 0 ? try bytes(memoryKB * processors, unit: 1_024, line: row.number, "requested memory times processors", given: "\(values[9]) KB × \(processors)") : 0
            jobs.append(TraceJob(
                id: "swf-\(values[0])", arrivalS: try number(values[1], line: row.number, "submit time"), runtimeS: runtime,
                cpuCores: processors, memoryBytes: memory
            ))
        }
        return finish(jobs, skipped: skipped, reason: "jobs without a run time or processors")
    }

    /// Junction's plain CSV (see `TraceFormat.csv`), with a header line.
    public static func csv(_ text: String) throws(TraceError) -> TraceReport {
        let rows = lines(text)
        guard let header = rows.first, fields(header.text).prefix(3) == ["id", "arrival_s", "runtime_s"] else {
            throw TraceError(line: 1, message: "expected the header id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress")
        }
        var jobs: [TraceJob] = []
        for row in rows.dropFirst() {
            var values = fields(row.text)
            guard values.count >= 3 else { throw TraceError(line: row.number, message: "a job needs at least id, arrival_s and runtime_s") }
            values += Array(repeating: "", count: max(0, 9 - values.count))
            func optional(_ index: Int, _ what: String) throws(TraceError) -> Double? {
                values[index].isEmpty ? nil : try number(values[index], line: row.number, what)
            }
            let runtime = try number(values[2], line: row.number, "runtime_s")
            guard runtime >= 0 else { throw TraceError(line: row.number, message: "runtime_s cannot be negative") }
            let cores = try optional(3, "cpu_cores") ?? 0
            guard cores >= 0 else { throw TraceError(line: row.number, message: "cpu_cores cannot be negative") }
            let data = try optional(7, "data_gb")
            if let data, !(0..<4e9).contains(data) {
                throw TraceError(line: row.number, message: "data_gb must be from 0 to 4,000,000,000 (4 EB), found \"\(values[7])\"")
            }
            jobs.append(TraceJob(
                id: values[0], arrivalS: try number(values[1], line: row.number, "arrival_s"), runtimeS: runtime,
                cpuCores: cores,
                memoryBytes: values[4].isEmpty ? 0 : try bytes(values[4], unit: 0x1p30, line: row.number, "memory_gib"),
                gpuCount: values[5].isEmpty ? 0 : try count(values[5], line: row.number, "gpus"),
                gpuModels: values[6].isEmpty ? [] : values[6].split(separator: "|").map(String.init),
                dataBytes: data.map { $0 * 1e9 },
                ingress: values[8].isEmpty ? nil : values[8]
            ))
        }
        return finish(jobs, skipped: 0, reason: "")
    }

    private static func finish(_ jobs: [TraceJob], skipped: Int, reason: String) -> TraceReport {
        let sorted = jobs.enumerated().sorted { ($0.element.arrivalS, $0.offset) < ($1.element.arrivalS, $1.offset) }.map(\.element)
        var notes = ["\(sorted.count) jobs"]
        if skipped > 0 { notes.append("\(skipped) \(reason) skipped") }
        return TraceReport(jobs: sorted, skipped: skipped, notes: notes)
    }
}

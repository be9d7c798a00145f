import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Wire

/// `junction usage`: what jobs that ended in a period were charged, by owner or pool.
struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "What jobs that ended in a period used and cost, summed by owner, tenant or pool.",
        discussion: """
            A job is charged when it ends on a pool: its core-seconds, GPU-seconds by model, memory \
            (GiB asked for times wall seconds) and bytes moved, and its cost at the prices its pool \
            had when the job was dispatched there. Times are ISO 8601 (2026-11-01, \
            2026-11-01T08:00:00Z) or a span before now (90m, 24h, 7d).
            """
    )

    @OptionGroup var controller: ControllerOptions

    @Option(help: ArgumentHelp("The start of the period (24h: a day ago).", valueName: "time"))
    var since = "24h"

    @Option(help: ArgumentHelp("The end of the period, not included (default: now).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Sum by owner (the submitting key's name), tenant (its tenant in the access file) or pool.", valueName: "owner|tenant|pool"))
    var by = "owner"

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Print CSV.")
    var csv = false

    func validate() throws {
        guard ["owner", "tenant", "pool"].contains(by) else { throw ValidationError("--by takes owner, tenant or pool, not \(by)") }
        guard !(json && csv) else { throw ValidationError("give --json or --csv, not both") }
        _ = try period()
    }

    /// The period asked for, in Unix milliseconds.
    func period(now: Date = Date()) throws -> (since: Int64, until: Int64) {
        let start = try Self.time(since, option: "--since", now: now)
        let end = try until.map { try Self.time($0, option: "--until", now: now) } ?? now
        guard end > start else { throw ValidationError("--until must be after --since") }
        return (Int64(start.timeIntervalSince1970 * 1_000), Int64(end.timeIntervalSince1970 * 1_000))
    }

    /// A time given as ISO 8601 or as a span before `now`.
    static func time(_ text: String, option: String, now: Date) throws -> Date {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last.flatMap({ units[$0] }), let count = Double(text.dropLast()), count.isFinite, count >= 0, count <= 36_500 * 86_400 / unit {
            return now.addingTimeInterval(-count * unit)
        }
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let day = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return day }
        throw ValidationError("\(option) takes a time as 2026-11-01, 2026-11-01T08:00:00Z or a span before now such as 24h or 7d, not \(text)")
    }

    struct RowJSON: Encodable {
        var key: String
        var jobs: UInt32
        var core_hours: Double
        var gpu_hours: [String: Double]
        var memory_gib_hours: Double
        var bytes_moved: UInt64
        var cost: Double
    }

    func run() async throws {
        let (start, end) = try period()
        var request = Junction_V1_UsageRequest()
        request.sinceMs = start
        request.untilMs = end
        request.by = by
        let client = try controller.connect()
        defer { ProcessLifetime.release(client) }
        let reply: Junction_V1_UsageReply
        do {
            reply = try await client.usage(request)
        } catch {
            throw CommandFailure("\(error)")
        }
        let rows = reply.rows.map {
            RowJSON(
                key: $0.key, jobs: $0.jobs, core_hours: $0.charge.coreSeconds / 3_600,
                gpu_hours: $0.charge.gpuSeconds.mapValues { $0 / 3_600 }, memory_gib_hours: $0.charge.memoryGibSeconds / 3_600,
                bytes_moved: $0.charge.bytesMoved, cost: $0.charge.cost
            )
        }
        if reply.truncated { printError("more than \(rows.count) \(by)s: the first \(rows.count) in order are shown") }
        if json {
            print(try jsonText(rows))
        } else if csv {
            print("\(by),jobs,core_hours,gpu_hours,memory_gib_hours,bytes_moved,cost")
            for row in rows {
                let gpus = row.gpu_hours.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";")
                print([csvField(row.key), "\(row.jobs)", "\(row.core_hours)", csvField(gpus), "\(row.memory_gib_hours)", "\(row.bytes_moved)", "\(row.cost)"].joined(separator: ","))
            }
        } else {
            print(table(header: [by, "jobs", "core-hours", "GPU-hours", "memory GiB-hours", "moved", "cost"], rows: rows.map { row in
                let gpus = row.gpu_hours.sorted { $0.key < $1.key }.map { "\(decimal($0.value)) \($0.key.isEmpty ? "GPU" : $0.key)" }.joined(separator: ", ")
                return [row.key.isEmpty ? (by == "tenant" ? "(no tenant)" : "(no key)") : row.key, "\(row.jobs)", decimal(row.core_hours), gpus.isEmpty ? "-" : gpus, decimal(row.memory_gib_hours), bytesText(row.bytes_moved), decimal(row.cost)]
            }))
            print("\(reply.jobs) job\(reply.jobs == 1 ? "" : "s") ended in the period")
        }
    }
}

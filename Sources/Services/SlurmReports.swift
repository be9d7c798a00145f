import Foundation
import PoolAgentCore
import Topology
import Wire

/// What Slurm's `sinfo --json` and `squeue --json` say, read into what a pool agent needs. The
/// fields are those of Slurm 22.05 (OpenAPI v0.0.38); numbers and states written as later
/// versions write them (`{"number": …}`, a list of states) are read too.
enum SlurmReports {
    /// A Slurm job as `squeue --json` shows it.
    struct Job: Sendable, Hashable {
        var id: Int
        var name: String
        /// The base state: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, …
        var state: String
        var reason: String
        var partition: String
        /// The raw wait status: exit code times 256, or the signal number.
        var exitStatus: Int32
        var submitTime: Int64
        var startTime: Int64
        var endTime: Int64
        var cpus: Int

        /// Whether it holds or waits for resources still.
        var isActive: Bool { Self.activeStates.contains(state) }
        var isRunning: Bool { ["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED"].contains(state) }

        static let activeStates: Set<String> = [
            "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "REQUEUED",
            "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD",
        ]
    }

    /// The exit code of an ended job, or minus the signal that killed it.
    static func exitCode(_ job: Job) -> Int32 {
        let signal = job.exitStatus & 0x7F
        if signal != 0 { return -signal }
        if job.exitStatus != 0 { return (job.exitStatus >> 8) & 0xFF }
        // Ended without a status of its own: cancelled before it ran, or killed for its time.
        switch job.state {
        case "COMPLETED": return 0
        case "CANCELLED", "PREEMPTED": return -Int32(SIGTERM)
        case "TIMEOUT", "DEADLINE", "OUT_OF_MEMORY": return -Int32(SIGKILL)
        default: return 1
        }
    }

    /// The pool a partition of the cluster makes (every partition when `partition` is nil):
    /// nodes that are down, drained, failing or not yet configured are left out.
    static func observation(sinfo: Data, squeue: [Job], partition: String?, now: Int64) throws -> PoolObservation {
        let root = try object(sinfo, "sinfo --json")
        guard let nodes = root["nodes"] as? [[String: Any]] else { throw SlurmError("sinfo --json has no list of nodes") }
        var total = Resources()
        var free = Resources()
        var sizes: [Resources] = []
        for node in nodes {
            let partitions = node["partitions"] as? [String] ?? []
            if let partition, !partitions.contains(partition) { continue }
            guard takesJobs(states(node["state"]) + states(node["state_flags"])) else { continue }
            let cpus = number(node["cpus"])
            let memoryMiB = number(node["real_memory"])
            let gpus = gres(node["gres"] as? String ?? "")
            let size = Resources(cpuCores: cpus, memoryBytes: UInt64(max(0, memoryMiB)) << 20, gpus: gpus)
            sizes.append(size)
            let idleCPUs = node["idle_cpus"].map(number) ?? max(0, cpus - number(node["alloc_cpus"]))
            let freeMiB = max(0, memoryMiB - number(node["alloc_memory"]))
            let used = gres(node["gres_used"] as? String ?? "")
            total.cpuCores += cpus
            total.memoryBytes += size.memoryBytes
            free.cpuCores += max(0, idleCPUs)
            free.memoryBytes += UInt64(freeMiB) << 20
            for (model, count) in gpus {
                total.gpus[model, default: 0] += count
                free.gpus[model, default: 0] += max(0, count - (used[model] ?? 0))
            }
        }
        // How long the job that has waited longest for room in this partition has waited.
        let waiting = squeue.filter { job in
            job.state == "PENDING" && ["Resources", "Priority"].contains(job.reason)
                && (partition.map { job.partition.split(separator: ",").contains(Substring($0)) } ?? true)
        }
        let oldest = waiting.map(\.submitTime).filter { $0 > 0 }.min()
        let queueWaitS = oldest.map { Double(max(0, now - $0)) } ?? 0
        return PoolObservation(total: total, free: free, nodes: sizes, queueWaitS: queueWaitS)
    }

    /// Every job in `squeue --json`, by Slurm job id.
    static func jobs(squeue: Data) throws -> [Int: Job] {
        let root = try object(squeue, "squeue --json")
        guard let list = root["jobs"] as? [[String: Any]] else { throw SlurmError("squeue --json has no list of jobs") }
        var jobs: [Int: Job] = [:]
        for entry in list {
            let id = Int(number(entry["job_id"]))
            guard id > 0 else { continue }
            var exitStatus = Int32(clamping: Int(number(entry["exit_code"])))
            if let detail = entry["exit_code"] as? [String: Any], detail["return_code"] != nil || detail["signal"] != nil {
                // Later versions split the status: {"return_code": N, "signal": {"id": S}}.
                let signal = Int32(clamping: Int(number((detail["signal"] as? [String: Any])?["id"] ?? detail["signal"])))
                exitStatus = signal != 0 ? signal : Int32(clamping: Int(number(detail["return_code"]))) << 8
            }
            jobs[id] = Job(
                id: id, name: entry["name"] as? String ?? "", state: states(entry["job_state"]).first ?? "UNKNOWN",
                reason: entry["state_reason"] as? String ?? "", partition: entry["partition"] as? String ?? "",
                exitStatus: exitStatus, submitTime: Int64(number(entry["submit_time"])),
                startTime: Int64(number(entry["start_time"])), endTime: Int64(number(entry["end_time"])),
                cpus: Int(number(entry["cpus"]))
            )
        }
        return jobs
    }

    /// A job's state and exit code from `scontrol show job ID` (for a job squeue no longer lists):
    /// nil when Slurm no longer knows the job.
    static func scontrolJob(_ text: String, id: Int) -> Job? {
        var fields: [String: String] = [:]
        for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, fields[String(parts[0])] == nil { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let state = fields["JobState"] else { return nil }
        // ExitCode=CODE:SIGNAL
        let exit = (fields["ExitCode"] ?? "0:0").split(separator: ":").compactMap { Int32($0) }
        let status = exit.count == 2 ? (exit[1] != 0 ? exit[1] : exit[0] << 8) : 0
        return Job(
            id: id, name: fields["JobName"] ?? "", state: state, reason: fields["Reason"] ?? "", partition: fields["Partition"] ?? "",
            exitStatus: status, submitTime: 0, startTime: 0, endTime: 0, cpus: Int(fields["NumCPUs"] ?? "") ?? 0
        )
    }

    /// GPUs by type in a GRES string such as `gpu:a100:4(S:0-1),gpu:v100:2` or
    /// `gpu:tesla:1(IDX:0)`; a GPU without a type counts as model `gpu`.
    static func gres(_ text: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        var depth = 0
        var entries: [String] = []
        var current = ""
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth = max(0, depth - 1) }
            if character == ",", depth == 0 {
                entries.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        entries.append(current)
        for entry in entries {
            let plain = entry.split(separator: "(", maxSplits: 1).first.map(String.init) ?? ""
            let parts = plain.split(separator: ":").map(String.init)
            guard parts.first == "gpu", parts.count >= 2 else { continue }
            // gpu:COUNT or gpu:TYPE:COUNT
            if parts.count == 2, let count = Int(parts[1]) {
                counts["gpu", default: 0] += count
            } else if parts.count >= 3, let count = Int(parts[2]) {
                counts[parts[1], default: 0] += count
            }
        }
        return counts.filter { $0.value > 0 }
    }

    private static func takesJobs(_ states: [String]) -> Bool {
        let refused: Set<String> = [
            "DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "FUTURE", "UNKNOWN", "INVAL",
            "INVALID", "MAINT", "MAINTENANCE", "NOT_RESPONDING", "NO_RESPOND", "POWERED_DOWN",
            "POWER_DOWN", "POWERING_DOWN", "REBOOT_REQUESTED", "REBOOT_ISSUED", "RESERVED",
        ]
        return !states.contains { refused.contains($0.uppercased().trimmingCharacters(in: CharacterSet(charactersIn: "*~#!%$@^-+"))) }
    }

    /// A state as one word or a list of them.
    private static func states(_ value: Any?) -> [String] {
        if let word = value as? String { return word.split(separator: "+").map { String($0).uppercased() } }
        return (value as? [Any] ?? []).compactMap { ($0 as? String)?.uppercased() }
    }

    /// A number as Slurm writes it: plain, or `{"set": true, "number": N}`; held to ±10^12 so
    /// no count or size read from it can overflow.
    static func number(_ value: Any?) -> Double {
        if let value = value as? NSNumber { return value.doubleValue.isFinite ? min(max(value.doubleValue, -1e12), 1e12) : 0 }
        if let wrapped = value as? [String: Any] {
            if wrapped["set"] as? Bool == false || wrapped["infinite"] as? Bool == true { return 0 }
            return number(wrapped["number"])
        }
        return 0
    }

    private static func object(_ data: Data, _ source: String) throws -> [String: Any] {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SlurmError("\(source) printed no JSON object (\(data.count) bytes)")
        }
        if let errors = root["errors"] as? [[String: Any]], let first = errors.first {
            let words = ["description", "error", "source"].compactMap { first[$0] as? String }.filter { !$0.isEmpty }
            throw SlurmError("\(source) reports an error: \(words.isEmpty ? "\(first)" : words.joined(separator: "; "))")
        }
        return root
    }
}

/// Slurm did not answer as expected.
struct SlurmError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

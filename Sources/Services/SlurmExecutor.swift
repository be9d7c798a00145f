import Foundation
import PoolAgentCore
import Synchronization
import Wire

/// Which part of a Slurm cluster a pool agent offers, and how it talks to Slurm.
public struct SlurmSettings: Sendable, Hashable {
    /// The partition jobs go to and whose nodes make the pool; nil: the cluster's default
    /// partition for jobs, every node for capacity.
    public var partition: String?
    public var account: String?
    /// How often squeue and sinfo are read.
    public var pollIntervalS: Double
    /// How long one Slurm command may take before it is killed and the call counts as failed.
    public var commandTimeoutS: Double

    public init(partition: String? = nil, account: String? = nil, pollIntervalS: Double = 2, commandTimeoutS: Double = 30) {
        self.partition = partition
        self.account = account
        self.pollIntervalS = pollIntervalS
        self.commandTimeoutS = commandTimeoutS
    }
}

/// Runs jobs as Slurm batch jobs: `sbatch --parsable` with the job's cores, memory and GPUs
/// (GRES), its environment and a folder of its own for stdout and stderr; states from
/// `squeue --json` (and `scontrol show job` for one squeue no longer lists); `scancel` to stop,
/// confirmed by the state Slurm reports afterwards. The pool's capacity and queue wait come
/// from `sinfo --json` and the jobs waiting in the partition.
///
/// Each job's Slurm id is written down under the work directory before and after `sbatch`, so an
/// agent that starts again on that directory follows the jobs its predecessor left in Slurm
/// instead of losing them or submitting them twice. One thread of its own runs every Slurm
/// command; nothing here blocks the agent's loop.
final class SlurmExecutor: JobExecutor {
    /// A Junction job in Slurm, as written down in `.slurm/JOB.json`.
    struct Record: Codable, Sendable {
        var jobID: String
        /// Nil until `sbatch` answered.
        var slurmID: Int?
        /// The job's JobSpec, in protobuf's binary form.
        var spec: Data
        var attempt: UInt32
        var dispatchSequence: UInt64
        var started: Bool
    }

    private enum Command: Sendable {
        case submit(Record, script: URL)
        case cancel(jobID: String, graceS: Double)
        case finish(@Sendable () -> Void)
    }

    /// What only the Slurm thread touches after `init`.
    private struct Followed: Sendable {
        var record: Record
        /// When the job was signalled to stop, and when to cancel it outright.
        var cancelAt: Double?
        var cancelledAt: Double?
    }

    let settings: SlurmSettings
    private let directory: URL
    private let events: @Sendable (ExecutorEvent) -> Void
    private let commands = Mutex<[Command]>([])
    private let wake = DispatchSemaphore(value: 0)
    /// Jobs an earlier agent left in Slurm, followed again.
    let adopted: [AdoptedJob]
    /// The cluster as it was when the agent started.
    let firstObservation: PoolObservation
    /// Notes for the log about what was found at start.
    let startNotes: [String]

    /// Reads the cluster and the jobs written down under `directory`; throws when Slurm does
    /// not answer, naming the command and what it said.
    init(directory: URL, settings: SlurmSettings, events: @escaping @Sendable (ExecutorEvent) -> Void) throws {
        self.directory = directory
        self.settings = settings
        self.events = events
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".slurm"), withIntermediateDirectories: true)
        let jobs: [Int: SlurmReports.Job]
        do {
            jobs = try Self.readQueue(settings)
            firstObservation = try Self.observe(settings, jobs: jobs)
        } catch {
            let configuration = ProcessInfo.processInfo.environment["SLURM_CONF"].map { " (SLURM_CONF=\($0))" } ?? ""
            throw SlurmError("cannot read the Slurm cluster\(configuration): \(error)")
        }
        var followed: [String: Followed] = [:]
        var notes: [String] = []
        var adopted: [AdoptedJob] = []
        for var record in Self.readRecords(in: directory.appendingPathComponent(".slurm")) {
            if record.slurmID == nil {
                // The agent stopped around sbatch: the job is in Slurm only if it has its name there.
                record.slurmID = jobs.values.first { $0.name == Self.slurmName(record.jobID) && $0.isActive }?.id
            }
            guard let slurmID = record.slurmID, let spec = try? Junction_V1_JobSpec(serializedBytes: record.spec) else {
                notes.append("\(record.jobID) was never submitted to Slurm; forgotten")
                try? FileManager.default.removeItem(at: Self.recordFile(directory, record.jobID))
                continue
            }
            followed[record.jobID] = Followed(record: record)
            adopted.append(AdoptedJob(jobID: record.jobID, spec: spec, dispatchSequence: record.dispatchSequence, attempt: record.attempt, started: record.started, output: ""))
            notes.append("\(record.jobID) is Slurm job \(slurmID); following it again")
        }
        self.adopted = adopted.sorted { $0.jobID < $1.jobID }
        startNotes = notes
        let initial = followed
        let thread = Thread { [self] in serve(initial) }
        thread.name = "slurm"
        thread.start()
    }

    func workingDirectory(of jobID: String) -> URL {
        jobFolder(directory, jobID)
    }

    /// Writes the job's batch script and hands it to the Slurm thread for `sbatch`.
    func start(jobID: String, spec: Junction_V1_JobSpec, gpus: GPUAssignment, poolHasGPUs: Bool, dispatch: DispatchNumbers) throws -> JobStart {
        let folder = workingDirectory(of: jobID)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let script = folder.appendingPathComponent("job.sh")
        try Self.batchScript(jobID: jobID, spec: spec).write(to: script, atomically: true, encoding: .utf8)
        let record = Record(jobID: jobID, slurmID: nil, spec: try spec.serializedBytes(), attempt: dispatch.attempt, dispatchSequence: dispatch.sequence, started: false)
        send(.submit(record, script: script))
        return .submitted
    }

    func stop(jobID: String, graceS: Double) {
        send(.cancel(jobID: jobID, graceS: graceS))
    }

    /// Submissions already handed over are made; the jobs run on in Slurm.
    func shutdown(graceS: Double) -> Bool {
        let done = DispatchSemaphore(value: 0)
        send(.finish { done.signal() })
        _ = done.wait(timeout: .now() + settings.commandTimeoutS + 5)
        return false
    }

    private func send(_ command: Command) {
        commands.withLock { $0.append(command) }
        wake.signal()
    }

    // MARK: The Slurm thread

    private func serve(_ initial: [String: Followed]) {
        var followed = initial
        var nextPoll = 0.0
        while true {
            _ = wake.wait(timeout: .now() + max(0.05, nextPoll - uptime()))
            for command in commands.withLock({ list in defer { list.removeAll() }; return list }) {
                switch command {
                case .submit(let record, let script):
                    submit(record, script: script, into: &followed)
                case .cancel(let jobID, let graceS):
                    cancel(jobID, graceS: graceS, in: &followed)
                case .finish(let done):
                    done()
                    return
                }
            }
            if uptime() >= nextPoll {
                poll(&followed)
                nextPoll = uptime() + settings.pollIntervalS
            }
        }
    }

    private func submit(_ record: Record, script: URL, into followed: inout [String: Followed]) {
        var record = record
        // Written before sbatch: an agent that dies during it finds the job by its name.
        save(record)
        guard let spec = try? Junction_V1_JobSpec(serializedBytes: record.spec) else { return }
        let arguments = Self.sbatchArguments(jobID: record.jobID, spec: spec, folder: workingDirectory(of: record.jobID), script: script, settings: settings)
        do {
            let result = try runCommand(arguments, timeoutS: settings.commandTimeoutS)
            let answer = String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            // --parsable prints ID or ID;CLUSTER.
            guard result.status == 0, let id = answer.split(separator: ";").first.flatMap({ Int($0) }), id > 0 else {
                throw SlurmError("sbatch refused it: \(result.complaint)")
            }
            record.slurmID = id
            save(record)
            followed[record.jobID] = Followed(record: record)
        } catch {
            try? FileManager.default.removeItem(at: Self.recordFile(directory, record.jobID))
            events(.startFailed(jobID: record.jobID, reason: "\(error)"))
        }
    }

    private func cancel(_ jobID: String, graceS: Double, in followed: inout [String: Followed]) {
        guard var job = followed[jobID], let slurmID = job.record.slurmID else { return }
        if job.record.started, graceS > 0 {
            // SIGTERM to the batch shell and its steps; scancel outright once the grace is over.
            _ = try? runCommand(["scancel", "--signal=TERM", "--full", "\(slurmID)"], timeoutS: settings.commandTimeoutS)
            job.cancelAt = uptime() + graceS
        } else {
            _ = try? runCommand(["scancel", "\(slurmID)"], timeoutS: settings.commandTimeoutS)
            job.cancelledAt = uptime()
        }
        followed[jobID] = job
    }

    /// Reads squeue and sinfo: jobs that started or ended are reported, then the cluster.
    private func poll(_ followed: inout [String: Followed]) {
        let jobs: [Int: SlurmReports.Job]
        do {
            jobs = try Self.readQueue(settings)
        } catch {
            // Slurm is busy or away: the jobs are where they were; ask again next time.
            return
        }
        let now = uptime()
        for (jobID, var job) in followed.sorted(by: { $0.key < $1.key }) {
            guard let slurmID = job.record.slurmID else { continue }
            var state = jobs[slurmID]
            if state == nil, let shown = try? runCommand(["scontrol", "show", "job", "\(slurmID)"], timeoutS: settings.commandTimeoutS) {
                state = shown.status == 0 ? SlurmReports.scontrolJob(String(decoding: shown.stdout, as: UTF8.self), id: slurmID) : nil
                if state == nil, shown.complaint.contains("Invalid job id") {
                    // Slurm forgot it (it ended longer ago than MinJobAge): its outcome is lost.
                    state = SlurmReports.Job(id: slurmID, name: "", state: "UNKNOWN_ENDED", reason: "", partition: "", exitStatus: 0, submitTime: 0, startTime: 0, endTime: 0, cpus: 0)
                }
            }
            guard let state else { continue }
            if state.isActive {
                if state.isRunning, !job.record.started {
                    job.record.started = true
                    save(job.record)
                    events(.started(jobID: jobID))
                }
                if let cancelAt = job.cancelAt, now >= cancelAt {
                    _ = try? runCommand(["scancel", "\(slurmID)"], timeoutS: settings.commandTimeoutS)
                    job.cancelAt = nil
                    job.cancelledAt = now
                } else if let cancelledAt = job.cancelledAt, now - cancelledAt > 30 {
                    // scancel's exit code says little: the state says it is still there; again.
                    _ = try? runCommand(["scancel", "--signal=KILL", "\(slurmID)"], timeoutS: settings.commandTimeoutS)
                    job.cancelledAt = now
                }
                followed[jobID] = job
                continue
            }
            followed[jobID] = nil
            try? FileManager.default.removeItem(at: Self.recordFile(directory, jobID))
            var usage = Junction_V1_Usage()
            if state.startTime > 0, state.endTime >= state.startTime {
                let spec = try? Junction_V1_JobSpec(serializedBytes: job.record.spec)
                let wall = Double(state.endTime - state.startTime)
                usage.wallSeconds = wall
                usage.coreSeconds = wall * Double(max(state.cpus, 1))
                usage.gpuSeconds = wall * Double(spec?.resources.gpus.values.reduce(0, +) ?? 0)
            }
            events(.exited(JobExit(jobID: jobID, exitCode: SlurmReports.exitCode(state), usage: usage)))
        }
        if let observation = try? Self.observe(settings, jobs: jobs) {
            events(.observed(observation))
        }
    }

    // MARK: Slurm commands

    private static func readQueue(_ settings: SlurmSettings) throws -> [Int: SlurmReports.Job] {
        let result = try runCommand(["squeue", "--json"], timeoutS: settings.commandTimeoutS)
        guard result.status == 0 else { throw SlurmError("squeue --json failed: \(result.complaint)") }
        return try SlurmReports.jobs(squeue: result.stdout)
    }

    private static func observe(_ settings: SlurmSettings, jobs: [Int: SlurmReports.Job]) throws -> PoolObservation {
        let result = try runCommand(["sinfo", "--json"], timeoutS: settings.commandTimeoutS)
        guard result.status == 0 else { throw SlurmError("sinfo --json failed: \(result.complaint)") }
        let observation = try SlurmReports.observation(sinfo: result.stdout, squeue: Array(jobs.values), partition: settings.partition, now: Int64(Date().timeIntervalSince1970))
        if observation.nodes.isEmpty {
            throw SlurmError("no node of \(settings.partition.map { "partition \($0)" } ?? "the cluster") takes jobs (sinfo lists none up and undrained)")
        }
        return observation
    }

    /// Slurm's name for a Junction job.
    static func slurmName(_ jobID: String) -> String { "junction-\(jobID)" }

    /// sbatch's arguments for a job: one task on one node, with its cores, memory and GPUs.
    static func sbatchArguments(jobID: String, spec: Junction_V1_JobSpec, folder: URL, script: URL, settings: SlurmSettings) -> [String] {
        var arguments = [
            "sbatch", "--parsable", "--job-name=\(slurmName(jobID))", "--chdir=\(folder.path)",
            "--output=\(folder.appendingPathComponent("stdout").path)", "--error=\(folder.appendingPathComponent("stderr").path)",
            "--nodes=1", "--ntasks=1", "--cpus-per-task=\(max(1, Int(spec.resources.cpuCores.rounded(.up))))",
            // Junction decides whether a job runs again, and where: Slurm does not requeue it.
            "--no-requeue", "--export=ALL",
        ]
        if spec.resources.memoryBytes > 0 {
            arguments.append("--mem=\((spec.resources.memoryBytes + (1 << 20) - 1) >> 20)M")
        }
        let gpus = spec.resources.gpus.filter { $0.value > 0 }.sorted { $0.key < $1.key }
            .map { $0.key == "gpu" ? "gpu:\($0.value)" : "gpu:\($0.key):\($0.value)" }
        if !gpus.isEmpty { arguments.append("--gres=\(gpus.joined(separator: ","))") }
        if let partition = settings.partition { arguments.append("--partition=\(partition)") }
        if let account = settings.account { arguments.append("--account=\(account)") }
        arguments.append(script.path)
        return arguments
    }

    /// The batch script: the job's environment, then its command in place of the shell.
    static func batchScript(jobID: String, spec: Junction_V1_JobSpec) -> String {
        var lines = ["#!/bin/sh", "# Junction job \(jobID)"]
        var environment = spec.environment
        environment["JUNCTION_JOB_ID"] = jobID
        let models = spec.resources.gpus.filter { $0.value > 0 }.keys.sorted()
        if !models.isEmpty { environment["JUNCTION_GPU_MODEL"] = models.joined(separator: ",") }
        for (key, value) in environment.sorted(by: { $0.key < $1.key }) where isShellName(key) {
            lines.append("export \(key)=\(shellQuoted(value))")
        }
        lines.append("exec " + ([spec.command] + spec.arguments).map(shellQuoted).joined(separator: " "))
        return lines.joined(separator: "\n") + "\n"
    }

    private static func readRecords(in folder: URL) -> [Record] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { name in
            FileManager.default.contents(atPath: folder.appendingPathComponent(name).path).flatMap { try? JSONDecoder().decode(Record.self, from: $0) }
        }
    }

    private static func recordFile(_ directory: URL, _ jobID: String) -> URL {
        directory.appendingPathComponent(".slurm").appendingPathComponent(jobID.replacingOccurrences(of: "/", with: "_") + ".json")
    }

    private func save(_ record: Record) {
        guard let data = try? JSONEncoder().encode(record) else { return }
        try? data.write(to: Self.recordFile(directory, record.jobID), options: .atomic)
    }
}

/// Seconds on a monotonic clock.
private func uptime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Whether `name` can be a shell variable's.
private func isShellName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
    return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
}

/// `text` in single quotes, for sh.
private func shellQuoted(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

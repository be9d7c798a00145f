import Foundation
import PoolAgentCore
import Wire
import Wording

/// Where a pool agent's jobs run: local processes, or a batch system such as Slurm.
protocol JobExecutor: AnyObject, Sendable {
    /// Starts a job, or hands it to a batch system whose start the executor reports later.
    func start(jobID: String, spec: Junction_V1_JobSpec, gpus: GPUAssignment, poolHasGPUs: Bool, dispatch: DispatchNumbers) throws -> JobStart
    /// SIGTERM to the job now, SIGKILL after `graceS` if it is still there.
    func stop(jobID: String, graceS: Double)
    /// When the agent stops: whether its jobs were stopped (false: they run on without it, in a
    /// batch system, and the agent that follows takes them up again).
    func shutdown(graceS: Double) -> Bool
    /// The folder a job runs in, with its stdout and stderr.
    func workingDirectory(of jobID: String) -> URL
}

/// Which dispatch of a job this is, as the controller numbered it: what a later agent names
/// when it takes up a job its predecessor left in a batch system.
struct DispatchNumbers: Sendable {
    var attempt: UInt32
    var sequence: UInt64
}

/// Whether a job runs now or waits to be started by a batch system.
enum JobStart: Sendable {
    case running
    case submitted
}

/// What an executor tells the agent after the fact, from a thread of its own.
enum ExecutorEvent: Sendable {
    case started(jobID: String)
    case startFailed(jobID: String, reason: String)
    case exited(JobExit)
    case observed(PoolObservation)
}

/// How a job ended.
public struct JobExit: Sendable {
    public var jobID: String
    /// The exit code, or minus the signal number that killed it.
    public var exitCode: Int32
    public var usage: Junction_V1_Usage
}

extension JobExecutor {
    /// The last line a job wrote to its stderr, at most 200 characters of it and printable; empty
    /// when none.
    func stderrTail(of jobID: String) -> String {
        let path = workingDirectory(of: jobID).appendingPathComponent("stderr").path
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        // The end of the file is enough: a job may write gigabytes to stderr.
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4_096 ? size - 4_096 : 0)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        // The last line with words in it: a line that only resets the terminal's colours is none.
        let lines = text.split(whereSeparator: \.isNewline).reversed().lazy.map { printableText(String($0)).trimmingCharacters(in: .whitespaces) }
        let line = lines.first { !$0.isEmpty } ?? ""
        return line.count > 200 ? "…" + line.suffix(199) : line
    }
}

/// The folder of a job under an executor's directory.
func jobFolder(_ directory: URL, _ jobID: String) -> URL {
    directory.appendingPathComponent(jobID.replacingOccurrences(of: "/", with: "_"))
}

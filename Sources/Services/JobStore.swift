import Synchronization
import Wire

/// Where the controller keeps job state so that it outlives the process. The controller
/// persists every transition before relying on it.
public protocol JobStore: Sendable {
    func save(_ job: Junction_V1_JobInfo) throws
    func load() throws -> [Junction_V1_JobInfo]
}

/// Keeps jobs in memory: state is lost with the process.
public final class InMemoryJobStore: JobStore {
    private let jobs = Mutex<[String: Junction_V1_JobInfo]>([:])

    public init() {}

    public func save(_ job: Junction_V1_JobInfo) {
        jobs.withLock { $0[job.jobID] = job }
    }

    public func load() -> [Junction_V1_JobInfo] {
        jobs.withLock { Array($0.values) }.sorted { $0.submittedMs < $1.submittedMs }
    }
}

import ControllerCore
import Synchronization

/// Keeps everything in memory: lost with the process. For benchmarks that compare against the
/// durable store.
public final class InMemoryStore: ControllerStore {
    private struct Contents {
        var jobs: [UInt64: StoredJob] = [:]
        var numberOfID: [String: UInt64] = [:]
        var counters = DurableCounters(epoch: 0)
    }

    private let contents = Mutex(Contents())

    public init() {}

    public func recover(nowMs: Int64, idempotencyWindowS: Double) throws -> RecoveredState {
        contents.withLock { contents in
            contents.counters.epoch += 1
            // As the other stores: never behind the jobs themselves.
            if let highest = contents.jobs.keys.max() { contents.counters.nextJobNumber = max(contents.counters.nextJobNumber, highest + 1) }
            let since = nowMs - Int64(idempotencyWindowS * 1_000)
            var keys: [String: String] = [:]
            for job in contents.jobs.values where !job.idempotencyKey.isEmpty && job.job.submittedMs >= since {
                keys[job.idempotencyKey] = job.job.id
            }
            let active = contents.jobs.values.filter { !$0.isFinished }.sorted { $0.number < $1.number }
            return RecoveredState(counters: contents.counters, jobs: active, idempotencyKeys: keys)
        }
    }

    public func commit(jobs: [StoredJob], counters: DurableCounters?) throws {
        contents.withLock { contents in
            for job in jobs {
                contents.jobs[job.number] = job
                contents.numberOfID[job.job.id] = job.number
            }
            guard let counters else { return }
            contents.counters.nextJobNumber = counters.nextJobNumber
            contents.counters.eventSequence = counters.eventSequence
            contents.counters.epoch = counters.epoch
            for (pool, sequence) in counters.dispatchSequences {
                contents.counters.dispatchSequences[pool] = max(sequence, contents.counters.dispatchSequences[pool] ?? 0)
            }
        }
    }

    public func answer(_ query: StoreQuery) throws -> StoreAnswer {
        contents.withLock { contents in
            func lookUp(_ ids: [String], owner: String?) -> StoreAnswer {
                var infos: [JobView] = []
                for id in ids {
                    guard let number = contents.numberOfID[id], let job = contents.jobs[number] else { return .missing(id) }
                    if let owner, job.job.spec.owner != owner { return .foreign(id) }
                    infos.append(job.job)
                }
                return .jobs(infos, nextCursor: "")
            }
            switch query {
            case .jobs(let ids, let owner):
                return lookUp(ids, owner: owner)
            case .cancelFinished(let id, let owner):
                return lookUp([id], owner: owner)
            case .usage(let query, let owner):
                let ended = contents.jobs.values.lazy.map(\.job).filter { job in
                    job.state.isFinished && (query.sinceMs..<query.untilMs).contains(job.updatedMs) && (owner == nil || job.spec.owner == owner)
                }
                return .usage(UsageSummary(ended, by: query.by))
            case .page(let after, let limit, let activeOnly, let owner):
                let numbers = contents.jobs.keys.filter { number in
                    let job = contents.jobs[number]!
                    return number > after && (!activeOnly || !job.isFinished) && (owner == nil || job.job.spec.owner == owner)
                }.sorted()
                let kept = numbers.prefix(limit)
                let next = numbers.count > limit ? kept.last.map { "\($0)" } ?? "" : ""
                return .jobs(kept.compactMap { contents.jobs[$0]?.job }, nextCursor: next)
            }
        }
    }
}

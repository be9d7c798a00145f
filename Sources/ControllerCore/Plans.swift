import HeapModule
import Placement
import Wording

/// When a planned job is due to start.
struct PlanStart: Comparable, Sendable {
    var at: Double
    var number: UInt64
    var id: String
    var plan: UInt64

    static func < (a: PlanStart, b: PlanStart) -> Bool { (a.at, a.number) < (b.at, b.number) }
}

/// A job's place in a pool's plan: where, by which path, from when, and its estimate then.
struct JobPlan: Sendable {
    var hold: PlannedHold
    var candidate: Candidate
    /// When it is expected to end (monotonic seconds).
    var completion: Double
    /// When it is planned to start, for clients (Unix ms).
    var startMs: Int64
}

extension ControllerCore {
    /// The request a job is placed with now: its own, with the plan horizon, the pools it may not
    /// use, and only its planned pool once it has moved as often as it may.
    func planningRequest(_ job: Job, stayOn pool: String? = nil) -> PlacementRequest {
        var request = job.request
        request.planHorizonS = configuration.planHorizonS
        request.excludedPools = Set(job.exclusions.keys)
        request.onlyPool = pool
        return request
    }

    /// Dispatches a job now, or plans it on the candidate's pool when it starts later.
    mutating func begin(_ id: String, on candidate: Candidate) {
        if candidate.estimate.startS > 0 {
            planJob(id, on: candidate)
        } else {
            dispatch(id, on: candidate)
        }
    }

    /// Puts a job in its pool's plan to start when the candidate says; a job that had a plan on
    /// another pool is told it moved (the caller counts the move).
    mutating func planJob(_ id: String, on candidate: Candidate) {
        guard let job = jobs[id] else { return }
        let start = time.seconds + candidate.estimate.startS
        guard let hold = engine.plan(candidate, for: job.request, start: start) else { return }
        let moved = job.plan.map { $0.hold.pool != candidate.pool } ?? false
        let plan = JobPlan(hold: hold, candidate: candidate, completion: time.seconds + candidate.estimate.completionS, startMs: unixMs(start))
        jobs[id]?.plan = plan
        planStarts.insert(PlanStart(at: start, number: job.number, id: id, plan: hold.id))
        waitingJobs.removeAll { $0 == id }
        metrics.jobsPlanned.increment()
        let estimate = candidate.estimate
        // A job that gave no runtime is planned with the default one, which is no estimate of its end.
        let done = job.request.runtimeS > 0 ? ", estimated done in \(duration(estimate.completionS))" : ""
        let reason = "planned on \(candidate.pool) via \(candidate.path.joined(separator: " → ")) to start in \(duration(estimate.startS))\(done)"
        transition(id, to: .accepted, reason: moved ? "moved: \(reason)" : reason)
    }

    /// The earliest time a planned job is due to start (monotonic seconds), if any is planned;
    /// entries of jobs that have since moved on are dropped on the way.
    public mutating func nextPlannedStart() -> Double? {
        while let first = planStarts.min {
            if jobs[first.id]?.plan?.hold.id == first.plan { return first.at }
            _ = planStarts.removeMin()
        }
        return nil
    }

    /// Starts the planned jobs whose time has come: each is placed again now, on its planned pool
    /// when it has moved as often as it may, and dispatched, or planned again when its pool is
    /// not yet free (a job before it overran).
    mutating func startDuePlans() {
        while let first = planStarts.min, first.at <= time.seconds {
            _ = planStarts.removeMin()
            // The job keeps the record of its plan while it is placed again, to count a move.
            guard let old = jobs[first.id]?.plan, old.hold.id == first.plan else { continue }
            engine.unplan(old.hold.id)
            placePlanned(first.id, leaving: old)
        }
    }

    /// Places a job whose plan was taken out: on the best place now or later, never moving it
    /// more than the configured number of times unless its pool cannot take it at all.
    private mutating func placePlanned(_ id: String, leaving old: JobPlan) {
        guard let job = jobs[id] else { return }
        let stay = job.moves >= configuration.maxPlanMoves ? old.hold.pool : nil
        var placement = try? engine.place(planningRequest(job, stayOn: stay), now: time.seconds)
        if placement?.winner == nil, stay != nil {
            placement = try? engine.place(planningRequest(job), now: time.seconds)
        }
        guard let winner = placement?.winner else {
            jobs[id]?.plan = nil
            transition(id, to: .accepted, reason: "its planned start on \(old.hold.pool) came and nothing can take it; waiting")
            placeWaiting(id)
            return
        }
        follow(id, from: old, to: winner)
    }

    /// Plans or dispatches a job whose plan was taken out on its new candidate, counting a move
    /// when the pool changed.
    private mutating func follow(_ id: String, from old: JobPlan, to winner: Candidate) {
        if winner.pool != old.hold.pool { jobs[id]?.moves += 1 }
        if winner.estimate.startS > 0 {
            planJob(id, on: winner)
        } else {
            jobs[id]?.plan = nil
            dispatch(id, on: winner)
        }
    }

    /// Looks again at planned jobs, in submission order, after capacity came free sooner than
    /// planned: a job moves to an earlier completion when it gains at least a second and 1 %,
    /// and changes pool at most `maxPlanMoves` times. At most `plansRevisedPerTick` are looked
    /// at per tick; the next tick goes on after the last one looked at.
    mutating func revisePlans() {
        plansDirty = false
        var looked = 0
        for id in activeOrder where activeJobs.contains(id) {
            // Only planned jobs are copied out; the rest are skipped through the index.
            guard let entry = jobs.index(forKey: id), jobs.values[entry].number > revisedUpTo,
                  jobs.values[entry].pool == nil, jobs.values[entry].plan != nil else { continue }
            guard looked < configuration.plansRevisedPerTick else {
                plansDirty = true
                return
            }
            let job = jobs.values[entry]
            guard let old = job.plan else { continue }
            looked += 1
            revisedUpTo = job.number
            engine.unplan(old.hold.id)
            let stay = job.moves >= configuration.maxPlanMoves ? old.hold.pool : nil
            let placement = try? engine.place(planningRequest(job, stayOn: stay), now: time.seconds)
            let remaining = old.completion - time.seconds
            if let winner = placement?.winner, winner.estimate.completionS < remaining - max(1, remaining / 100) {
                metrics.plansRevised.increment()
                follow(id, from: old, to: winner)
            } else {
                engine.restorePlan(old.hold)
            }
        }
        revisedUpTo = 0
    }

    /// Plans again every job planned on a pool that can no longer take work.
    mutating func replanJobs(on pool: String) {
        let planned = activeInOrder.filter { jobs[$0]?.plan?.hold.pool == pool && jobs[$0]?.pool == nil }
        for id in planned {
            guard let old = jobs[id]?.plan else { continue }
            engine.unplan(old.hold.id)
            placePlanned(id, leaving: old)
        }
    }
}

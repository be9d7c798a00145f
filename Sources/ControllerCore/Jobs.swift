import Placement
import Topology

extension ControllerCore {
    /// Records a job's state change: history, the published event and the persist action.
    mutating func transition(_ id: String, to state: JobState, reason: String) {
        guard var job = jobs[id] else { return }
        job.state = state
        job.updatedMs = time.unixMs
        job.message = reason
        job.history.append(JobTransition(state: state, timestampMs: time.unixMs, pool: job.pool ?? "", reason: reason))
        jobs[id] = job
        if job.isFinished {
            if let plan = job.plan {
                engine.unplan(plan.hold.id)
                jobs[id]?.plan = nil
            }
            metrics.jobsFinished[state]?.increment()
            setActive(id, false)
            waitingJobs.removeAll { $0 == id }
            finishedOrder.append((id, time.seconds))
        } else {
            setActive(id, true)
        }
        countRunning(id)
        publish(.job(JobChange(jobID: id, state: state, pool: job.pool ?? "", path: job.path, reason: reason, attempt: job.attempts)))
        persist(id)
        // Built only when wanted: every submit makes two of these.
        if configuration.logLevel <= .info {
            let what = state == .accepted && job.attempts > 0 ? "job placed again" : "job \(state.rawValue)"
            log(.info, "\(what): \(reason)", ["job": id, "pool": job.pool ?? "-"])
        }
    }

    /// Asks the service to store the job as it now stands.
    mutating func persist(_ id: String) {
        guard let job = jobs[id] else { return }
        actions.append(.persist(record(job)))
    }

    /// Adds a line to a job's history without changing its state: a report that did not count.
    mutating func note(_ id: String, _ state: JobState, pool: String, reason: String) {
        jobs[id]?.history.append(JobTransition(state: state, timestampMs: time.unixMs, pool: pool, reason: reason))
        persist(id)
        log(.notice, reason, ["job": id, "pool": pool])
    }

    /// Creates a job from a submit: placed, leased and dispatched, or an error reply.
    mutating func submit(_ submit: Submission) -> ClientReply {
        // Each submitter's keys are its own: the same key from another never names its job.
        let idempotencyKey = submit.idempotencyKey.isEmpty || submit.spec.owner.isEmpty ? submit.idempotencyKey : "\(submit.spec.owner)\u{1F}\(submit.idempotencyKey)"
        if !idempotencyKey.isEmpty, let existing = idempotency[idempotencyKey] {
            return .submitted(SubmitResult(jobID: existing, placement: nil, leaseID: jobs[existing]?.lease))
        }
        guard !submit.spec.command.isEmpty else {
            return .error(ControllerError(.invalidRequest, "the job has no command"))
        }
        guard submit.idempotencyKey.utf8.count <= 256 else {
            return .error(ControllerError(.invalidRequest, "the idempotency key is \(submit.idempotencyKey.utf8.count) bytes; at most 256"))
        }
        guard submit.placementDeadlineS.isFinite, submit.placementDeadlineS >= 0, submit.placementDeadlineS <= 365 * 86_400 else {
            return .error(ControllerError(.invalidRequest, "the placement deadline must be 0 to 31536000 s, not \(submit.placementDeadlineS)"))
        }
        var request = submit.request
        request.explain = false
        request.excludedPools = []
        request.explainRefusal = configuration.explainRefusals
        switch configuration.policy {
        case .random(let seed): request.policy = .random(seed: seed &+ nextJobNumber)
        case let policy: request.policy = policy
        }
        // The job spec's resources are what the pool runs it with; the request asks for them.
        if request.cpuCores == 0, submit.spec.resources.cpuCores > 0 { request.cpuCores = submit.spec.resources.cpuCores }
        if request.memoryBytes == 0 { request.memoryBytes = submit.spec.resources.memoryBytes }
        let placement: Placement
        do {
            var planning = request
            planning.planHorizonS = configuration.planHorizonS
            placement = try engine.place(planning, now: time.seconds)
        } catch {
            metrics.submitInvalid.increment()
            return .error(ControllerError(.invalidRequest, error.description))
        }
        let winner = placement.winner
        guard winner != nil || configuration.queueUnplaceable || time.seconds < rejoinUntil else {
            metrics.submitNoPool.increment()
            return .error(ControllerError(.noPlacement, noPlacementMessage(placement)))
        }
        metrics.submitPlaced.increment()
        metrics.jobsSubmitted.increment()
        let id = "job-\(nextJobNumber)"
        nextJobNumber += 1
        var spec = submit.spec
        // Which GPU a share lands on is the controller's to say, in the dispatch.
        spec.gpuShare = nil
        spec.resources.cpuCores = request.cpuCores
        spec.resources.memoryBytes = request.memoryBytes
        if let model = winner?.estimate.gpuModel, !request.isGPUShare { spec.resources.gpus = [model: request.gpuCount] }
        if spec.runtimeEstimateS == 0 { spec.runtimeEstimateS = request.runtimeS }
        var job = Job(id: id, spec: spec, request: request, submittedMs: time.unixMs, updatedMs: time.unixMs)
        job.number = nextJobNumber - 1
        job.idempotencyKey = idempotencyKey
        job.placementDeadline = time.seconds + (submit.placementDeadlineS > 0 ? submit.placementDeadlineS : configuration.placementDeadlineS)
        jobs[id] = job
        if !idempotencyKey.isEmpty {
            idempotency[idempotencyKey] = id
            idempotencyExpiry.append((idempotencyKey, time.seconds + configuration.idempotencyWindowS))
        }
        transition(id, to: .accepted, reason: "submitted from \(request.ingress)")
        if let winner {
            begin(id, on: winner)
        } else {
            let reason = noPlacementMessage(placement)
            jobs[id]?.message = "waiting: \(reason)"
            wait(id)
        }
        return .submitted(SubmitResult(jobID: id, placement: placement, leaseID: jobs[id]?.lease))
    }

    func noPlacementMessage(_ placement: Placement) -> String {
        let reasons = placement.rejections.prefix(8).map { "\($0.pool): \($0.reason)" }
        let more = placement.rejections.count > 8 ? "; and \(placement.rejections.count - 8) more" : ""
        guard !reasons.isEmpty else { return configuration.explainRefusals ? "no pool is registered" : "no pool can take this job now" }
        return "no pool can take this job: " + reasons.joined(separator: "; ") + more
    }

    /// Takes the lease for a placement and sends the dispatch along its path.
    mutating func dispatch(_ id: String, on candidate: Candidate) {
        guard var job = jobs[id] else { return }
        switch engine.hold(candidate, for: job.request, now: time.seconds, ttl: configuration.leaseTTLS) {
        case .failure(let failure):
            log(.warning, "could not hold a lease: \(failure)", ["job": id, "pool": candidate.pool])
            job.message = "waiting: \(failure)"
            jobs[id] = job
            wait(id)
        case .success(let lease):
            let sequence = (dispatchSequences[candidate.pool] ?? 0) + 1
            dispatchSequences[candidate.pool] = sequence
            changedSequences.insert(candidate.pool)
            engine.markDispatched(lease.id, sequence: sequence)
            job.pool = candidate.pool
            job.path = candidate.path
            job.estimate = candidate.estimate
            job.dispatchPrice = engine.pool(candidate.pool)?.price
            job.lease = lease.id
            job.dispatchSequence = sequence
            job.dispatchedAt = time.seconds
            job.unansweredDispatch = nil
            metrics.submitToDispatch.recordMilliseconds(max(0, time.unixMs - job.submittedMs))
            if configuration.dispatchTimeoutS.isFinite { unanswered.append((id, job.attempts + 1, time.seconds)) }
            job.attempts += 1
            jobs[id] = job
            var spec = job.spec
            if let share = lease.share {
                // A shared GPU: the pool is told which one and how much, and no whole GPUs.
                spec.resources.gpus = [:]
                spec.gpuShare = share
                jobs[id]?.spec.gpuShare = share
            } else if let model = candidate.estimate.gpuModel {
                spec.resources.gpus = [model: job.request.gpuCount]
            }
            let message = JobDispatch(
                jobID: id, dispatchSequence: sequence, spec: spec, path: candidate.path, leaseID: lease.id,
                leaseExpiresMs: unixMs(lease.expiresAt), attempt: job.attempts
            )
            sendPool(candidate.pool, .dispatch(message))
            let estimate = candidate.estimate.runtimeS > 0 ? "estimated done in \(duration(candidate.estimate.completionS))" : "\(format(candidate.estimate.latencyMs)) ms away"
            transition(id, to: .dispatched, reason: "to \(candidate.pool) via \(candidate.path.joined(separator: " → ")), \(estimate)")
        }
    }

    /// Releases a job's lease and places it again elsewhere, or fails it after the attempt limit.
    /// `mayHaveStarted` says whether the lost attempt could have run: an at-most-once job that
    /// may have started is failed instead of placed again. The pool is excluded for the job a
    /// while, unless it was not the pool's fault (`poolAtFault` false: its path went away).
    mutating func replace(_ id: String, because reason: String, mayHaveStarted: Bool = true, poolAtFault: Bool = true) {
        guard var job = jobs[id], !job.isFinished else { return }
        if let lease = job.lease { engine.release(lease) }
        if let pool = job.pool, poolAtFault { job.exclusions[pool] = time.seconds + configuration.exclusionS }
        job.lease = nil
        job.pool = nil
        job.path = []
        awaitingReport[id] = nil
        awaitingBecause[id] = nil
        jobs[id] = job
        if job.cancelRequested {
            transition(id, to: .cancelled, reason: "cancelled; \(reason)")
            return
        }
        if mayHaveStarted, !job.mayRunTwice {
            transition(id, to: .failed, reason: "\(reason); an at-most-once job that may have started is not run again")
            return
        }
        guard job.attempts < configuration.maxAttempts else {
            transition(id, to: .failed, reason: "\(reason); gave up after \(job.attempts) placements")
            return
        }
        transition(id, to: .accepted, reason: "\(reason); placing again")
        placeWaiting(id)
    }

    /// Puts a job in the waiting line once.
    mutating func wait(_ id: String) {
        if !waitingJobs.contains(id) { waitingJobs.append(id) }
    }

    /// Tries to place an accepted job that has no pool; fails it once its deadline has passed.
    mutating func placeWaiting(_ id: String) {
        guard var job = jobs[id], job.state == .accepted, job.pool == nil else { return }
        // Exclusions end: a pool that lost the job once may take it later.
        let expired = job.exclusions.filter { $0.value <= time.seconds }.map(\.key)
        if !expired.isEmpty {
            for pool in expired { job.exclusions[pool] = nil }
            jobs[id] = job
        }
        // A placement that finds nothing already carries every rejection: one search, not two.
        let placement = try? engine.place(planningRequest(job), now: time.seconds)
        guard let placement, let winner = placement.winner else {
            let reason = placement.map(noPlacementMessage) ?? "no pool fits"
            if let deadline = job.placementDeadline, time.seconds >= deadline {
                waitingJobs.removeAll { $0 == id }
                transition(id, to: .failed, reason: "no pool took it before its placement deadline: \(reason)")
                return
            }
            metrics.retryNoPool.increment()
            jobs[id]?.message = "waiting: \(reason)"
            wait(id)
            return
        }
        metrics.retryPlaced.increment()
        waitingJobs.removeAll { $0 == id }
        begin(id, on: winner)
    }

    /// Gives jobs waiting for capacity another chance, in the order they came, until
    /// `waitingMissesPerTick` of them found nothing. Called once per tick when something changed,
    /// not once per advertisement, so a long waiting line costs at most one bounded pass a tick.
    mutating func retryWaitingJobs() {
        waitingDirty = false
        var misses = 0
        for id in waitingJobs {
            guard misses < configuration.waitingMissesPerTick else { break }
            // Read through the index: copying each job out costs more than the check.
            guard let entry = jobs.index(forKey: id), jobs.values[entry].state == .accepted,
                  jobs.values[entry].pool == nil, jobs.values[entry].plan == nil else {
                waitingJobs.removeAll { $0 == id }
                continue
            }
            placeWaiting(id)
            if waitingJobs.contains(id) { misses += 1 }
        }
    }

    mutating func handleDispatchAnswer(_ pool: String, _ ack: DispatchAnswer) {
        guard let job = jobs[ack.jobID], job.pool == pool, job.dispatchSequence == ack.dispatchSequence,
              ack.attempt == 0 || ack.attempt == job.attempts else {
            if ack.accepted, keepAfterLateAnswer(pool, ack) { return }
            count("pools.stale_ack")
            return
        }
        if ack.accepted {
            if var accepted = jobs[ack.jobID] {
                // Answered: the dispatch timeout no longer applies.
                accepted.dispatchedAt = .infinity
                jobs[ack.jobID] = accepted
            }
            return
        }
        replace(ack.jobID, because: "\(pool) refused: \(ack.reason)", mayHaveStarted: false)
    }

    /// A pool that says yes after its dispatch timed out keeps the job when the job still waits
    /// and the pool still has room: the job may have started there, and the timeout may have
    /// been a loaded machine's rather than the pool's fault. True when the job is kept.
    private mutating func keepAfterLateAnswer(_ pool: String, _ ack: DispatchAnswer) -> Bool {
        guard var job = jobs[ack.jobID], let late = job.unansweredDispatch, late.pool == pool,
              late.sequence == ack.dispatchSequence, late.attempt == ack.attempt, job.attempts == ack.attempt,
              job.state == .accepted, job.pool == nil, !job.cancelRequested, let estimate = job.estimate else { return false }
        let held = engine.holdRunning(
            job.request, on: pool, estimate: estimate, path: late.path, now: time.seconds, ttl: configuration.leaseTTLS, sharedGPU: job.spec.gpuShare?.gpu
        )
        guard case .success(let lease) = held else { return false }
        engine.markDispatched(lease.id, sequence: late.sequence)
        if let plan = job.plan { engine.unplan(plan.hold.id) }
        job.plan = nil
        job.lease = lease.id
        job.pool = pool
        job.path = late.path
        job.dispatchedAt = .infinity
        job.exclusions[pool] = nil
        job.unansweredDispatch = nil
        jobs[job.id] = job
        waitingJobs.removeAll { $0 == job.id }
        transition(job.id, to: .dispatched, reason: "\(pool) answered the dispatch late; the job stays there")
        return true
    }

    mutating func handleJobReport(_ pool: String, _ update: JobReport) {
        let current = jobs[update.jobID]
        if let current, current.isFinished, current.state == update.state, current.pool == pool {
            // The same ending again, as an agent sends after a session it may have lost.
            count("pools.repeated_outcome")
            return
        }
        let isCurrent = current.map { $0.pool == pool && !$0.isFinished && (update.attempt == 0 || update.attempt == $0.attempts) } ?? false
        guard var job = current, isCurrent else {
            count("pools.stale_job_update")
            let attempt = update.attempt > 0 ? "attempt \(update.attempt)" : "an earlier attempt"
            if let current {
                // An outcome of an attempt that is no longer the job's: kept in its history, not counted.
                let now = current.pool.map { "attempt \(current.attempts) on \($0) is current" } ?? "the job is \(current.state.rawValue)"
                note(current.id, update.state, pool: pool, reason: "\(attempt) on \(pool) reported \(update.state.rawValue); not counted: \(now)")
            }
            if update.state == .running {
                // Running where it no longer belongs: stop it there.
                stopOnPool(pool, update.jobID)
            }
            return
        }
        guard update.state != .accepted, update.state != .dispatched else {
            count("pools.invalid_job_update")
            sendPool(pool, .error(ControllerError(.invalidRequest, "job_update for \(job.id) has state \(update.state.rawValue) (or one this controller does not know); a pool reports running, succeeded, failed or cancelled")))
            return
        }
        job.dispatchedAt = .infinity
        awaitingReport[job.id] = nil
        awaitingBecause[job.id] = nil
        job.exitCode = update.exitCode
        if let usage = update.usage { job.usage = usage }
        if !update.output.isEmpty { job.output = update.output }
        jobs[job.id] = job
        switch update.state {
        case .running:
            // Running means the input has arrived: the path's bandwidth is free for others, and
            // jobs waiting for bandwidth get another chance.
            if let lease = job.lease, (engine.lease(lease)?.bandwidthGbps ?? 0) > 0 {
                engine.releaseBandwidth(lease)
                if !waitingJobs.isEmpty { waitingDirty = true }
            }
            if job.state != .running { transition(job.id, to: .running, reason: "started on \(pool)") }
        case .failed where update.poolFault:
            // Not the job's doing (the pool's disk is full, say): another pool may run it.
            replace(job.id, because: "on \(pool): \(printableText(update.message))", mayHaveStarted: job.state == .running)
        case .succeeded, .failed, .cancelled:
            charge(job.id, usage: update.usage ?? JobUsage())
            // Ending well before its plan said frees room that planned jobs may move into.
            if let lease = job.lease, let released = engine.release(lease), released.expectedEnd - time.seconds > 1, configuration.planHorizonS > 0 {
                plansDirty = true
            }
            jobs[job.id]?.lease = nil
            waitingDirty = true
            // The pool's words may quote a job's output: shown to operators, kept printable.
            let detail = update.message.isEmpty ? "" : ": \(printableText(update.message))"
            let reason: String = switch update.state {
            case .succeeded: "finished on \(pool) with exit code 0"
            // A negative code is no exit code (a signal, or no start): the agent's words say what.
            case .failed: update.exitCode < 0 && !update.message.isEmpty ? "failed on \(pool)\(detail)" : "failed on \(pool) with exit code \(update.exitCode)\(detail)"
            default: "cancelled on \(pool)"
            }
            transition(job.id, to: update.state, reason: reason)
        case .accepted, .dispatched:
            break // refused above, before anything changed
        }
    }

    /// Cancels a job: at once when no pool runs it, otherwise by asking its pool.
    mutating func cancel(_ id: String) {
        guard var job = jobs[id], !job.isFinished else { return }
        job.cancelRequested = true
        jobs[id] = job
        if let pool = job.pool, job.state == .dispatched || job.state == .running {
            persist(id)
            stopOnPool(pool, id)
            log(.info, "asked the pool to cancel", ["job": id, "pool": pool])
        } else {
            if let lease = job.lease { engine.release(lease) }
            jobs[id]?.lease = nil
            transition(id, to: .cancelled, reason: "cancelled before it reached a pool")
        }
    }
}

func format(_ value: Double) -> String { compactNumber(value) }

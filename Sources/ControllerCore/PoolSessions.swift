import Placement
import Topology

extension ControllerCore {
    mutating func handlePool(peer: [UInt8], correlationID: UInt64, _ message: PoolMessage, caller: String? = nil) {
        if case .register(let register) = message {
            guard mayRegister(register.poolID, caller: caller) else {
                count("pools.unauthorized")
                let key = caller.map { "key \"\($0)\"" } ?? "a key not on the allow-list"
                log(.warning, "refused pool \(register.poolID): \(key) may not register as it", ["key": caller ?? "-", "pool": register.poolID])
                actions.append(.toPool(peer: peer, correlationID: correlationID, .error(ControllerError(.unauthorized, "\(key) may not register as pool \(register.poolID)"))))
                return
            }
            handleRegister(peer: peer, register, correlationID: correlationID)
            return
        }
        guard let pool = poolOfPeer[peer], var session = sessions[pool], session.peer == peer else {
            count("pools.not_registered")
            actions.append(.toPool(peer: peer, correlationID: correlationID, .error(ControllerError(.notRegistered, "this connection has no session; send Register first"))))
            return
        }
        session.lastHeard = time.seconds
        sessions[pool] = session
        switch message {
        case .register, .heartbeat:
            break
        case .advertisement(let advertisement):
            handleAdvertisement(pool, advertisement)
        case .dispatchAnswer(let answer):
            handleDispatchAnswer(pool, answer)
        case .jobReport(let report):
            handleJobReport(pool, report)
        case .goodbye(let reason):
            log(.notice, "pool said goodbye: \(reason)", ["pool": pool])
            poolLost(pool, reason: "said goodbye: \(reason)", saidGoodbye: true)
        case .unexpected(let kind):
            count("pools.unknown_message")
            actions.append(.toPool(peer: peer, correlationID: correlationID, .error(ControllerError(.unknownMessage, "\(kind) is not a pool message"))))
        }
    }

    private mutating func handleRegister(peer: [UInt8], _ register: PoolRegistration, correlationID: UInt64) {
        let topology = engine.topology
        let id = register.poolID
        func reply(_ code: ControllerError.Code, _ text: String) -> ControllerAction {
            .toPool(peer: peer, correlationID: correlationID, .error(ControllerError(code, text)))
        }
        guard isValidID(id) else {
            count("pools.invalid")
            actions.append(reply(.invalidRequest, "pool id \"\(id)\" must be 1 to 128 letters, digits or . _ : -"))
            return
        }
        // Two agents with one id would take the session from each other on every registration:
        // a live session (heard within two heartbeats) keeps it, and the newcomer is told why.
        // An agent that restarted is let in once its old session has gone quiet.
        if let old = sessions[id], old.peer != peer {
            let quiet = time.seconds - old.lastHeard
            let live = 2 * Double(configuration.heartbeatIntervalMs) / 1_000
            if quiet < live {
                count("pools.conflict")
                log(.warning, "refused a second session for pool \(id): its session is live", ["pool": id])
                actions.append(reply(.conflict, "pool \(id) already has a live session (heard \(format(quiet)) s ago): is another agent running with this id? A restarted agent gets in once the old session has been quiet for \(format(live)) s"))
                return
            }
        }
        let total = register.total
        if let problem = problemWithPoolNumbers(resources: [("total", total)], price: register.price, speed: register.speed) {
            count("pools.invalid")
            actions.append(reply(.invalidRequest, "register for \(id): \(problem)"))
            return
        }
        var state: PoolState
        if let known = engine.pool(id) {
            if !register.node.isEmpty, topology.nodes[known.node].id != register.node {
                count("pools.invalid")
                actions.append(reply(.invalidRequest, "pool \(id) is declared at \(topology.nodes[known.node].id), not \(register.node)"))
                return
            }
            state = known
        } else {
            guard !register.node.isEmpty, let node = topology.node(register.node) else {
                count("pools.unknown_pool")
                let detail = register.node.isEmpty ? "the topology does not declare it and it names no node" : "node \(register.node) is not in the topology"
                actions.append(reply(.unknownPool, "pool \(id) cannot join: \(detail)"))
                return
            }
            state = PoolState(id: id, node: node, total: total)
            state.labels = topology.nodes[node].labels
            if let region = topology.nodes[node].region { state.labels["region"] = region }
        }
        // What the agent reports now is the truth about its capacity.
        if total.cpuCores > 0 || total.memoryBytes > 0 || !total.gpus.isEmpty {
            state.total = total
            state.free = total
        }
        state.labels.merge(register.labels) { _, own in own }
        if let price = register.price { state.price = price }
        if register.speed > 0 { state.speed = register.speed }
        state.liveness = livenessOnRegister(id)
        state.lastAdvertisement = time.seconds
        engine.upsertPool(state)
        if state.liveness == .up { plansDirty = true }
        engine.resetSequence(id)

        if let old = sessions[id], old.peer != peer {
            poolOfPeer[old.peer] = nil
            // A session replaced by a new one was lost too, without its pool missing a window.
            penalizeFlap(id)
            forgetAdvertisements(of: id)
            log(.info, "pool registered again on a new connection; the old session ends", ["pool": id])
        }
        let session = Session(peer: peer, id: nextSessionID, lastHeard: time.seconds, lastSent: time.seconds, jobsOutliveAgent: register.jobsOutliveAgent)
        nextSessionID += 1
        sessions[id] = session
        poolOfPeer[peer] = id
        if register.dispatchSequenceApplied > dispatchSequences[id] ?? 0 {
            dispatchSequences[id] = register.dispatchSequenceApplied
            changedSequences.insert(id)
        }

        // Jobs the agent still runs: keep those still placed here (holding their resources again
        // when a restart left them without a lease), stop the rest.
        var stop: [String] = []
        for running in register.runningJobs {
            guard let job = jobs[running.jobID], job.pool == id, !job.isFinished,
                  running.attempt == 0 || running.attempt == job.attempts else {
                stop.append(running.jobID)
                continue
            }
            if job.cancelRequested {
                // Cancelled while its pool was away: stopped now; its report ends it.
                stop.append(running.jobID)
                continue
            }
            keepRunning(job.id, on: id)
        }
        // Recovered jobs it did not list may still have outcomes on the way (sent right after the
        // welcome): they get one liveness window, then they are placed again.
        let liveness = Double(configuration.livenessMs) / 1_000
        for jobID in awaitingReport.keys where jobs[jobID]?.pool == id {
            awaitingReport[jobID] = time.seconds + liveness
            awaitingBecause[jobID] = "\(id) registered again and did not report it"
        }
        let welcome = PoolWelcome(
            poolID: id, node: topology.nodes[state.node].id, heartbeatIntervalMs: configuration.heartbeatIntervalMs,
            livenessMs: configuration.livenessMs, sessionID: session.id, stopJobs: stop, epoch: epoch
        )
        actions.append(.toPool(peer: peer, correlationID: correlationID, .welcome(welcome)))
        log(.info, "pool registered", ["pool": id, "node": welcome.node, "session": "\(session.id)", "running": "\(register.runningJobs.count)", "stopping": "\(stop.count)"])
        publishPool(id, reason: "registered")
        retryWaitingJobs()
    }

    private mutating func handleAdvertisement(_ pool: String, _ advertisement: PoolAdvertisement) {
        func refuse(_ reason: String, _ message: String) {
            count(reason)
            sendPool(pool, .error(ControllerError(.invalidRequest, message)))
        }
        guard advertisement.poolID == pool else {
            refuse("pools.foreign_advertisement", "this session advertises \(pool), not \(advertisement.poolID)")
            return
        }
        let free = advertisement.free
        let total = advertisement.total
        let problem = problemWithPoolNumbers(
            resources: [("free", free)] + (total.map { [("total", $0)] } ?? []), price: advertisement.price, speed: advertisement.speed,
            queueWaitS: advertisement.queueWaitS, processingLatencyMs: advertisement.processingLatencyMs
        ) ?? (total.map { free.fits(in: $0) } ?? true ? nil : "free is more than total")
        if let problem {
            refuse("pools.invalid_advertisement", "advertisement \(advertisement.sequence): \(problem); ignored")
            return
        }
        let report = PoolReport(
            sequence: advertisement.sequence, free: free, total: total,
            queueWaitS: advertisement.queueWaitS, processingLatencyMs: advertisement.processingLatencyMs,
            speed: advertisement.speed > 0 ? advertisement.speed : nil,
            price: advertisement.price,
            dispatchSequenceApplied: advertisement.dispatchSequenceApplied
        )
        guard admitAdvertisement(report, from: pool) else { return }
        apply(report, from: pool)
    }

    /// Applies an advertisement to the engine; waiting jobs get a chance on the next tick.
    mutating func apply(_ report: PoolReport, from pool: String) {
        switch engine.apply(report, from: pool, now: time.seconds) {
        case .applied:
            advertisementsApplied += 1
            metrics.advertisementsApplied.increment()
            if !waitingJobs.isEmpty { waitingDirty = true }
        case .stale:
            count("pools.stale_advertisement")
        case .unknownPool:
            count("pools.unknown_pool")
        }
    }

    /// A job its pool reports as running after a new session: it carries on, and a job recovered
    /// from the store holds its pool's resources again.
    mutating func keepRunning(_ id: String, on pool: String) {
        guard var job = jobs[id] else { return }
        awaitingReport[id] = nil
        awaitingBecause[id] = nil
        job.dispatchedAt = .infinity
        if job.lease == nil, let estimate = job.estimate {
            let sharedGPU = job.spec.gpuShare?.gpu
            switch engine.holdRunning(job.request, on: pool, estimate: estimate, path: job.path, now: time.seconds, ttl: configuration.leaseTTLS, sharedGPU: sharedGPU) {
            case .success(let lease):
                engine.markDispatched(lease.id, sequence: job.dispatchSequence)
                job.lease = lease.id
            case .failure(let failure):
                log(.warning, "the job's resources could not be held again (\(failure)); it keeps running without a lease", ["job": id, "pool": pool])
            }
        }
        jobs[id] = job
        if job.state == .dispatched { transition(id, to: .running, reason: "running on \(pool), as it reported on registering") }
    }

    /// A pool went away (missed liveness, or said goodbye): its leases are released and its
    /// jobs placed again; a batch pool's jobs that its agent took wait out the batch grace
    /// instead, unless it said goodbye.
    mutating func poolLost(_ pool: String, reason: String, saidGoodbye: Bool = false) {
        let session = sessions.removeValue(forKey: pool)
        if let session { poolOfPeer[session.peer] = nil }
        penalizeFlap(pool)
        forgetAdvertisements(of: pool)
        engine.setLiveness(pool, .down, now: time.seconds)
        publishPool(pool, reason: reason)
        let held = (onPool[pool] ?? []).sorted { (jobs[$0]?.number ?? 0) < (jobs[$1]?.number ?? 0) }
        let keeps = session?.jobsOutliveAgent == true && !saidGoodbye && configuration.batchGraceS > 0
        var kept = 0
        for id in held {
            // Only what the agent acknowledged is in the batch system; a dispatch it never
            // answered may not have reached it.
            if keeps, let job = jobs[id], job.state == .running || job.dispatchedAt == .infinity {
                holdForBatchPool(id, pool)
                kept += 1
            } else {
                replace(id, because: "pool \(pool) \(reason)")
            }
        }
        if kept > 0 {
            log(.notice, "the pool's jobs run on in its batch system; they stay there while an agent may come back", ["pool": pool, "jobs": "\(kept)", "grace_s": format(configuration.batchGraceS)])
        }
        replanJobs(on: pool)
    }

    /// Keeps a job on its batch pool, without a lease, until an agent lists it or the grace ends.
    private mutating func holdForBatchPool(_ id: String, _ pool: String) {
        guard var job = jobs[id], !job.isFinished else { return }
        if let lease = job.lease { engine.release(lease) }
        job.lease = nil
        jobs[id] = job
        awaitingReport[id] = time.seconds + configuration.batchGraceS
        awaitingBecause[id] = "no agent of batch pool \(pool) reported it within \(format(configuration.batchGraceS)) s of losing its session"
    }
}

/// What is out of range in the numbers a pool reports, with the field named as the protocol
/// names it; nil when every one is finite and within what any real pool could have.
func problemWithPoolNumbers(resources: [(String, Resources)], price: Price?, speed: Double, queueWaitS: Double = 0, processingLatencyMs: Double = 0) -> String? {
    func check(_ value: Double, _ field: String, atMost limit: Double) -> String? {
        value.isFinite && value >= 0 && value <= limit ? nil : "\(field) must be a number from 0 to \(format(limit)), not \(value)"
    }
    for (name, amount) in resources {
        if let problem = check(amount.cpuCores, "\(name).cpu_cores", atMost: PoolLimits.cpuCores) { return problem }
        if amount.memoryBytes > PoolLimits.memoryBytes { return "\(name).memory_bytes must be at most 2^60, not \(amount.memoryBytes)" }
        if amount.gpus.count > PoolLimits.gpuModels { return "\(name).gpus names \(amount.gpus.count) models; at most \(PoolLimits.gpuModels)" }
        for (model, count) in amount.gpus where count > PoolLimits.gpusPerModel || model.isEmpty || model.utf8.count > PoolLimits.gpuModelNameBytes {
            return "\(name).gpus has \(count) of \"\(model.prefix(32))\"; a model name is 1 to \(PoolLimits.gpuModelNameBytes) bytes and a count at most \(PoolLimits.gpusPerModel)"
        }
    }
    if let price {
        if let problem = check(price.cpuCoreHour, "price.cpu_core_hour", atMost: PoolLimits.price) { return problem }
        for (model, hour) in price.gpuHour {
            if let problem = check(hour, "price.gpu_hour[\(model.prefix(32))]", atMost: PoolLimits.price) { return problem }
        }
    }
    return check(speed, "speed", atMost: PoolLimits.speed) ?? check(queueWaitS, "queue_wait_s", atMost: PoolLimits.queueWaitS)
        ?? check(processingLatencyMs, "processing_latency_ms", atMost: PoolLimits.processingLatencyMs)
}

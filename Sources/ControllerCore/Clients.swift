import Placement
import Routing
import Topology

extension ControllerCore {
    mutating func handleClient(_ address: ClientAddress, correlationID id: UInt64, _ request: ClientRequest, caller: String? = nil) {
        let reply: ClientReply?
        switch request {
        case .place(let request):
            do {
                var request = request
                request.explain = true
                // The answer a submit would get: a pool with no room now may win a later start.
                request.planHorizonS = configuration.planHorizonS
                reply = .placement(try engine.place(request, now: time.seconds))
            } catch {
                reply = .error(ControllerError(.invalidRequest, error.description))
            }
        case .submit(var submission):
            // Who submitted, and for which tenant, is the controller's to say, never the request's.
            submission.spec.owner = caller ?? ""
            submission.spec.tenant = caller.flatMap { configuration.access?.tenants[$0] } ?? ""
            reply = submit(submission)
        case .status(let status):
            // Finished jobs leave memory, and the store is current once this batch commits: a
            // listing, and any job not held here, is answered from the store.
            let owner = ownJobsOnly(caller)
            if status.jobIDs.isEmpty {
                let after = status.page.cursor.isEmpty ? 0 : UInt64(status.page.cursor) ?? UInt64.max
                actions.append(.query(.page(after: after, limit: pageLimit(status.page.limit), activeOnly: status.activeOnly, owner: owner), address, correlationID: id))
                reply = nil
            } else if let bad = status.jobIDs.first(where: { !isJobID($0) }) {
                reply = .error(ControllerError(.invalidRequest, "\"\(bad.prefix(64))\" is not a job id: job ids are job-<number>"))
            } else if status.jobIDs.count > configuration.pageLimit {
                reply = .error(ControllerError(.invalidRequest, "at most \(configuration.pageLimit) job ids in one status request, not \(status.jobIDs.count)"))
            } else if let owner, let foreign = status.jobIDs.first(where: { jobs[$0].map { $0.spec.owner != owner } ?? false }) {
                reply = .error(ControllerError.notYours(foreign, caller: owner))
            } else if status.jobIDs.allSatisfy({ jobs[$0] != nil }) {
                reply = .jobs(status.jobIDs.compactMap { jobs[$0]?.view }, nextCursor: "")
            } else {
                actions.append(.query(.jobs(status.jobIDs, owner: owner), address, correlationID: id))
                reply = nil
            }
        case .cancel(let jobID):
            if !isJobID(jobID) {
                reply = .error(ControllerError(.invalidRequest, "\"\(jobID.prefix(64))\" is not a job id: job ids are job-<number>"))
            } else if jobs[jobID] == nil {
                actions.append(.query(.cancelFinished(jobID, owner: ownJobsOnly(caller)), address, correlationID: id))
                reply = nil
            } else {
                cancel(jobID)
                reply = .cancelled(jobs[jobID]?.view)
            }
        case .routes(let query):
            do {
                let table = try engine.routingTable(
                    from: query.ingress, dataBytes: query.dataBytes, minimumGbps: query.minBandwidthGbps,
                    alternatives: min(max(query.alternatives, 0), PlacementEngine.maximumRouteAlternatives), now: time.seconds
                )
                if query.dataBytes == 0, query.minBandwidthGbps == 0, query.alternatives == 0 { answeredRoutes(table) }
                let rows = table.rows.sorted { $0.pool < $1.pool }
                let page = pageOf(rows, key: \.pool, page: query.page)
                let entries = page.items.map { RouteEntry(row: $0, pool: engine.pool($0.pool).map(poolView)) }
                reply = .routes(RoutesPage(ingress: table.ingress, version: table.version, rows: entries, nextCursor: page.next))
            } catch {
                reply = .error(ControllerError(.invalidRequest, error.description))
            }
        case .pools(let request):
            let page = pageOf(engine.pools.sorted { $0.id < $1.id }, key: \.id, page: request)
            reply = .pools(page.items.map(poolView), nextCursor: page.next)
        case .snapshot(let request):
            let after = request.cursor.isEmpty ? 0 : UInt64(request.cursor) ?? UInt64.max
            let limit = pageLimit(request.limit)
            // Ids only until the page is known: a page costs copies of its own jobs, not of all.
            let rest = activeInOrder.drop { (jobs[$0]?.number ?? 0) <= after }
            var next = ""
            if rest.count > limit, let last = rest.prefix(limit).last, let number = jobs[last]?.number { next = "\(number)" }
            reply = .snapshot(Snapshot(
                sequence: eventSequence, epoch: epoch, jobs: rest.prefix(limit).compactMap { jobs[$0]?.view },
                pools: request.cursor.isEmpty ? engine.pools.map(poolView) : [], routingVersion: engine.version, nextCursor: next
            ))
        case .reloadTopology(let path):
            if let allowed = configuration.reloadablePaths, !path.isEmpty, !allowed.contains(path) {
                // Never read, so nothing of another file can come back in the reply.
                count("admin.reload_refused")
                log(.warning, "refused a reload of \(path): not a topology file this controller may read", [:])
                reply = .admin(AdminResult(ok: false, message: "\(path) is not a topology file this controller reloads; it reloads \(allowed.sorted().joined(separator: ", ")) (--reloadable adds more)"))
            } else {
                actions.append(.loadTopology(path: path, replyTo: address, correlationID: id))
                reply = nil
            }
        case .setLink(let change):
            switch changeLink(change) {
            case .success(let summary): reply = .admin(AdminResult(ok: true, message: summary))
            case .failure(let failure): reply = .admin(AdminResult(ok: false, message: "\(failure); nothing changed"))
            }
        case .usage(let query):
            if query.untilMs <= query.sinceMs {
                reply = .error(ControllerError(.invalidRequest, "a usage period must end after it starts"))
            } else {
                // Jobs end into the store: the answer is the store's, once this batch is committed.
                actions.append(.query(.usage(query, owner: ownJobsOnly(caller)), address, correlationID: id))
                reply = nil
            }
        case .invalid(let why):
            reply = .error(ControllerError(.invalidRequest, why))
        case .unexpected(let kind):
            count("clients.unknown_message")
            reply = .error(ControllerError(.unknownMessage, "\(kind) is not a request the clients endpoint serves"))
        }
        if let reply { actions.append(.reply(address, correlationID: id, reply)) }
    }

    /// A request's page size: its own limit within the configured one, or the configured one.
    func pageLimit(_ asked: Int) -> Int {
        asked <= 0 ? configuration.pageLimit : min(asked, configuration.pageLimit)
    }

    /// The items after the page's cursor (a key) in key order, at most its limit, and the cursor
    /// of the next page.
    func pageOf<Item>(_ sorted: [Item], key: (Item) -> String, page: PageRequest) -> (items: ArraySlice<Item>, next: String) {
        let cursor = page.cursor
        let start = cursor.isEmpty ? 0 : (sorted.firstIndex { key($0) > cursor } ?? sorted.count)
        let items = sorted[start...].prefix(pageLimit(page.limit))
        let next = start + items.count < sorted.count ? items.last.map(key) ?? "" : ""
        return (items, next)
    }

    mutating func tick() {
        applyHeldAdvertisements()
        releaseDampenedPools()
        let now = time.seconds
        let liveness = Double(configuration.livenessMs) / 1_000
        let interval = Double(configuration.heartbeatIntervalMs) / 1_000
        for (pool, session) in sessions.sorted(by: { $0.key < $1.key }) {
            if configuration.livenessMs != .max, now - session.lastHeard > liveness {
                log(.warning, "pool missed its liveness window", ["pool": pool, "silent_s": format(now - session.lastHeard)])
                poolLost(pool, reason: "missed its liveness window (\(format(now - session.lastHeard)) s silent)")
            } else if now - session.lastSent >= interval {
                sendPool(pool, .heartbeat(timestampMs: time.unixMs))
            }
        }
        // Neither check walks the active jobs: a tick costs what is due, not what is running.
        let unreported = awaitingReport.filter { now > $0.value }.keys.sorted { (jobs[$0]?.number ?? 0) < (jobs[$1]?.number ?? 0) }
        for id in unreported {
            awaitingReport[id] = nil
            let reason = awaitingBecause.removeValue(forKey: id) ?? "\(jobs[id]?.pool ?? "its pool") did not report it after the controller restarted"
            replace(id, because: reason)
        }
        while let head = unanswered.first, now - head.at > configuration.dispatchTimeoutS {
            unanswered.removeFirst()
            guard let job = jobs[head.id], job.state == .dispatched, job.attempts == head.attempt, job.dispatchedAt == head.at else { continue }
            if let pool = job.pool {
                jobs[head.id]?.unansweredDispatch = UnansweredDispatch(pool: pool, path: job.path, sequence: job.dispatchSequence, attempt: job.attempts)
            }
            replace(head.id, because: "\(job.pool ?? "the pool") did not answer the dispatch within \(format(configuration.dispatchTimeoutS)) s")
        }
        if engine.leaseDue(now: now) {
            // A job its pool holds (running, or dispatched and answered, as a batch queue may
            // keep it for days) keeps its lease however long it takes: the limit is for leases
            // whose release was lost, and a pool that goes away releases its own.
            let held = Set(activeJobs.compactMap { id in
                jobs[id].flatMap { $0.state == .running || ($0.state == .dispatched && $0.dispatchedAt == .infinity) ? $0.lease : nil }
            })
            for lease in engine.expireLeases(now: now, renewing: held, ttl: configuration.leaseTTLS) {
                log(.warning, "lease expired", ["pool": lease.pool, "lease": "\(lease.id)"])
            }
        }
        startDuePlans()
        if plansDirty { revisePlans() }
        if waitingDirty {
            retryWaitingJobs()
        } else {
            for id in waitingJobs where (jobs.index(forKey: id).flatMap { jobs.values[$0].placementDeadline } ?? .infinity) <= now { placeWaiting(id) }
        }
        forgetOldJobs()
        forgetQuietClients()
        publishRouteChanges()
    }

    /// Finished jobs past their retention leave memory (the store keeps them), and idempotency
    /// keys past their window are forgotten.
    mutating func forgetOldJobs() {
        let now = time.seconds
        while finishedHead < finishedOrder.count, now - finishedOrder[finishedHead].at >= configuration.finishedRetentionS {
            let id = finishedOrder[finishedHead].id
            if jobs[id]?.isFinished ?? false { jobs[id] = nil }
            finishedHead += 1
        }
        if finishedHead > 1_024, finishedHead * 2 > finishedOrder.count {
            finishedOrder.removeFirst(finishedHead)
            finishedHead = 0
        }
        var expired = 0
        while expired < idempotencyExpiry.count, idempotencyExpiry[expired].at <= now {
            idempotency[idempotencyExpiry[expired].key] = nil
            expired += 1
        }
        if expired > 0 { idempotencyExpiry.removeFirst(expired) }
    }

    mutating func reload(_ topology: Topology, path: String, replyTo: ClientAddress?, correlationID: UInt64) {
        var next = ControllerCore(topology: topology, configuration: configuration, metrics: metrics)
        next.time = time
        // Pools with a session carry over when their node still exists.
        var dropped: [String] = []
        for (id, session) in sessions {
            guard let state = engine.pool(id) else { continue }
            let nodeID = engine.topology.nodes[state.node].id
            guard let node = topology.node(nodeID) else {
                dropped.append(id)
                continue
            }
            var moved = state
            moved.node = node
            moved.reserved = Resources()
            moved.sharedGPUs = [:]
            next.engine.upsertPool(moved)
            next.sessions[id] = session
            next.poolOfPeer[session.peer] = id
        }
        next.jobs = jobs
        // Plans lived in the old engine: planned jobs are planned again on the new one.
        for id in activeInOrder where jobs[id]?.plan != nil {
            next.jobs[id]?.plan = nil
            if !waitingJobs.contains(id) { next.waitingJobs.append(id) }
        }
        next.activeJobs = activeJobs
        next.activeOrder = activeOrder
        next.waitingJobs = waitingJobs + next.waitingJobs
        next.waitingDirty = true
        next.unanswered = unanswered
        next.awaitingReport = awaitingReport
        next.awaitingBecause = awaitingBecause
        next.idempotency = idempotency
        next.idempotencyExpiry = idempotencyExpiry
        next.finishedOrder = finishedOrder
        next.finishedHead = finishedHead
        next.onPool = onPool
        next.epoch = epoch
        next.advertisementsApplied = advertisementsApplied
        next.nextJobNumber = nextJobNumber
        next.nextSessionID = nextSessionID
        next.dispatchSequences = dispatchSequences
        next.eventSequence = eventSequence
        next.dropped = self.dropped
        // A reload forgives no flapping and lets no chatty pool start afresh.
        next.flapPenalties = flapPenalties
        next.dampenedPools = dampenedPools
        next.advertisementAllowances = advertisementAllowances
        next.heldAdvertisements = heldAdvertisements
        next.clientAllowances = clientAllowances
        // Versions go on increasing, so route subscribers see the reload as one more change.
        next.engine.advanceVersion(past: engine.version)
        next.watchedRoutes = watchedRoutes
        // Active jobs hold their pool's resources again: a running job where it runs, a job whose
        // input is still on its way over its best path to the same pool.
        var pathless: [(job: String, pool: String)] = []
        for id in activeInOrder {
            guard var job = next.jobs[id], let pool = job.pool, !job.isFinished, job.lease != nil else { continue }
            job.lease = nil
            next.jobs[id] = job
            // A job sharing a GPU keeps the one its pool was told.
            let sharedGPU = job.spec.gpuShare?.gpu
            if job.state == .running, let estimate = job.estimate {
                switch next.engine.holdRunning(job.request, on: pool, estimate: estimate, path: job.path, now: time.seconds, ttl: configuration.leaseTTLS, sharedGPU: sharedGPU) {
                case .success(let lease):
                    next.engine.markDispatched(lease.id, sequence: job.dispatchSequence)
                    next.jobs[id]?.lease = lease.id
                case .failure(let failure):
                    next.log(.warning, "the job's resources could not be held again after the reload (\(failure)); it keeps running without a lease", ["job": id, "pool": pool])
                }
                continue
            }
            var again = job.request
            again.excludedPools = Set(next.engine.pools.map(\.id)).subtracting([pool])
            again.explain = false
            guard let placement = try? next.engine.place(again, now: time.seconds), let winner = placement.winner,
                  case .success(let lease) = next.engine.hold(winner, for: again, now: time.seconds, ttl: configuration.leaseTTLS, sharedGPU: sharedGPU) else {
                pathless.append((id, pool))
                continue
            }
            next.engine.markDispatched(lease.id, sequence: job.dispatchSequence)
            next.jobs[id]?.lease = lease.id
            next.jobs[id]?.path = winner.path
            next.jobs[id]?.estimate = winner.estimate
        }
        let carried = actions + next.actions
        self = next
        actions = carried
        for id in dropped { poolLost(id, reason: "its node is not in the new topology") }
        for (id, pool) in pathless where jobs[id]?.pool == pool && !(jobs[id]?.isFinished ?? true) {
            stopOnPool(pool, id)
            replace(id, because: "no path to \(pool) carries its input after the topology reload", poolAtFault: false)
        }
        log(.notice, "topology reloaded", ["path": path, "nodes": "\(topology.nodes.count)", "links": "\(topology.links.count)", "pools_dropped": "\(dropped.count)"])
        if let replyTo {
            let message = "loaded \(path): \(topology.nodes.count) nodes, \(topology.links.count) links, \(topology.pools.count) pools"
            actions.append(.reply(replyTo, correlationID: correlationID, .admin(AdminResult(ok: true, message: message))))
        }
    }
}

/// Whether `id` has the form the controller gives job ids: `job-` and a number.
func isJobID(_ id: String) -> Bool {
    guard id.hasPrefix("job-"), id.utf8.count <= 24 else { return false }
    let digits = id.utf8.dropFirst(4)
    return !digits.isEmpty && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
}

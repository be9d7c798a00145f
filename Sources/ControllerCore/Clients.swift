import Placement
import Routing
import Topology
import Wire

extension ControllerCore {
    mutating func handleClient(_ address: ClientAddress, _ message: WireMessage) {
        let id = message.correlationID
        let reply: WireMessage?
        switch message.body {
        case .place(let place):
            do {
                let placement = try engine.place(PlacementRequest(place.request, explain: true), now: time.seconds)
                reply = WireMessage(.placement(placement.wire), correlationID: id)
            } catch {
                reply = self.error(.invalidRequest, error.description, correlationID: id)
            }
        case .submit(let submit):
            reply = self.submit(submit, correlationID: id)
        case .status(let status):
            // Finished jobs leave memory, and the store is current once this batch commits: a
            // listing, and any job not held here, is answered from the store.
            if status.jobIds.isEmpty {
                let limit = pageLimit(status.limit)
                let after = status.cursor.isEmpty ? 0 : UInt64(status.cursor) ?? UInt64.max
                actions.append(.query(.page(after: after, limit: limit, activeOnly: status.activeOnly), address, correlationID: id))
                reply = nil
            } else if status.jobIds.count > configuration.pageLimit {
                reply = error(.invalidRequest, "at most \(configuration.pageLimit) job ids in one status request, not \(status.jobIds.count)", correlationID: id)
            } else if status.jobIds.allSatisfy({ jobs[$0] != nil }) {
                var answer = Junction_V1_StatusReply()
                answer.jobs = status.jobIds.compactMap { jobs[$0]?.info }
                reply = WireMessage(.jobStatus(answer), correlationID: id)
            } else {
                actions.append(.query(.jobs(status.jobIds), address, correlationID: id))
                reply = nil
            }
        case .cancel(let request):
            if jobs[request.jobID] == nil {
                actions.append(.query(.cancelFinished(request.jobID), address, correlationID: id))
                reply = nil
            } else {
                cancel(request.jobID)
                var answer = Junction_V1_CancelReply()
                answer.job = jobs[request.jobID]!.info
                reply = WireMessage(.cancelled(answer), correlationID: id)
            }
        case .routes(let request):
            do {
                let table = try engine.routingTable(
                    from: request.ingress, dataBytes: Double(request.dataBytes), minimumGbps: request.minBandwidthGbps,
                    alternatives: Int(min(request.alternatives, 8)), now: time.seconds
                )
                var answer = Junction_V1_RoutesReply()
                answer.ingress = table.ingress
                answer.version = table.version
                let rows = table.rows.sorted { $0.pool < $1.pool }
                let page = pageOf(rows, key: \.pool, cursor: request.cursor, limit: pageLimit(request.limit))
                answer.rows = page.items.map(routeRow)
                answer.nextCursor = page.next
                reply = WireMessage(.routeTable(answer), correlationID: id)
            } catch {
                reply = self.error(.invalidRequest, error.description, correlationID: id)
            }
        case .pools(let request):
            var answer = Junction_V1_PoolsReply()
            let page = pageOf(engine.pools.sorted { $0.id < $1.id }, key: \.id, cursor: request.cursor, limit: pageLimit(request.limit))
            answer.pools = page.items.map(poolInfo)
            answer.nextCursor = page.next
            reply = WireMessage(.poolTable(answer), correlationID: id)
        case .snapshot(let request):
            var answer = Junction_V1_SnapshotReply()
            answer.sequence = eventSequence
            answer.epoch = epoch
            let after = request.cursor.isEmpty ? 0 : UInt64(request.cursor) ?? UInt64.max
            let limit = pageLimit(request.limit)
            // Ids only until the page is known: a page costs copies of its own jobs, not of all.
            let rest = activeInOrder.drop { (jobs[$0]?.number ?? 0) <= after }
            answer.jobs = rest.prefix(limit).compactMap { jobs[$0]?.info }
            if rest.count > limit, let last = rest.prefix(limit).last, let number = jobs[last]?.number { answer.nextCursor = "\(number)" }
            if request.cursor.isEmpty { answer.pools = engine.pools.map(poolInfo) }
            answer.routingVersion = engine.version
            reply = WireMessage(.snapshotReply(answer), correlationID: id)
        case .admin(let admin):
            switch admin.action {
            case .reloadTopology(let path):
                actions.append(.loadTopology(path: path, replyTo: address, correlationID: id))
                reply = nil
            case .setLink(let set):
                let change = LinkChange(
                    link: set.link,
                    up: set.state == .up ? true : set.state == .down ? false : nil,
                    capacityGbps: set.capacityGbps != 0 ? set.capacityGbps : nil
                )
                var answer = Junction_V1_AdminReply()
                switch changeLink(change) {
                case .success(let summary):
                    answer.ok = true
                    answer.message = summary
                case .failure(let failure):
                    answer.ok = false
                    answer.message = "\(failure); nothing changed"
                }
                reply = WireMessage(.adminReply(answer), correlationID: id)
            case nil:
                reply = error(.invalidRequest, "the admin request names no action", correlationID: id)
            }
        default:
            count("clients.unknown_message")
            reply = error(.unknownMessage, "\(message.kind) is not a request the clients endpoint serves", correlationID: id)
        }
        if let reply { actions.append(.reply(address, reply)) }
    }

    /// A request's page size: its own limit within the configured one, or the configured one.
    func pageLimit(_ asked: UInt32) -> Int {
        asked == 0 ? configuration.pageLimit : min(Int(asked), configuration.pageLimit)
    }

    /// The items after `cursor` (a key) in key order, at most `limit`, and the cursor of the next page.
    func pageOf<Item>(_ sorted: [Item], key: (Item) -> String, cursor: String, limit: Int) -> (items: ArraySlice<Item>, next: String) {
        let start = cursor.isEmpty ? 0 : (sorted.firstIndex { key($0) > cursor } ?? sorted.count)
        let items = sorted[start...].prefix(limit)
        let next = start + items.count < sorted.count ? items.last.map(key) ?? "" : ""
        return (items, next)
    }

    func routeRow(_ row: RouteRow) -> Junction_V1_RouteRow {
        var wire = Junction_V1_RouteRow()
        wire.pool = row.pool
        wire.node = row.node
        if row.isReachable {
            var path = Junction_V1_PathInfo()
            path.nodes = row.path
            path.latencyMs = row.latencyMs
            path.bottleneckGbps = row.bottleneckGbps.isFinite ? row.bottleneckGbps : 0
            path.cost = row.cost
            wire.path = path
        } else {
            wire.unreachableReason = "no path from the ingress over links that are up"
        }
        wire.hops = UInt32(row.hops)
        if let state = engine.pool(row.pool) { wire.poolInfo = poolInfo(state) }
        wire.alternatives = zip(row.alternatives, row.alternativeLatencyMs).map { nodes, latency in
            var path = Junction_V1_PathInfo()
            path.nodes = nodes
            path.latencyMs = latency
            return path
        }
        return wire
    }

    mutating func tick() {
        let now = time.seconds
        let liveness = Double(configuration.livenessMs) / 1_000
        let interval = Double(configuration.heartbeatIntervalMs) / 1_000
        for (pool, session) in sessions.sorted(by: { $0.key < $1.key }) {
            if now - session.lastHeard > liveness {
                log(.warning, "pool missed its liveness window", ["pool": pool, "silent_s": format(now - session.lastHeard)])
                poolLost(pool, reason: "missed its liveness window (\(format(now - session.lastHeard)) s silent)")
            } else if now - session.lastSent >= interval {
                var heartbeat = Junction_V1_Heartbeat()
                heartbeat.timestampMs = time.unixMs
                sendPool(pool, .heartbeat(heartbeat))
            }
        }
        // Only a few fields of each job are read: copying every active job each tick would cost
        // more than the checks.
        for id in activeOrder where activeJobs.contains(id) {
            if let until = jobs[id]?.awaitingReportUntil, now > until {
                replace(id, because: "\(jobs[id]?.pool ?? "its pool") did not report it after the controller restarted")
            } else if jobs[id]?.state == .dispatched, let sent = jobs[id]?.dispatchedAt, now - sent > configuration.dispatchTimeoutS {
                replace(id, because: "\(jobs[id]?.pool ?? "the pool") did not answer the dispatch within \(format(configuration.dispatchTimeoutS)) s")
            }
        }
        for lease in engine.expireLeases(now: now) {
            log(.warning, "lease expired", ["pool": lease.pool, "lease": "\(lease.id)"])
        }
        if waitingDirty {
            retryWaitingJobs()
        } else {
            for id in waitingJobs where (jobs[id]?.placementDeadline ?? .infinity) <= now { placeWaiting(id) }
        }
        forgetOldJobs()
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
        var next = ControllerCore(topology: topology, configuration: configuration)
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
        next.activeJobs = activeJobs
        next.activeOrder = activeOrder
        next.waitingJobs = waitingJobs
        next.waitingDirty = true
        next.idempotency = idempotency
        next.idempotencyExpiry = idempotencyExpiry
        next.finishedOrder = finishedOrder
        next.finishedHead = finishedHead
        next.runningCount = runningCount
        next.epoch = epoch
        next.advertisementsApplied = advertisementsApplied
        next.nextJobNumber = nextJobNumber
        next.nextSessionID = nextSessionID
        next.dispatchSequences = dispatchSequences
        next.eventSequence = eventSequence
        next.dropped = self.dropped
        // Active jobs hold their pool's resources again: a running job where it runs, a job whose
        // input is still on its way over its best path to the same pool.
        var pathless: [(job: String, pool: String)] = []
        for id in activeInOrder {
            guard var job = next.jobs[id], let pool = job.pool, !job.isFinished, job.lease != nil else { continue }
            job.lease = nil
            next.jobs[id] = job
            // A job sharing a GPU keeps the one its pool was told.
            let sharedGPU = job.spec.hasGpuShare ? Int(job.spec.gpuShare.gpu) : nil
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
            var cancel = Junction_V1_CancelJob()
            cancel.jobID = id
            cancel.graceS = configuration.cancelGraceS
            sendPool(pool, .cancelJob(cancel))
            replace(id, because: "no path to \(pool) carries its input after the topology reload")
        }
        log(.notice, "topology reloaded", ["path": path, "nodes": "\(topology.nodes.count)", "links": "\(topology.links.count)", "pools_dropped": "\(dropped.count)"])
        if let replyTo {
            var reply = Junction_V1_AdminReply()
            reply.ok = true
            reply.message = "loaded \(path): \(topology.nodes.count) nodes, \(topology.links.count) links, \(topology.pools.count) pools"
            actions.append(.reply(replyTo, WireMessage(.adminReply(reply), correlationID: correlationID)))
        }
    }
}

import Placement
import Topology

extension ControllerCore {
    /// Applies a link change to the live network in place: leases stay as they are, jobs whose
    /// input still crosses a link that went down move to a new path to the same pool, or are
    /// stopped there and placed again when no path carries them. Returns a message for people,
    /// or nil with the reason logged when the change names no link or an impossible capacity.
    @discardableResult
    mutating func changeLink(_ change: LinkChange) -> Result<String, LinkChangeError> {
        guard let index = engine.topology.links.firstIndex(where: { $0.id == change.link }) else {
            count("admin.unknown_link")
            return .failure(LinkChangeError(message: "no link \(change.link) in the topology"))
        }
        if let gbps = change.capacityGbps {
            guard gbps.isFinite, gbps > 0, gbps <= 1e6 else {
                return .failure(LinkChangeError(message: "capacity must be above 0 and at most 1000000 Gbps, not \(gbps)"))
            }
            engine.setLinkCapacity(index, gbps: gbps)
        }
        var moved = 0, stopped = 0
        if let up = change.up {
            engine.setLink(index, up: up)
            if !up { (moved, stopped) = rerouteInputs(crossing: index) }
        }
        waitingDirty = true
        plansDirty = true
        let state = change.up.map { $0 ? "up" : "down" } ?? "unchanged"
        let capacity = change.capacityGbps.map { ", \(format($0)) Gbps" } ?? ""
        let summary = "link \(change.link) \(state)\(capacity); \(moved) \(moved == 1 ? "job" : "jobs") moved to another path, \(stopped) placed again"
        log(.notice, summary, ["link": change.link])
        return .success(summary)
    }

    /// Moves each dispatched job whose input crosses `link` to the best path left to the same
    /// pool, holding its bandwidth again; stops and places again those that no path carries.
    private mutating func rerouteInputs(crossing link: Int) -> (moved: Int, stopped: Int) {
        var moved = 0, stopped = 0
        for id in activeOrder where activeJobs.contains(id) {
            guard let job = jobs[id], job.state == .dispatched, let pool = job.pool, let leaseID = job.lease,
                  let lease = engine.lease(leaseID), lease.slots.contains(where: { $0 >> 1 == link }) else { continue }
            engine.release(leaseID)
            var again = job.request
            again.excludedPools = Set(engine.pools.map(\.id)).subtracting([pool])
            again.explain = false
            again.explainRefusal = false
            let sharedGPU = job.spec.gpuShare?.gpu
            if let placement = try? engine.place(again, now: time.seconds), let winner = placement.winner,
               case .success(let held) = engine.hold(winner, for: again, now: time.seconds, ttl: configuration.leaseTTLS, sharedGPU: sharedGPU) {
                engine.markDispatched(held.id, sequence: job.dispatchSequence)
                jobs[id]?.lease = held.id
                jobs[id]?.path = winner.path
                jobs[id]?.estimate = winner.estimate
                persist(id)
                moved += 1
                continue
            }
            jobs[id]?.lease = nil
            stopOnPool(pool, id)
            replace(id, because: "no path to \(pool) carries its input after link \(engine.topology.links[link].id) went down", poolAtFault: false)
            stopped += 1
        }
        return (moved, stopped)
    }
}

/// Why a link change was refused.
public struct LinkChangeError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

import Foundation
import Placement

/// A pool's flap penalty, as route-flap dampening (RFC 2439) keeps one for a route: each loss of
/// its session adds one, and the sum halves every half-life.
struct FlapPenalty: Sendable {
    var value: Double
    var at: Double

    func decayed(to now: Double, halfLifeS: Double) -> Double {
        value * exp2(-max(0, now - at) / halfLifeS)
    }
}

extension ControllerCore {
    /// Whether flap dampening is on.
    var dampensFlaps: Bool { configuration.flapSuppressAt > 0 && configuration.flapHalfLifeS > 0 }

    /// A pool's flap penalty now.
    func flapPenalty(_ pool: String) -> Double {
        flapPenalties[pool]?.decayed(to: time.seconds, halfLifeS: configuration.flapHalfLifeS) ?? 0
    }

    /// Counts a loss of `pool`'s session towards its penalty. The penalty is capped at twice the
    /// suppression level, so a pool that stops flapping is back within two half-lives of it.
    mutating func penalizeFlap(_ pool: String) {
        guard dampensFlaps else { return }
        let value = min(flapPenalty(pool) + 1, 2 * configuration.flapSuppressAt)
        flapPenalties[pool] = FlapPenalty(value: value, at: time.seconds)
    }

    /// The liveness a pool registering now gets: dampened while its penalty is at or above the
    /// suppression level.
    mutating func livenessOnRegister(_ pool: String) -> PoolLiveness {
        guard dampensFlaps, flapPenalty(pool) >= configuration.flapSuppressAt else { return .up }
        if dampenedPools.insert(pool).inserted {
            count("pools.flap_dampened")
            log(.warning, "pool flapping: it gets no new work until its flap penalty decays", [
                "pool": pool, "penalty": format(flapPenalty(pool)), "reuse_below": format(configuration.flapReuseBelow),
            ])
        }
        return .dampened
    }

    /// Lets dampened pools whose penalty has decayed take work again, and forgets penalties
    /// that have decayed to almost nothing.
    mutating func releaseDampenedPools() {
        guard !flapPenalties.isEmpty else { return }
        for pool in dampenedPools.sorted() where flapPenalty(pool) < configuration.flapReuseBelow {
            dampenedPools.remove(pool)
            guard sessions[pool] != nil, engine.pool(pool)?.liveness == .dampened else { continue }
            engine.setLiveness(pool, .up, now: time.seconds)
            log(.notice, "pool's flap penalty decayed: it takes work again", ["pool": pool])
            publishPool(pool, reason: "no longer dampened")
            waitingDirty = true
            plansDirty = true
        }
        flapPenalties = flapPenalties.filter { pool, penalty in
            dampenedPools.contains(pool) || penalty.decayed(to: time.seconds, halfLifeS: configuration.flapHalfLifeS) >= 0.05
        }
    }

    /// Whether an advertisement of `pool` may be applied now. One over the session's allowance
    /// is kept, replacing any kept before it, and applied once the allowance refills: a chatty
    /// pool's newest report still arrives, at a rate that cannot churn placement.
    mutating func admitAdvertisement(_ report: PoolReport, from pool: String) -> Bool {
        let rate = configuration.advertisementsPerSecond
        guard rate > 0 else { return true }
        // Kept reports go first: a newer one must not overtake an older one already waiting.
        let admitted = heldAdvertisements[pool] == nil
            && advertisementAllowances.take(pool, now: time.seconds, rate: rate, burst: max(1, configuration.advertisementBurst))
        if !admitted {
            count("pools.advertisement_dampened")
            heldAdvertisements[pool] = report
        }
        return admitted
    }

    /// Applies the kept advertisements whose sessions have allowance again.
    mutating func applyHeldAdvertisements() {
        guard !heldAdvertisements.isEmpty else { return }
        let rate = configuration.advertisementsPerSecond
        let burst = max(1, configuration.advertisementBurst)
        for (pool, report) in heldAdvertisements.sorted(by: { $0.key < $1.key }) {
            guard sessions[pool] != nil, advertisementAllowances[pool] != nil else {
                heldAdvertisements[pool] = nil
                continue
            }
            guard advertisementAllowances.take(pool, now: time.seconds, rate: rate, burst: burst) else { continue }
            heldAdvertisements[pool] = nil
            apply(report, from: pool)
        }
    }

    /// Forgets a lost session's allowance and the advertisement it kept.
    mutating func forgetAdvertisements(of pool: String) {
        advertisementAllowances[pool] = nil
        heldAdvertisements[pool] = nil
    }
}

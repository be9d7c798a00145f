/// A token bucket: `rate` tokens a second up to `burst`; each request takes one.
struct TokenBucket: Sendable {
    var tokens: Double
    var updated: Double

    /// Refills to `now`, then takes a token if there is one.
    mutating func take(now: Double, rate: Double, burst: Double) -> Bool {
        tokens = min(burst, tokens + max(0, now - updated) * rate)
        updated = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether it would be full by `now`: its connection has been quiet long enough to forget.
    func isFull(at now: Double, rate: Double, burst: Double) -> Bool {
        tokens + max(0, now - updated) * rate >= burst
    }
}

extension Dictionary where Value == TokenBucket {
    /// Takes a token from `key`'s bucket; a key not seen before starts with a full one.
    mutating func take(_ key: Key, now: Double, rate: Double, burst: Double) -> Bool {
        if let index = index(forKey: key) { return values[index].take(now: now, rate: rate, burst: burst) }
        var bucket = TokenBucket(tokens: burst, updated: now)
        let taken = bucket.take(now: now, rate: rate, burst: burst)
        self[key] = bucket
        return taken
    }
}

extension ControllerCore {
    /// Client connections whose allowance the core keeps now.
    public var clientAllowanceCount: Int { clientAllowances.count }

    /// Whether a client connection's request is within its rate. A connection flooding the
    /// controller gets an error per request over the rate, and the others are served meanwhile.
    mutating func admit(_ address: ClientAddress) -> Bool {
        let rate = configuration.clientRequestsPerSecond
        guard rate > 0 else { return true }
        return clientAllowances.take(address, now: time.seconds, rate: rate, burst: max(1, configuration.clientRequestBurst))
    }

    /// Forgets the allowances of connections quiet long enough to have a full bucket again, at
    /// most every 10 s: memory follows the connections that are busy, not every one ever seen.
    mutating func forgetQuietClients() {
        guard time.seconds - allowancesSweptAt >= 10, !clientAllowances.isEmpty else { return }
        allowancesSweptAt = time.seconds
        let rate = configuration.clientRequestsPerSecond
        let burst = max(1, configuration.clientRequestBurst)
        clientAllowances = clientAllowances.filter { !$0.value.isFull(at: time.seconds, rate: rate, burst: burst) }
    }
}

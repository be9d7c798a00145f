import ControllerCore

/// A controller as the others sharing its store know it: its name and the endpoints it
/// advertises, with the epoch of its lease when it leads.
public struct ControllerAdvert: Sendable, Hashable {
    public var name: String
    public var pools: String
    public var clients: String
    public var events: String
    /// The fencing token of the lease: it only grows, one step per new leader.
    public var epoch: UInt64

    public init(name: String, pools: String, clients: String, events: String, epoch: UInt64 = 0) {
        self.name = name
        self.pools = pools
        self.clients = clients
        self.events = events
        self.epoch = epoch
    }
}

/// The outcome of asking for the lead.
public enum Campaign: Sendable, Hashable {
    /// This controller leads now, under this epoch.
    case won(epoch: UInt64)
    /// Another controller holds an unexpired lease; nil when nobody has led yet and the
    /// lease could not be taken (another standby took it first).
    case lost(leader: ControllerAdvert?)
}

/// A store several controllers share, of which exactly one leads at a time: a lease in the store
/// that carries a fencing token. The leader's every commit checks the token, so a deposed leader
/// cannot write; it renews the lease well before it runs out, and steps down when it cannot.
public protocol LeaderElection: AnyObject, Sendable {
    /// Takes the lead when the lease is free or has run out (the epoch grows by one); otherwise
    /// says who holds it. The lease lasts `leaseMs` by the store's own clock.
    func campaign(as advert: ControllerAdvert, leaseMs: Int64) throws -> Campaign
    /// Extends the lease this controller holds by `leaseMs` from now. Throws a `StoreError`
    /// with `deposed` set when another controller took it, any other error when the store
    /// could not be reached.
    func renew(leaseMs: Int64) throws
    /// Gives the lease up at once, so that a standby need not wait for it to run out.
    func resign()
    /// The controller whose lease is unexpired, if any.
    func leader() throws -> ControllerAdvert?
}

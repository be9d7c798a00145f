/// Where the controller listens: its pools, clients and events endpoints (Protocols/README.md).
public struct ControllerEndpoints: Sendable, Hashable {
    public var pools: String
    public var clients: String
    public var events: String

    public static let defaults = ControllerEndpoints(pools: "tcp://127.0.0.1:7410", clients: "tcp://127.0.0.1:7411", events: "tcp://127.0.0.1:7412")

    public init(pools: String, clients: String, events: String) {
        self.pools = pools
        self.clients = clients
        self.events = events
    }
}

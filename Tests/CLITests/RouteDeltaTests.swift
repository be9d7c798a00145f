import Foundation
import JunctionClient
import Synchronization
import Testing
import Wire
import ZeroMQ

/// The repository's topology files.
func repositoryTopology(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Topologies/\(name)").path
}

/// What a routing table row says about the route and the pool, without what changes by itself
/// with time (the pool's age and last advertisement).
struct RouteFacts: Hashable, CustomStringConvertible {
    var pool: String
    var path: [String]
    var latencyMs: Double
    var bottleneckGbps: Double
    var state: String
    var freeCores: Double

    init(_ row: Junction_V1_RouteRow) {
        pool = row.pool
        path = row.path.nodes
        latencyMs = row.path.latencyMs
        bottleneckGbps = row.path.bottleneckGbps
        state = row.poolInfo.state.name
        freeCores = row.poolInfo.free.cpuCores
    }

    var description: String { "\(pool): \(path.joined(separator: ">")) \(latencyMs) ms \(bottleneckGbps) Gbps \(state) \(freeCores) cores" }
}

func facts(_ follower: RouteFollower) -> Set<RouteFacts> {
    Set(follower.rows.values.map(RouteFacts.init))
}

/// A follower shared by the task that applies deltas and the test that compares; deltas that
/// arrive before the table is taken are only counted.
final class FollowerBox: Sendable {
    let state = Mutex<(follower: RouteFollower?, received: Int, applied: Int, missed: Int)>((nil, 0, 0, 0))
}

/// Sets a link's capacity through an operator request.
func setCapacity(_ link: String, _ gbps: Double, state: Junction_V1_LinkState = .unspecified, client: JunctionClient) async throws -> Junction_V1_AdminReply {
    var setLink = Junction_V1_SetLink()
    setLink.link = link
    setLink.state = state
    setLink.capacityGbps = gbps
    var request = Junction_V1_AdminRequest()
    request.setLink = setLink
    return try await client.admin(request)
}

@Suite("Route deltas", .serialized)
struct RouteDeltaTests {
    @Test func aSubscriberApplyingDeltasHoldsTheSameTableAsAFreshRequest() async throws {
        let controller = try await RunningController.start(topology: repositoryTopology("abilene.yaml"))
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let agent = try JunctionProcess(["pool", "--id", "chicago-a100", "--pools", controller.pools, "--cpu", "16", "--memory-gib", "32", "--gpus", "A100:4", "--work-dir", work])
        try await controller.waitForPools(["chicago-a100"])

        let context = try Context()
        defer { context.terminate() }
        let subscriber = try EventSubscription(context: context, endpoints: [controller.events], prefixes: ["route/Seattle"], name: "route-test")
        defer { subscriber.close() }
        let client = try JunctionClient(endpoint: controller.clients, timeout: 10)
        defer { client.close() }
        let box = FollowerBox()
        let reader = Task {
            for await batch in subscriber.incoming {
                for delivery in batch {
                    guard let payload = delivery.message.frames.last, let message = try? WireMessage(bytes: payload),
                          case .event(let event) = message.body, case .route(let delta) = event.kind else { continue }
                    box.state.withLock { state in
                        state.received += 1
                        switch state.follower?.apply(delta) {
                        case .applied: state.applied += 1
                        case .needsTable: state.missed += 1
                        case .alreadyHeld, nil: break
                        }
                    }
                }
            }
        }
        defer { reader.cancel() }
        // The table is taken once the subscription has reached the controller, as the Clone
        // pattern asks: a change to the Seattle-Sunnyvale row, published at once by the routes
        // request that follows it, is repeated until its delta arrives.
        var probe = 9.9
        try await waitUntil("the subscription reaching the controller", within: 30) {
            probe = probe == 9.9 ? 9.8 : 9.9
            #expect(try await setCapacity("Seattle-Sunnyvale", probe, client: client).ok)
            _ = try await RouteFollower.take(ingress: "Seattle", from: client)
            try await Task.sleep(for: .milliseconds(200))
            return (box.state.withLock { $0.received } > 0, "no route delta yet")
        }
        let taken = try await RouteFollower.take(ingress: "Seattle", from: client)
        box.state.withLock { $0.follower = taken }
        let before = facts(taken)

        // A burst of link changes, some undone, with capacity changes among them, and an agent
        // that leaves (its row changes state).
        let changes: [(String, Junction_V1_LinkState, Double)] = [
            ("Seattle-Denver", .down, 0), ("Sunnyvale-Denver", .down, 0), ("Seattle-Denver", .up, 0), ("Kansas_City-Indianapolis", .down, 0),
            ("Los_Angeles-Houston", .unspecified, 2.5), ("Seattle-Denver", .down, 0), ("Houston-Atlanta", .down, 0), ("Sunnyvale-Denver", .up, 0),
            ("Chicago-Indianapolis", .unspecified, 1), ("Kansas_City-Indianapolis", .up, 0), ("New_York-Chicago", .down, 0), ("Denver-Kansas_City", .unspecified, 40),
        ]
        for (index, (link, state, capacity)) in changes.enumerated() {
            let reply = try await setCapacity(link, capacity, state: state, client: client)
            #expect(reply.ok, "\(reply.message)")
            if index == 6 { agent.signal(SIGTERM) }
        }
        #expect(try await agent.finish(within: 15).status == 0)

        // Every fresh request brings the published table to its version first, so the follower
        // catches up with what a new request sees.
        var fresh: Set<RouteFacts> = []
        try await waitUntil("the follower holding the fresh table", within: 30) {
            fresh = facts(try await RouteFollower.take(ingress: "Seattle", from: client))
            let held = box.state.withLock { $0.follower.map(facts) } ?? []
            return (held == fresh, "held \(held.sorted { $0.pool < $1.pool }) fresh \(fresh.sorted { $0.pool < $1.pool })")
        }
        let (applied, missed) = box.state.withLock { ($0.applied, $0.missed) }
        #expect(fresh != before, "the burst changed the table")
        #expect(applied >= 1, "the table changed through deltas")
        #expect(missed == 0, "no delta was lost or out of order on loopback")

        controller.process.signal(SIGTERM)
        #expect(try await controller.process.finish(within: 15).status == 0)
    }
}

import Testing
import Topology

@Suite("Pools attached by location")
struct PoolAttachmentTests {
    private let network = """
    name: two-cities
    nodes:
      - {id: Paris, location: {lat: 48.85, lon: 2.35}}
      - {id: Berlin, location: {lat: 52.52, lon: 13.40}}
    links:
      - {between: [Paris, Berlin], latency_ms: 9}
    """

    @Test func aPoolNearAPointGoesToTheNearestNodeWithANoteSayingHowFar() throws {
        let topology = try Topology.load(yaml: network, file: "net.yaml").topology
        let (attached, notes) = try topology.attachingPools(yaml: """
        pools:
          - id: potsdam
            near: {lat: 52.39, lon: 13.06}
            capacity: {cpu_cores: 64}
          - id: lyon
            node: Paris
            capacity: {cpu_cores: 8}
        """, file: "pools.yaml")
        #expect(attached.pools.map(\.id).sorted() == ["lyon", "potsdam"])
        let potsdam = try #require(attached.pools.first { $0.id == "potsdam" })
        #expect(attached.nodes[potsdam.node].id == "Berlin")
        #expect(notes["potsdam"]?.contains("attached to the nearest node, Berlin, 27 km away") == true, "\(notes)")
        #expect(notes["lyon"] == nil)
    }

    @Test func problemsNameTheFileAndLine() throws {
        let topology = try Topology.load(yaml: network, file: "net.yaml").topology
        #expect { try topology.attachingPools(yaml: "nodes: []", file: "pools.yaml") } throws: { error in
            (error as? TopologyErrors)?.problems.first?.description.contains("pools.yaml:1") == true
        }
        #expect { try topology.attachingPools(yaml: "pools:\n  - id: x\n    near: {lat: north}\n", file: "pools.yaml") } throws: { error in
            let problem = (error as? TopologyErrors)?.problems.first
            return problem?.location.line == 3 && problem?.message.contains("`near` needs numeric lat and lon") == true
        }
        // A pool that does not validate is reported as the topology loader reports it.
        #expect(throws: TopologyErrors.self) { try topology.attachingPools(yaml: "pools:\n  - id: x\n    node: Rome\n", file: "pools.yaml") }
    }
}

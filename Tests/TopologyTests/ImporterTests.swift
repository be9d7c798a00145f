import Foundation
import Testing
@testable import Topology

/// A small Zoo-style GraphML network: speeds raw and by label, a node without coordinates,
/// parallel links, a self-loop and a disconnected part.
let sampleGraphML = """
<?xml version="1.0" encoding="utf-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key attr.name="LinkLabel" attr.type="string" for="edge" id="d1" />
  <key attr.name="LinkSpeedRaw" attr.type="double" for="edge" id="d2" />
  <key attr.name="label" attr.type="string" for="node" id="d3" />
  <key attr.name="Latitude" attr.type="double" for="node" id="d4" />
  <key attr.name="Longitude" attr.type="double" for="node" id="d5" />
  <key attr.name="Country" attr.type="string" for="node" id="d6" />
  <key attr.name="Internal" attr.type="int" for="node" id="d7" />
  <key attr.name="Network" attr.type="string" for="graph" id="d8" />
  <graph edgedefault="undirected">
    <data key="d8">Sample Net</data>
    <node id="0"><data key="d3">New York</data><data key="d4">40.71427</data><data key="d5">-74.00597</data><data key="d6">United States</data><data key="d7">1</data></node>
    <node id="1"><data key="d3">Chicago</data><data key="d4">41.85003</data><data key="d5">-87.65005</data><data key="d7">1</data></node>
    <node id="2"><data key="d3">Peer &amp; Co</data><data key="d7">0</data></node>
    <node id="3"><data key="d3">New York</data><data key="d4">40.7</data><data key="d5">-74.0</data></node>
    <node id="4"><data key="d3">Island</data><data key="d4">10</data><data key="d5">10</data></node>
    <node id="5"><data key="d3">Atoll</data><data key="d4">10.1</data><data key="d5">10.1</data></node>
    <edge source="0" target="1"><data key="d2">10000000000</data></edge>
    <edge source="0" target="1"><data key="d1">OC-48</data></edge>
    <edge source="1" target="2"><data key="d1">Green Link</data></edge>
    <edge source="0" target="3"><data key="d1">45 Mbps DS-3</data></edge>
    <edge source="3" target="3"><data key="d1">loop</data></edge>
    <edge source="4" target="5"><data key="d1">2x10Gb/s</data></edge>
  </graph>
</graphml>
"""

@Suite("Importers")
struct ImporterTests {
    @Test func graphMLImportsEveryFeatureAndSaysWhatItAssumed() throws {
        let imported = try GraphMLImporter.importTopology(Data(sampleGraphML.utf8), file: "sample.graphml", options: ImportOptions(defaultCapacityGbps: 5, defaultLatencyMs: 2))
        let topology = imported.topology
        #expect(topology.name == "sample_net")
        #expect(topology.source?.contains("Internet Topology Zoo: Sample Net") == true)
        #expect(topology.nodes.map(\.id) == ["New_York", "Chicago", "Peer_Co", "New_York-2", "Island", "Atoll"])
        #expect(topology.nodes[0].name == "New York")
        #expect(topology.nodes[0].labels == ["country": "United States"])
        #expect(topology.nodes[2].labels == ["external": "yes"])
        #expect(topology.nodes[2].location == nil)

        #expect(topology.links.count == 5, "the self-loop is dropped")
        #expect(topology.links.map(\.id) == ["New_York-Chicago", "New_York-Chicago#2", "Chicago-Peer_Co", "New_York-New_York-2", "Island-Atoll"])
        #expect(topology.links.map(\.capacityGbps) == [10, 48 * 0.05184, 5, 0.045, 20])
        #expect(topology.links[2].latencyMs == 2 && !topology.links[2].latencyDerived)
        let distance = topology.nodes[0].location!.distanceKm(to: topology.nodes[1].location!)
        #expect(abs(topology.links[0].latencyMs - distance / 200) < 1e-9)
        #expect(imported.linksWithDefaultCapacity == 1)
        #expect(imported.linksWithDefaultLatency == 1)
        #expect(imported.notes.contains { $0.contains("1 of 5 links give no recognisable speed") })
        #expect(imported.notes.contains { $0.contains("1 self-loops dropped") })
        #expect(imported.notes.contains { $0.contains("2 disconnected parts") })

        let reloaded = try Topology.load(yaml: topology.yaml(), file: "sample.yaml")
        #expect(reloaded.warnings.map(\.code) == [.disconnected])
        #expect(reloaded.topology.links.count == 5)
    }

    @Test func brokenXMLIsAnErrorWithALine() {
        let error = #expect(throws: ImportError.self) {
            try GraphMLImporter.importTopology(Data("<graphml>\n<node id=\"1\"\n<<".utf8), file: "bad.graphml")
        }
        #expect(error?.line != nil)
        #expect(error?.description.hasPrefix("bad.graphml:") == true)
    }

    @Test func aFileThatIsNotUTF8IsRefusedBeforeTheXMLParserSeesIt() {
        // Foundation's parser traps on an element name that is not UTF-8.
        let bytes = Array("<graphml>\n<".utf8) + [0xCD] + Array("key/></graphml>".utf8)
        let error = #expect(throws: ImportError.self) {
            try GraphMLImporter.importTopology(Data(bytes), file: "latin.graphml")
        }
        #expect(error?.line == 2)
        #expect(error?.description.contains("not UTF-8 (byte 12 starts no character)") == true, "\(String(describing: error))")
    }

    @Test func aProcessingInstructionWithoutDataIsReadPastNotCrashedOn() throws {
        // Foundation's parser reads a bare instruction's missing data through a null pointer.
        let document = """
            <?xml?><graphml><?layout?><graph edgedefault="undirected">
            <node id="0"><?pi?></node><node id="1"/><!-- <?pi?> -->
            <edge source="0" target="1"/></graph></graphml>
            """
        let imported = try GraphMLImporter.importTopology(Data(document.utf8), file: "bare.graphml")
        #expect(imported.topology.nodes.count == 2)
        #expect(imported.topology.links.count == 1)
        // Blanked, not removed: what follows keeps its line and column.
        let blanked = blankingBareProcessingInstructions(Data("<a><?pi?><b/></a>".utf8))
        #expect(String(decoding: blanked, as: UTF8.self) == "<a>      <b/></a>")
        let untouched = "<a><?pi data?><?pi ?><b c=\"?>\"/></a>"
        #expect(String(decoding: blankingBareProcessingInstructions(Data(untouched.utf8)), as: UTF8.self) == untouched)
        // Found by the fuzzer: a parser that goes on after a `<` inside an attribute value.
        let inTag = "<graphml><key a=\"x<?xml v=\" /><?xml?><node id=\"1\"/></graphml>"
        #expect(String(decoding: blankingBareProcessingInstructions(Data(inTag.utf8)), as: UTF8.self).contains("<?xml?>") == false)
        let broken = #expect(throws: ImportError.self) {
            try GraphMLImporter.importTopology(Data("<graphml><?pi?>\n<node id=\"1\"\n<<".utf8), file: "bad.graphml")
        }
        #expect(broken?.line == 3, "\(String(describing: broken))")
    }

    @Test(arguments: [
        ("OC-192c", 9.95328), ("OC192/STM64", 9.95328), ("POS OC-48", 2.48832), ("OC3 and below/STM1", 0.15552),
        ("STM-16", 2.48832), ("STM-64x2", 19.90656), ("45 Mbps DS-3", 0.045), ("internetMCI T3", 0.044736),
        ("ANS CO+RE T1", 0.001544), ("E1", 0.002048), ("155M", 0.155), ("155 Mbps", 0.155), ("10 Gbps", 10),
        ("1-20Gbps", 1), ("1-2.5 Gb/s", 1), ("10-34 Mb/s", 0.01), ("300M-1Gb/s", 0.3), ("2x10Gb/s", 20),
        ("< 2.5 Gbps", 2.5), ("<= 10 Mbps", 0.01), ("DTP-Ring 2.5 Gbit/s", 2.5), ("GigE", 1), ("10GE", 10),
        ("Conexion G-REUNA 1 Gbps", 1), ("Managed Fiber (10Gbps, 100Mbps)", 10),
    ])
    func linkLabelsGiveSpeeds(label: String, gbps: Double) throws {
        let speed = try #require(linkSpeedGbps(fromLabel: label), "\(label)")
        #expect(abs(speed - gbps) < 1e-9, "\(label): \(speed)")
    }

    @Test(arguments: ["Green Link", "Fibre ottica spenta (Dark Fibre)", "SeaMeWe-3", "Completion 2007-2008", "72 Lambda ROADM Network", "Red"])
    func labelsWithoutASpeedGiveNone(label: String) {
        #expect(linkSpeedGbps(fromLabel: label) == nil)
    }

    @Test func rocketfuelPairsDirectionsAndKeepsAsymmetricOnesOneWay() throws {
        let latencies = """
        Sydney,+Australia1 Perth,+Australia2 20
        Perth,+Australia2 Sydney,+Australia1 20
        Sydney,+Australia1 Darwin,+Australia3 15
        Darwin,+Australia3 Sydney,+Australia1 17
        """
        let weights = """
        Sydney,+Australia1 Perth,+Australia2 5
        Perth,+Australia2 Sydney,+Australia1 5
        """
        let imported = try RocketfuelImporter.importTopology(latencies: latencies, weights: weights, file: "latencies.intra", name: "telstra")
        let topology = imported.topology
        #expect(topology.nodes.map(\.id) == ["Sydney_Australia1", "Perth_Australia2", "Darwin_Australia3"])
        #expect(topology.nodes[0].name == "Sydney, Australia1")
        #expect(topology.links.count == 3)
        #expect(topology.links[0].bidirectional && topology.links[0].latencyMs == 20 && topology.links[0].cost == 5)
        #expect(!topology.links[1].bidirectional && topology.links[1].latencyMs == 15)
        #expect(!topology.links[2].bidirectional && topology.links[2].latencyMs == 17)
        #expect(try Topology.load(yaml: topology.yaml(), file: "t.yaml").warnings.isEmpty)
    }

    @Test func rocketfuelReadsWindowsLineEnds() throws {
        let imported = try RocketfuelImporter.importTopology(latencies: "a b 1\r\nb a 1\r\nb c 2\r\n", file: "latencies.intra", name: "crlf")
        #expect(imported.topology.nodes.count == 3)
        #expect(imported.topology.links.count == 2)
    }

    @Test func rocketfuelRejectsAMalformedLineWithItsNumber() {
        let error = #expect(throws: ImportError.self) {
            try RocketfuelImporter.importTopology(latencies: "a b 1\nc d fast\n", file: "latencies.intra", name: "x")
        }
        #expect(error?.line == 2)
    }
}

@Suite("Shipped topologies")
struct ShippedTopologyTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Topologies")

    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasSuffix(".yaml") }.sorted()

    @Test func theExpectedNetworksShip() {
        #expect(Set(Self.files).isSuperset(of: ["abilene.yaml", "chinanet-edwc.yaml", "geant2012.yaml", "cogentco.yaml"]))
    }

    @Test(arguments: files)
    func everyShippedFileValidatesAndRoundTrips(file: String) throws {
        let path = Self.directory.appendingPathComponent(file).path
        let loaded = try Topology.load(contentsOf: path)
        #expect(loaded.warnings.allSatisfy { $0.code == .disconnected })
        let again = try Topology.load(yaml: loaded.topology.yaml(), file: file)
        #expect(again.topology.nodes.count == loaded.topology.nodes.count)
        #expect(again.topology.links.count == loaded.topology.links.count)
        #expect(again.topology.pools.count == loaded.topology.pools.count)
    }

    @Test func theDemoNetworkHasPoolsOfDifferentShapes() throws {
        let topology = try Topology.load(contentsOf: Self.directory.appendingPathComponent("abilene.yaml").path).topology
        let gpuModels = Set(topology.pools.flatMap { $0.capacity.gpus.keys })
        #expect(gpuModels.count >= 2)
        #expect(topology.pools.contains { $0.capacity.gpuCount == 0 })
        #expect(topology.pools.contains { $0.speed > 1 })
        #expect(topology.pools.contains { $0.price.cpuCoreHour < 0.01 })
    }
}

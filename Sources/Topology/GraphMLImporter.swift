import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Imports Internet Topology Zoo GraphML: node labels and coordinates, link speeds from
/// `LinkSpeedRaw` or a recognisable `LinkLabel`, latency from great-circle distance.
public enum GraphMLImporter {
    public static func importTopology(_ data: Data, file: String, name: String? = nil, options: ImportOptions = ImportOptions()) throws(ImportError) -> ImportedTopology {
        // Foundation's XMLParser traps on a name that is not UTF-8 instead of failing; GraphML is
        // UTF-8 (every Topology Zoo file says so), so anything else is refused before it is parsed.
        if let bad = firstNonUTF8(data) {
            throw ImportError(file: file, line: bad.line, message: "not UTF-8 (byte \(bad.offset + 1) starts no character); GraphML files are read as UTF-8")
        }
        let document = GraphMLDocument()
        let parser = XMLParser(data: blankingBareProcessingInstructions(data))
        parser.delegate = document
        guard parser.parse() else {
            let reason = parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"
            throw ImportError(file: file, line: parser.lineNumber, message: "not well-formed XML: \(reason)")
        }
        guard !document.nodes.isEmpty else {
            throw ImportError(file: file, message: "the GraphML file has no nodes")
        }

        var notes: [String] = []
        var ids = UniqueIDs()
        var nodes: [Topology.Node] = []
        var indexByGraphMLID: [String: Int] = [:]
        var withoutLocation: [String] = []
        for raw in document.nodes {
            let label = raw.data["label"]?.trimmingCharacters(in: .whitespacesAndNewlines)
            let id = ids.claim(identifier(from: label ?? "", fallback: "n\(raw.id)"))
            var location: GeoLocation?
            if let lat = raw.data["Latitude"].flatMap(Double.init), let lon = raw.data["Longitude"].flatMap(Double.init),
               (-90...90).contains(lat), (-180...180).contains(lon) {
                location = GeoLocation(latitude: lat, longitude: lon)
            } else {
                withoutLocation.append(id)
            }
            var labels: [String: String] = [:]
            if let country = raw.data["Country"], !country.isEmpty { labels["country"] = country }
            if raw.data["Internal"] == "0" { labels["external"] = "yes" }
            indexByGraphMLID[raw.id] = nodes.count
            nodes.append(Topology.Node(id: id, name: label.flatMap { $0 != id && !$0.isEmpty ? $0 : nil }, location: location, labels: labels))
        }

        var links: [Topology.Link] = []
        var defaultCapacity = 0, defaultLatency = 0, selfLoops = 0, dangling = 0
        for edge in document.edges {
            guard let from = indexByGraphMLID[edge.source], let to = indexByGraphMLID[edge.target] else {
                dangling += 1
                continue
            }
            guard from != to else {
                selfLoops += 1
                continue
            }
            var capacity: Double
            if let raw = edge.data["LinkSpeedRaw"].flatMap(Double.init), raw > 0 {
                capacity = raw / 1e9
            } else if let label = edge.data["LinkLabel"], let speed = linkSpeedGbps(fromLabel: label), speed > 0 {
                capacity = speed
            } else {
                capacity = options.defaultCapacityGbps
                defaultCapacity += 1
            }
            var latency = options.defaultLatencyMs
            var derived = false
            if let a = nodes[from].location, let b = nodes[to].location {
                latency = a.distanceKm(to: b) / options.propagationKmPerMs
                derived = true
            } else {
                defaultLatency += 1
            }
            links.append(Topology.Link(
                id: "\(nodes[from].id)-\(nodes[to].id)", from: from, to: to, bidirectional: !document.directed,
                latencyMs: latency, capacityGbps: capacity, cost: 1, latencyDerived: derived
            ))
        }
        // Parallel links keep their own ids, as the loader names them.
        var seen: [String: Int] = [:]
        for index in links.indices {
            let base = links[index].id
            let count = seen[base, default: 0] + 1
            seen[base] = count
            if count > 1 { links[index].id = "\(base)#\(count)" }
        }

        let networkName = name ?? document.graphData["Network"].map { identifier(from: $0.lowercased(), fallback: "network") }
            ?? identifier(from: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent.lowercased(), fallback: "network")
        let zooName = document.graphData["Network"]?.trimmingCharacters(in: .whitespaces) ?? networkName
        let date = document.graphData["NetworkDate"].map { " (\($0))" } ?? ""
        let topology = Topology(
            name: networkName,
            source: "Internet Topology Zoo: \(zooName)\(date), CC BY 4.0; Knight et al., \"The Internet Topology Zoo\", IEEE JSAC 29(9), 2011",
            defaults: Topology.Defaults(linkCapacityGbps: options.defaultCapacityGbps, linkCost: 1, propagationKmPerMs: options.propagationKmPerMs),
            nodes: nodes, links: links, pools: []
        )

        notes.append("\(nodes.count) nodes, \(links.count) links")
        if defaultCapacity > 0 {
            notes.append("\(defaultCapacity) of \(links.count) links give no recognisable speed and take the default \(format(options.defaultCapacityGbps)) Gbps")
        }
        if !withoutLocation.isEmpty {
            let listed = withoutLocation.prefix(6).joined(separator: ", ") + (withoutLocation.count > 6 ? ", …" : "")
            notes.append("\(withoutLocation.count) nodes have no coordinates (\(listed)); their \(defaultLatency) links take the default latency \(format(options.defaultLatencyMs)) ms")
        }
        if selfLoops > 0 { notes.append("\(selfLoops) self-loops dropped") }
        if dangling > 0 { notes.append("\(dangling) edges naming unknown nodes dropped") }
        let parts = topology.connectedComponents().count
        if parts > 1 { notes.append("the network has \(parts) disconnected parts, as in the source") }
        return ImportedTopology(topology: topology, notes: notes, linksWithDefaultCapacity: defaultCapacity, linksWithDefaultLatency: defaultLatency)
    }
}

/// The parts of a GraphML document the importer reads.
private final class GraphMLDocument: NSObject, XMLParserDelegate {
    struct Element {
        var id: String
        var source = ""
        var target = ""
        var data: [String: String] = [:]
    }

    var keyNames: [String: String] = [:]
    var graphData: [String: String] = [:]
    var nodes: [Element] = []
    var edges: [Element] = []
    var directed = false

    private var current: Element?
    private var currentIsEdge = false
    private var dataKey: String?
    private var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        switch name {
        case "key":
            if let id = attributes["id"], let attribute = attributes["attr.name"] { keyNames[id] = attribute }
        case "graph":
            directed = attributes["edgedefault"] == "directed"
        case "node":
            current = Element(id: attributes["id"] ?? "\(nodes.count)")
            currentIsEdge = false
        case "edge":
            current = Element(id: attributes["id"] ?? "\(edges.count)", source: attributes["source"] ?? "", target: attributes["target"] ?? "")
            currentIsEdge = true
        case "data":
            dataKey = attributes["key"]
            text = ""
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if dataKey != nil { text += string }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "data":
            if let key = dataKey {
                let attribute = keyNames[key] ?? key
                if current != nil { current?.data[attribute] = text } else { graphData[attribute] = text }
            }
            dataKey = nil
        case "node", "edge":
            if let element = current {
                if currentIsEdge { edges.append(element) } else { nodes.append(element) }
            }
            current = nil
        default:
            break
        }
    }
}

/// `data` with everything that reads as a processing instruction with a target and no data
/// (`<?name?>`) turned into as many spaces, wherever it stands. Foundation's XMLParser reads the
/// missing data through a null pointer and crashes on one, and after an error inside a tag it
/// goes on parsing where a stricter reading would not, so no place is skipped; the import ignores
/// processing instructions anyway, and spaces keep every line and column where they were.
func blankingBareProcessingInstructions(_ data: Data) -> Data {
    var bytes = [UInt8](data)
    let count = bytes.count
    func isNameByte(_ byte: UInt8) -> Bool {
        byte >= 0x80 || (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x2D || byte == 0x2E || byte == 0x3A || byte == 0x5F
    }
    var index = 0
    while index + 1 < count {
        guard bytes[index] == UInt8(ascii: "<"), bytes[index + 1] == UInt8(ascii: "?") else {
            index += 1
            continue
        }
        var end = index + 2
        while end < count, isNameByte(bytes[end]) { end += 1 }
        if end > index + 2, end + 1 < count, bytes[end] == UInt8(ascii: "?"), bytes[end + 1] == UInt8(ascii: ">") {
            for at in index...(end + 1) { bytes[at] = UInt8(ascii: " ") }
            index = end + 2
        } else {
            index += 2
        }
    }
    return Data(bytes)
}

/// Where `data` stops being UTF-8: the byte offset and its line, or nil when all of it is.
private func firstNonUTF8(_ data: Data) -> (offset: Int, line: Int)? {
    var bytes = data.makeIterator()
    var parser = Unicode.UTF8.ForwardParser()
    var offset = 0, line = 1
    while true {
        switch parser.parseScalar(from: &bytes) {
        case .valid(let encoded):
            if encoded.count == 1, encoded.first == 0x0A { line += 1 }
            offset += encoded.count
        case .emptyInput:
            return nil
        case .error:
            return (offset, line)
        }
    }
}

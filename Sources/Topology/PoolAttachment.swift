import Foundation
import Yams

extension Topology {
    /// The topology with the pools of a `pools:` list (topology-file syntax) added; a pool may
    /// give `near: {lat, lon}` instead of `node`, and is attached to the nearest node with
    /// coordinates by great-circle distance. Returns a note per pool so attached, saying how far
    /// away the node is: an assumption, not data. Every problem names `file` and its line.
    public func attachingPools(yaml text: String, file: String) throws(TopologyErrors) -> (topology: Topology, notes: [String: String]) {
        func refuse(_ message: String, line: Int = 1) -> TopologyErrors {
            TopologyErrors(problems: [TopologyProblem(.error, .invalidValue, at: SourceLocation(file: file, line: line, column: 1), message)])
        }
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw refuse("not YAML: \(error)")
        }
        guard case .mapping(let mapping)? = root, case .sequence(let items)? = mapping["pools"] else {
            throw refuse("the file must hold a `pools:` list")
        }
        var notes: [String: String] = [:]
        var resolved: [Yams.Node] = []
        for item in items {
            guard case .mapping(var pool) = item else { throw refuse("every pool must be a mapping", line: (item.mark?.line ?? 1)) }
            if let near = pool["near"], pool["node"] == nil {
                guard let lat = near["lat"]?.float, let lon = near["lon"]?.float,
                      let nearest = nearestNode(to: GeoLocation(latitude: lat, longitude: lon)) else {
                    throw refuse("`near` needs numeric lat and lon, and the topology needs nodes with coordinates", line: near.mark?.line ?? 1)
                }
                let id = nodes[nearest.node].id
                pool = Yams.Node.Mapping(pool.filter { $0.key != "near" } + [(Yams.Node("node"), Yams.Node(id))])
                notes[pool["id"]?.string ?? "?"] = "at (\(lat), \(lon)); attached to the nearest node, \(id), \(Int(nearest.distanceKm.rounded())) km away (an assumption)"
            }
            resolved.append(.mapping(pool))
        }
        let poolsText: String
        do {
            poolsText = try Yams.serialize(node: .mapping(Yams.Node.Mapping([(Yams.Node("pools"), .sequence(Yams.Node.Sequence(resolved)))])))
        } catch {
            throw refuse("cannot write the pools back as YAML: \(error)")
        }
        return (try Topology.load(yaml: yaml() + poolsText, file: file).topology, notes)
    }
}

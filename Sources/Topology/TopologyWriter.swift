import Foundation

extension Topology {
    /// The topology as a topology file: one line per node and link, pools in block style.
    /// Latencies the loader would derive from locations are left out, so the file has one source
    /// of truth for them. `header` lines become comments at the top; `notes` add a comment above
    /// the pool or node with that id.
    public func yaml(header: [String] = [], notes: [String: String] = [:]) -> String {
        var out = ""
        for line in header { out += line.isEmpty ? "#\n" : "# \(line)\n" }
        if !header.isEmpty { out += "\n" }
        out += "name: \(quoted(name))\n"
        if let source { out += "source: \(quoted(source))\n" }
        out += "defaults:\n"
        out += "  link_capacity_gbps: \(format(defaults.linkCapacityGbps))\n"
        out += "  link_cost: \(format(defaults.linkCost))\n"
        out += "  propagation_km_per_ms: \(format(defaults.propagationKmPerMs))\n"

        out += "nodes:\n"
        for node in nodes {
            if let note = notes[node.id] { out += "  # \(note)\n" }
            var fields = ["id: \(quoted(node.id))"]
            if let name = node.name { fields.append("name: \(quoted(name))") }
            if let region = node.region { fields.append("region: \(quoted(region))") }
            if let location = node.location {
                fields.append("location: {lat: \(coordinate(location.latitude)), lon: \(coordinate(location.longitude))}")
            }
            if !node.labels.isEmpty { fields.append("labels: \(flowMap(node.labels))") }
            out += "  - {\(fields.joined(separator: ", "))}\n"
        }

        if !links.isEmpty {
            out += "links:\n"
            for link in links {
                let ends = link.bidirectional
                    ? "between: [\(quoted(nodes[link.from].id)), \(quoted(nodes[link.to].id))]"
                    : "from: \(quoted(nodes[link.from].id)), to: \(quoted(nodes[link.to].id))"
                var fields: [String] = []
                let generatedID = "\(nodes[link.from].id)-\(nodes[link.to].id)"
                if link.id != generatedID, !link.id.hasPrefix(generatedID + "#") { fields.append("id: \(quoted(link.id))") }
                fields.append(ends)
                if !link.latencyDerived { fields.append("latency_ms: \(format(link.latencyMs))") }
                if link.capacityGbps != defaults.linkCapacityGbps { fields.append("capacity_gbps: \(format(link.capacityGbps))") }
                if link.cost != defaults.linkCost { fields.append("cost: \(format(link.cost))") }
                if !link.isUp { fields.append("state: down") }
                if link.transferPricePerGB > 0 { fields.append("transfer_price_per_gb: \(format(link.transferPricePerGB))") }
                out += "  - {\(fields.joined(separator: ", "))}\n"
            }
        }

        if !pools.isEmpty {
            out += "pools:\n"
            for pool in pools {
                if let note = notes[pool.id] { out += "  # \(note)\n" }
                out += "  - id: \(quoted(pool.id))\n"
                out += "    node: \(quoted(nodes[pool.node].id))\n"
                var capacity = ["cpu_cores: \(format(pool.capacity.cpuCores))"]
                if pool.capacity.memoryBytes > 0 { capacity.append("memory_gib: \(format(pool.capacity.memoryGiB))") }
                if !pool.capacity.gpus.isEmpty {
                    capacity.append("gpus: {\(pool.capacity.gpus.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \($0.value)" }.joined(separator: ", "))}")
                }
                out += "    capacity: {\(capacity.joined(separator: ", "))}\n"
                if !pool.labels.isEmpty { out += "    labels: \(flowMap(pool.labels))\n" }
                if pool.price != Price() {
                    var price: [String] = []
                    if pool.price.cpuCoreHour > 0 { price.append("cpu_core_hour: \(format(pool.price.cpuCoreHour))") }
                    if !pool.price.gpuHour.isEmpty {
                        price.append("gpu_hour: {\(pool.price.gpuHour.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(format($0.value))" }.joined(separator: ", "))}")
                    }
                    out += "    price: {\(price.joined(separator: ", "))}\n"
                }
                if pool.speed != 1 { out += "    speed: \(format(pool.speed))\n" }
                if pool.queueWaitS > 0 { out += "    queue_wait_s: \(format(pool.queueWaitS))\n" }
                if pool.processingLatencyMs > 0 { out += "    processing_latency_ms: \(format(pool.processingLatencyMs))\n" }
            }
        }
        return out
    }

    private func coordinate(_ value: Double) -> String {
        var text = String(format: "%.5f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    private func flowMap(_ map: [String: String]) -> String {
        "{\(map.sorted { $0.key < $1.key }.map { "\(quoted($0.key)): \(quoted($0.value))" }.joined(separator: ", "))}"
    }
}

/// A YAML scalar for flow context: plain when that reads back as the same text, double-quoted
/// otherwise.
func quoted(_ text: String) -> String {
    let reserved: Set<String> = ["", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"]
    let plainSafe = text.unicodeScalars.allSatisfy { scalar in
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "-", "/", "(", ")", " ": true
        default: scalar.value > 0x7F && scalar.properties.isAlphabetic
        }
    }
    let looksNumeric = Double(text) != nil || text.first.map { "-.0123456789".contains($0) } == true
    if plainSafe, !reserved.contains(text.lowercased()), !looksNumeric, text.first != " ", text.last != " " {
        return text
    }
    var escaped = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        default:
            if scalar.value < 0x20 {
                escaped += String(format: "\\x%02X", scalar.value)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
    }
    return escaped + "\""
}

import ArgumentParser
import ClientCommands
import Foundation
import Topology

struct ImportTopology: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert Topology Zoo GraphML or Rocketfuel maps into topology files.",
        discussion: """
        GraphML (Internet Topology Zoo): node labels and coordinates; link capacity from LinkSpeedRaw \
        or a recognisable LinkLabel (OC-192, STM-16, "10 Gbps", "155M", DS-3, ...), else the default; \
        latency from great-circle distance. Rocketfuel weights-dist: measured latencies from \
        latencies.intra, costs from a weights.intra beside it.

        --pools adds a `pools:` list in the topology format, where a pool may give `near: {lat, lon}` \
        instead of `node`: it is attached to the nearest node by great-circle distance, and the \
        output says so, since that attachment is an assumption, not data.

        --check imports and validates every file given and prints one line each, without writing \
        anything; it exits non-zero when any file fails.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case graphml, rocketfuel
    }

    @Option(help: "Input format: graphml or rocketfuel (default: from the file name).")
    var format: Format?

    @Argument(help: "Files to import (with --check, any number).")
    var files: [String]

    @Option(help: "The topology's name (default: from the source).")
    var name: String?

    @Option(help: "Capacity for links whose speed is not given, in Gbps.")
    var defaultCapacityGbps: Double = 10

    @Option(help: "Latency for links with an end that has no coordinates, in ms.")
    var defaultLatencyMs: Double = 1

    @Option(help: "A YAML file with a `pools:` list to attach.")
    var pools: String?

    @Option(name: .shortAndLong, help: "Write the topology here instead of standard output.")
    var output: String?

    @Flag(help: "Import and validate every file; write nothing.")
    var check = false

    func validate() throws {
        try checkRanges([("--default-capacity-gbps", defaultCapacityGbps, .leastNonzeroMagnitude, 1e6), ("--default-latency-ms", defaultLatencyMs, 0, 1e7)])
        guard check || files.count == 1 else {
            throw ValidationError("give one file to import, or use --check to check many")
        }
    }

    private var options: ImportOptions {
        ImportOptions(defaultCapacityGbps: defaultCapacityGbps, defaultLatencyMs: defaultLatencyMs)
    }

    func run() throws {
        if check {
            try checkAll()
            return
        }
        let file = files[0]
        let imported = try importFile(file)
        var topology = imported.topology
        var notes: [String: String] = [:]
        var header = [
            "Imported by `junction topology import` from \(URL(fileURLWithPath: file).lastPathComponent).",
            "Source: \(topology.source ?? "unknown").",
        ]
        header += imported.notes.map { "Import: \($0)." }
        if let pools {
            (topology, notes) = try attachPools(from: pools, to: topology)
            if !notes.isEmpty {
                header.append("Pools with a `near` point are attached to the nearest node by great-circle distance: an assumption, not data.")
            }
        }
        let text = topology.yaml(header: header, notes: notes)
        // What is written must load back: check before writing anything.
        do {
            _ = try Topology.load(yaml: text, file: output ?? "<output>")
        } catch {
            for problem in error.problems { printError(problem.description) }
            throw CommandFailure("the imported topology does not validate; nothing was written")
        }
        for note in imported.notes { printError("note: \(note)") }
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
            printError("wrote \(output): \(topology.nodes.count) nodes, \(topology.links.count) links, \(topology.pools.count) pools")
        } else {
            print(text, terminator: "")
        }
    }

    private func importFile(_ file: String) throws -> ImportedTopology {
        let format = self.format ?? (file.hasSuffix(".intra") ? .rocketfuel : .graphml)
        switch format {
        case .graphml:
            guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
            return try GraphMLImporter.importTopology(data, file: file, name: name, options: options)
        case .rocketfuel:
            let latencies = try String(contentsOfFile: file, encoding: .utf8)
            let weightsFile = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("weights.intra").path
            let weights = try? String(contentsOfFile: weightsFile, encoding: .utf8)
            let directory = URL(fileURLWithPath: file).deletingLastPathComponent().lastPathComponent
            return try RocketfuelImporter.importTopology(latencies: latencies, weights: weights, file: file, name: name ?? "rocketfuel-\(directory)", options: options)
        }
    }

    private func checkAll() throws {
        var failed = 0
        for file in files {
            do {
                let imported = try importFile(file)
                let text = imported.topology.yaml()
                let loaded = try Topology.load(yaml: text, file: file)
                let warnings = loaded.warnings.isEmpty ? "" : ", \(loaded.warnings.count) warnings (\(Set(loaded.warnings.map(\.code.rawValue)).sorted().joined(separator: ", ")))"
                print("ok    \(file): \(loaded.topology.nodes.count) nodes, \(loaded.topology.links.count) links, \(imported.linksWithDefaultCapacity) default capacities, \(imported.linksWithDefaultLatency) default latencies\(warnings)")
            } catch let error as TopologyErrors {
                failed += 1
                print("FAIL  \(file): \(error.errors.count) errors; first: \(error.errors.first.map(\.message) ?? "")")
            } catch {
                failed += 1
                print("FAIL  \(file): \(error)")
            }
        }
        print("\(files.count - failed) of \(files.count) files imported and validated")
        if failed > 0 { throw ExitCode(1) }
    }

    /// Adds the pools of a `pools:` file, resolving `near: {lat, lon}` to the nearest node.
    private func attachPools(from file: String, to topology: Topology) throws -> (Topology, [String: String]) {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw CommandFailure("cannot read \(file): \(error.localizedDescription)")
        }
        do {
            return try topology.attachingPools(yaml: text, file: file)
        } catch {
            for problem in error.problems { printError("in the pools of \(file): \(problem.description)") }
            throw CommandFailure("the pools in \(file) do not validate against the imported network")
        }
    }
}

import ControllerCore
import Foundation
import PoolAgentCore
import Testing
import Yams

/// A file of the repository's Deploy folder.
func deployFile(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Deploy/\(name)").path
}

/// The documents of a multi-document YAML file, each a dictionary.
func manifests(_ name: String) throws -> [[String: Any]] {
    let text = try String(contentsOfFile: deployFile(name), encoding: .utf8)
    return try Yams.load_all(yaml: text).map { try #require($0 as? [String: Any], "a document of \(name) is not a mapping") }
}

/// A nested value by keys.
func value(_ object: Any?, _ path: String...) -> Any? {
    var current = object
    for key in path { current = (current as? [String: Any])?[key] }
    return current
}

/// Metric names in a PromQL expression, without the histogram suffixes.
func metricNames(in expression: String) -> Set<String> {
    let regex = try! NSRegularExpression(pattern: "junction_[a-z_]+")
    let range = NSRange(expression.startIndex..., in: expression)
    return Set(regex.matches(in: expression, range: range).compactMap { match in
        Range(match.range, in: expression).map { String(expression[$0]) }
    }.map { name in
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    })
}

/// Whether a container engine answers here; the image is built only then.
func containerEngine() -> String? {
    for engine in ["docker", "podman"] {
        for directory in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(directory)/\(engine)") {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "\(directory)/\(engine)")
            process.arguments = ["info"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { continue }
            process.waitUntilExit()
            if process.terminationStatus == 0 { return "\(directory)/\(engine)" }
        }
    }
    return nil
}

@Suite("The deployment files")
struct DeploymentFilesTests {
    static let exported = Set(ControllerMetrics.help.keys).union(AgentMetrics.help.keys)

    @Test func theKubernetesManifestsFitTogether() throws {
        let controller = try manifests("kubernetes/controller.yaml")
        let agents = try manifests("kubernetes/pool-agent.yaml")
        let monitoring = try manifests("kubernetes/monitoring.yaml")
        for document in controller + agents + monitoring {
            #expect(document["apiVersion"] is String && document["kind"] is String && value(document, "metadata", "name") is String, "\(document)")
        }
        let service = try #require(controller.first { $0["kind"] as? String == "Service" })
        let statefulSet = try #require(controller.first { $0["kind"] as? String == "StatefulSet" })
        let daemonSet = try #require(agents.first { $0["kind"] as? String == "DaemonSet" })

        // The controller: its state on a claimed volume, the admin port probed and served.
        let pod = try #require(value(statefulSet, "spec", "template") as? [String: Any])
        let container = try #require((value(pod, "spec", "containers") as? [[String: Any]])?.first)
        let arguments = try #require(container["args"] as? [String])
        #expect(arguments.first == "controller")
        #expect(arguments.contains("--admin=0.0.0.0:7413"))
        let claims = try #require(value(statefulSet, "spec", "volumeClaimTemplates") as? [[String: Any]])
        let stateClaim = try #require(claims.first.flatMap { value($0, "metadata", "name") as? String })
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
        let stateMount = try #require(mounts.first { $0["name"] as? String == stateClaim }?["mountPath"] as? String)
        #expect(arguments.contains("--state=\(stateMount)"), "the store lives on the claimed volume")
        let ports = try #require(container["ports"] as? [[String: Any]])
        let portNames = Set(ports.compactMap { $0["name"] as? String })
        #expect(ports.contains { $0["name"] as? String == "admin" && $0["containerPort"] as? Int == 7413 })
        #expect(value(container, "readinessProbe", "httpGet", "path") as? String == "/readyz")
        #expect(value(container, "livenessProbe", "httpGet", "path") as? String == "/healthz")
        for (option, port) in [("--pools", 7410), ("--clients", 7411), ("--events", 7412)] {
            #expect(arguments.contains("\(option)=tcp://0.0.0.0:\(port)"))
            #expect(ports.contains { $0["containerPort"] as? Int == port })
        }
        // The Service selects the controller's pods and names their ports.
        let podLabels = try #require(value(pod, "metadata", "labels") as? [String: String])
        let selector = try #require(value(service, "spec", "selector") as? [String: String])
        #expect(selector.allSatisfy { podLabels[$0.key] == $0.value })
        let servicePorts = try #require(value(service, "spec", "ports") as? [[String: Any]])
        for port in servicePorts { #expect(portNames.contains(port["targetPort"] as? String ?? ""), "\(port)") }
        // Every volume mounted is declared.
        let declared = Set(((value(pod, "spec", "volumes") as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }).union(claims.compactMap { value($0, "metadata", "name") as? String })
        for mount in mounts { #expect(declared.contains(mount["name"] as? String ?? ""), "\(mount)") }

        // The agents: an admin port, keys from a mounted secret.
        let agentPod = try #require(value(daemonSet, "spec", "template") as? [String: Any])
        let agent = try #require((value(agentPod, "spec", "containers") as? [[String: Any]])?.first)
        let agentArguments = try #require(agent["args"] as? [String])
        #expect(agentArguments.first == "pool" && agentArguments.contains("--admin=0.0.0.0:7414"))
        let agentPorts = try #require(agent["ports"] as? [[String: Any]])
        #expect(agentPorts.contains { $0["name"] as? String == "admin" && $0["containerPort"] as? Int == 7414 })
        let keyMount = try #require((agent["volumeMounts"] as? [[String: Any]])?.first { $0["name"] as? String == "keys" }?["mountPath"] as? String)
        for variable in (agent["env"] as? [[String: Any]]) ?? [] where (variable["name"] as? String)?.hasPrefix("JUNCTION_") == true && (variable["name"] as? String)?.hasSuffix("KEY") == true {
            #expect((variable["value"] as? String)?.hasPrefix(keyMount + "/") == true, "\(variable)")
        }

        // The monitors find the Service and the agents' pods, on their admin ports.
        let serviceMonitor = try #require(monitoring.first { $0["kind"] as? String == "ServiceMonitor" })
        let serviceLabels = try #require(value(service, "metadata", "labels") as? [String: String])
        let wanted = try #require(value(serviceMonitor, "spec", "selector", "matchLabels") as? [String: String])
        #expect(wanted.allSatisfy { serviceLabels[$0.key] == $0.value })
        #expect((value(serviceMonitor, "spec", "endpoints") as? [[String: Any]])?.first?["port"] as? String == "admin")
        let podMonitor = try #require(monitoring.first { $0["kind"] as? String == "PodMonitor" })
        let agentLabels = try #require(value(agentPod, "metadata", "labels") as? [String: String])
        let wantedPods = try #require(value(podMonitor, "spec", "selector", "matchLabels") as? [String: String])
        #expect(wantedPods.allSatisfy { agentLabels[$0.key] == $0.value })
        #expect((value(podMonitor, "spec", "podMetricsEndpoints") as? [[String: Any]])?.first?["port"] as? String == "admin")
    }

    @Test func theGrafanaDashboardShowsMetricsTheDaemonsExport() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: deployFile("grafana/junction.json")))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(dashboard["title"] as? String == "Junction")
        let inputs = (dashboard["__inputs"] as? [[String: Any]]) ?? []
        #expect(inputs.contains { $0["name"] as? String == "DS_PROMETHEUS" && $0["pluginId"] as? String == "prometheus" })
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 10)
        #expect(Set(panels.compactMap { $0["id"] as? Int }).count == panels.count, "panel ids are unique")
        var shown = Set<String>()
        for panel in panels {
            #expect(panel["gridPos"] is [String: Any] && panel["title"] is String)
            let targets = try #require(panel["targets"] as? [[String: Any]], "\(panel["title"] ?? "")")
            for target in targets {
                let names = metricNames(in: try #require(target["expr"] as? String))
                #expect(!names.isEmpty)
                for name in names { #expect(Self.exported.contains(name), "\(panel["title"] ?? ""): \(name) is not a metric Junction exports") }
                shown.formUnion(names)
            }
        }
        #expect(shown.count >= 20, "the dashboard shows most of the metrics: \(shown.sorted())")
    }

    @Test func thePrometheusConfigurationAndRulesPassPromtool() throws {
        let promtool = try requiredProgram("promtool")
        let config = try run(promtool, ["check", "config", deployFile("prometheus/prometheus.yml")], input: "")
        #expect(config.status == 0, "\(config.output)")
        let rules = try run(promtool, ["check", "rules", deployFile("prometheus/junction-rules.yml")], input: "")
        #expect(rules.status == 0, "\(rules.output)")
        let text = try String(contentsOfFile: deployFile("prometheus/junction-rules.yml"), encoding: .utf8)
        for name in metricNames(in: text) { #expect(Self.exported.contains(name), "\(name) is not a metric Junction exports") }
    }

    @Test func theSystemdUnitsStartFromConfigurationFilesTheExamplesShowWhole() async throws {
        // The examples' own neighbours: the topology, key pairs and access file they name.
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: deployFile("../Topologies/abilene.yaml"), toPath: folder + "/topology.yaml")
        for name in ["controller", "chicago-a100"] {
            let made = try await junction("keygen", "--out", "\(folder)/\(name)")
            #expect(made.status == 0, "\(made.errors)")
        }
        try "key: controller.key\npools:\n  - {name: chicago-a100, key: chicago-a100.pub, pools: [chicago-a100]}\n"
            .write(toFile: folder + "/access.yaml", atomically: true, encoding: .utf8)
        for (daemon, unit, example) in [("controller", "junction-controller.service", "controller.yaml.example"), ("pool", "junction-pool.service", "pool.yaml.example")] {
            let text = try String(contentsOfFile: deployFile(unit), encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            #expect(lines.contains("ExecStart=/usr/local/bin/junction \(daemon) --config /etc/junction/\(daemon).yaml"), "\(unit)")
            #expect(lines.contains("ExecStartPre=/usr/local/bin/junction config check /etc/junction/\(daemon).yaml --daemon \(daemon)"), "\(unit)")
            let file = "\(folder)/\(daemon).yaml"
            try FileManager.default.copyItem(atPath: deployFile(example), toPath: file)
            let checked = try await junction("config", "check", file, "--daemon", daemon)
            #expect(checked.status == 0, "\(example): \(checked.errors)")
        }
    }

    @Test(.enabled(if: containerEngine() != nil, "no container engine answers `docker info` or `podman info` here: the image was not built"))
    func theContainerImageBuildsAndRuns() async throws {
        let engine = try #require(containerEngine())
        let root = URL(fileURLWithPath: deployFile("")).deletingLastPathComponent().path
        let tag = "junction-test:\(UUID().uuidString.prefix(8).lowercased())"
        let build = try JunctionProcess(["build", "-f", deployFile("Containerfile"), "-t", tag, root], program: URL(fileURLWithPath: engine))
        let built = try await build.finish(within: 3_600)
        #expect(built.status == 0, "\(built.errors.suffix(3_000))")
        let version = try await JunctionProcess(["run", "--rm", tag, "--version"], program: URL(fileURLWithPath: engine)).finish(within: 120)
        #expect(version.status == 0 && !version.output.isEmpty, "\(version.errors)")
        _ = try await JunctionProcess(["rmi", tag], program: URL(fileURLWithPath: engine)).finish(within: 120)
    }
}

import ControllerCore
import Placement
import Topology

/// GPU allocation as a cluster fills: pods arrive one after another and never leave, the way the
/// published openb policy comparisons measure placement quality. Every machine of the cluster is a
/// pool at one network node, so a policy chooses the machine, and the controller core places every
/// pod; pods asking for part of a GPU share GPUs. A pod that fits no machine is dropped.
public struct AllocationReplay {
    /// The allocation curve of one run.
    public struct Curve: Sendable, Hashable, Codable {
        public var policy: String
        public var seed: UInt64
        /// Allocated share of the cluster's GPUs, in %, once the arrived GPU demand reaches 0, 1, …
        /// `maximumPercent` % of the cluster's GPUs. A pod asking for part of a GPU counts its part.
        public var allocatedPercent: [Double]
        /// The same steps, counting GPUs taken whole: by whole-GPU pods, or shared by part-GPU pods.
        public var heldPercent: [Double]
        public var placed: Int
        public var dropped: Int
        public var totalGPUs: Int
    }

    public var nodes: [TraceNode]
    public var pods: [TraceJob]
    public var policy: Policy
    /// Arrived GPU demand at which the replay stops, as % of the cluster's GPUs.
    public var maximumPercent = 130
    public var useGPUModels = true
    public var seed: UInt64 = 42

    public init(nodes: [TraceNode], pods: [TraceJob], policy: Policy) {
        self.nodes = nodes
        self.pods = pods
        self.policy = policy
    }

    /// The cluster as a topology: one node, a pool per machine.
    public var cluster: Topology {
        let pools = nodes.map { node in
            Topology.Pool(id: node.id, node: 0, capacity: Resources(
                cpuCores: node.cpuCores, memoryBytes: node.memoryBytes,
                gpus: node.gpus > 0 ? [node.gpuModel ?? "gpu": node.gpus] : [:]
            ))
        }
        return Topology(name: "cluster", nodes: [Topology.Node(id: "cluster")], links: [], pools: pools)
    }

    /// Pods in a seeded random order, the list reshuffled each time it runs out, until their GPU
    /// demand reaches `maximumPercent` % of the cluster's GPUs.
    public var arrivals: [TraceJob] {
        let totalGPUs = Double(nodes.reduce(0) { $0 + $1.gpus })
        let demanding = pods.filter { $0.gpuCount > 0 || $0.cpuCores > 0 }
        guard totalGPUs > 0, demanding.contains(where: { $0.gpuCount > 0 }) else { return [] }
        var generator = SeededGenerator(seed: seed)
        var result: [TraceJob] = []
        var demand = 0.0
        let target = totalGPUs * Double(maximumPercent) / 100
        while demand < target {
            for pod in demanding.shuffled(using: &generator) {
                result.append(pod)
                demand += Double(pod.gpuCount) * pod.gpuShare
                if demand >= target { break }
            }
        }
        return result
    }

    /// Places every arriving pod and records the curve; `progress` hears the share done.
    public func run(progress: (Double) -> Void = { _ in }) -> Curve {
        var configuration = ControllerConfiguration()
        // Every request here stands for many users, not one connection: no per-connection limit.
        configuration.clientRequestsPerSecond = 0
        configuration.advertisementsPerSecond = 0
        configuration.policy = policy
        configuration.explainRefusals = false
        configuration.staleAfterS = .infinity
        configuration.livenessMs = .max
        // Pods never leave: one that finds no room now is dropped, as in the published replay,
        // not planned for a start that never comes.
        configuration.planHorizonS = 0
        var core = ControllerCore(topology: cluster, configuration: configuration)
        let now = ControllerTime(seconds: 0, unixMs: 0)
        for node in nodes {
            _ = core.handle(.fromPool(peer: Array(node.id.utf8), correlationID: 0, .register(PoolRegistration(poolID: node.id))), now: now)
        }
        let totalGPUs = Double(nodes.reduce(0) { $0 + $1.gpus })
        let pods = arrivals
        var curve = Curve(policy: policy.name, seed: seed, allocatedPercent: [0], heldPercent: [0], placed: 0, dropped: 0, totalGPUs: Int(totalGPUs))
        var demand = 0.0
        var allocated = 0.0
        for (position, pod) in pods.enumerated() {
            var request = PlacementRequest(
                ingress: "cluster", cpuCores: pod.cpuCores, memoryBytes: pod.memoryBytes, gpuCount: pod.gpuCount,
                gpuModels: useGPUModels ? pod.gpuModels : [], runtimeS: pod.runtimeS, explain: false
            )
            if pod.gpuCount == 1, pod.gpuShare < 1 { request.gpuShare = pod.gpuShare }
            let submission = Submission(request: request, spec: JobSpec(command: "simulated", name: pod.id))
            let actions = core.handle(.fromClient(ClientAddress(frames: [[0]]), correlationID: 0, .submit(submission)), now: now)
            let placed = actions.contains { action in
                if case .reply(_, _, .submitted) = action { return true }
                return false
            }
            if placed {
                curve.placed += 1
                allocated += Double(pod.gpuCount) * pod.gpuShare
            } else {
                curve.dropped += 1
            }
            demand += Double(pod.gpuCount) * pod.gpuShare
            // One point per whole percent of arrived demand, taken as the demand crosses it.
            while curve.allocatedPercent.count <= maximumPercent, demand >= Double(curve.allocatedPercent.count) / 100 * totalGPUs {
                curve.allocatedPercent.append(allocated / totalGPUs * 100)
                // GPUs no longer free as wholes, as the engine counts them.
                let held = core.engine.pools.reduce(0) { $0 + $1.total.gpuCount - $1.available.gpuCount }
                curve.heldPercent.append(Double(held) / totalGPUs * 100)
            }
            if position % 500 == 0 { progress(Double(position) / Double(pods.count)) }
        }
        progress(1)
        return curve
    }
}

/// Published allocation curves: `workload,sc_policy,tune,seed,total_gpus,0,1,…` with the allocated
/// GPU share in % at each % of arrived demand.
public struct PublishedCurves: Sendable {
    /// The mean curve of one policy on one workload, over its seeds.
    public struct Mean: Sendable, Hashable, Codable {
        public var workload: String
        public var policy: String
        public var seeds: Int
        public var percent: [Double]
    }

    public var curves: [Mean]

    /// Reads the CSV; a malformed row names its line.
    public init(csv text: String) throws(TraceError) {
        let rows = TraceReader.lines(text)
        guard let header = rows.first else { throw TraceError(line: 1, message: "empty file") }
        let names = TraceReader.fields(header.text)
        guard names.prefix(2) == ["workload", "sc_policy"], let first = names.firstIndex(of: "0") else {
            throw TraceError(line: 1, message: "expected the header workload,sc_policy,tune,seed,…,0,1,…")
        }
        var sums: [String: (workload: String, policy: String, seeds: Int, sum: [Double])] = [:]
        var keys: [String] = []
        for row in rows.dropFirst() {
            let values = TraceReader.fields(row.text)
            guard values.count == names.count else {
                throw TraceError(line: row.number, message: "expected \(names.count) fields, found \(values.count)")
            }
            var points: [Double] = []
            for value in values[first...] {
                guard let number = Double(value) else { throw TraceError(line: row.number, message: "\"\(value)\" is not a number") }
                points.append(number)
            }
            let key = values[0] + "/" + values[1]
            if var entry = sums[key] {
                entry.seeds += 1
                entry.sum = zip(entry.sum, points).map(+)
                sums[key] = entry
            } else {
                sums[key] = (values[0], values[1], 1, points)
                keys.append(key)
            }
        }
        curves = keys.compactMap { sums[$0] }.map { entry in
            Mean(workload: entry.workload, policy: entry.policy, seeds: entry.seeds, percent: entry.sum.map { $0 / Double(entry.seeds) })
        }
    }

    /// The workloads the file covers.
    public var workloads: [String] { Array(Set(curves.map(\.workload))).sorted() }
}

import ControllerCore
import HeapModule
import Placement
import Topology

/// What to simulate: a network with its pools, a workload, and how jobs enter it.
public struct SimulationSetup: Sendable {
    public var topology: Topology
    public var jobs: [TraceJob]
    public var policy: Policy
    /// Where jobs without an ingress of their own enter.
    public var ingress: IngressWeights
    /// Input data for jobs whose trace does not say.
    public var dataSize: DataSize = .fixed(0)
    /// Bandwidth each transfer reserves on its path while the data moves; 0 reserves none and
    /// moves the data at the path's free bandwidth.
    public var transferGbps: Double = 1
    /// Arrival times are divided by this: 2 compresses the trace to twice the load.
    public var timeScale: Double = 1
    /// Use the trace's GPU model constraints; off when the network's models differ from the trace's.
    public var useGPUModels = true
    /// A latency budget, ingress to pool, for a share of the jobs.
    public var latencyBudgetMs: Double?
    /// The share of jobs with the latency budget, drawn at random.
    public var budgetShare: Double = 1
    public var failures: [Failure] = []
    /// How many times a planned job may move to another pool for an earlier completion.
    public var maxPlanMoves: UInt32 = 3
    /// Points in the utilisation series.
    public var samples = 200
    public var seed: UInt64 = 1

    public init(topology: Topology, jobs: [TraceJob], policy: Policy, ingress: IngressWeights) {
        self.topology = topology
        self.jobs = jobs
        self.policy = policy
        self.ingress = ingress
    }
}

/// Allocated and busy shares of the network's CPU cores and GPUs over time, from the start to
/// the last arrival plus the 95th-percentile completion time, so a few very long jobs do not
/// flatten the busy period into the first interval.
public struct UtilisationSeries: Sendable, Hashable, Codable {
    /// The end of each interval, in simulated seconds.
    public var timeS: [Double] = []
    /// Time-weighted mean share held by jobs (placed, moving input or running), per interval.
    public var cpuAllocated: [Double] = []
    public var gpuAllocated: [Double] = []
    /// Time-weighted mean share used by running jobs, per interval.
    public var cpuBusy: [Double] = []
    public var gpuBusy: [Double] = []
}

/// What a simulation measured.
public struct SimulationReport: Sendable, Hashable, Codable {
    public var policy: String
    public var jobs: Int
    public var completed: Int
    /// Jobs that fit no pool even when the network was empty.
    public var neverFit: Int
    /// Jobs given up on after failures took their pool or path too often.
    public var failed: Int
    /// Jobs still waiting when nothing else was left to happen (their pool or path never came back).
    public var stillWaiting: Int
    public var meanCompletionS: Double
    public var p50CompletionS: Double
    public var p95CompletionS: Double
    public var p99CompletionS: Double
    /// Completion time at each percentile 0…100, for a CDF.
    public var completionPercentilesS: [Double]
    public var meanQueueS: Double
    public var meanTransferS: Double
    /// Jobs with a latency budget, and those whose path went over it.
    public var budgetJobs: Int
    public var budgetViolations: Int
    /// Jobs placed again after their pool failed or their path went away.
    public var replacements: Int
    /// Jobs whose input moved to another path after a link failed.
    public var reroutes: Int
    /// Data moved times the distance it travelled, in GB·km (latency × the topology's km per ms).
    public var gigabyteKilometres: Double
    /// Time-weighted mean share of CPU cores and GPUs held, from the first arrival to the last.
    public var meanCPUAllocation: Double
    public var meanGPUAllocation: Double
    /// What the jobs would hold if each ran from its arrival at speed 1 (cores or GPUs over time),
    /// over what the pools hold, between the times 5 % and 95 % of the jobs have arrived: above
    /// 1, work comes faster than the pools at speed 1 do it, and a backlog grows. The window
    /// leaves out a trace's sparse first and last arrivals (Philly's first 40 days bring 0.3 % of
    /// its jobs), and counts runs that began before it.
    public var offeredCPULoad: Double
    public var offeredGPULoad: Double
    public var utilisation: UtilisationSeries
    public var simulatedSeconds: Double
    public var events: Int
}

/// One job's course through a simulation.
public struct JobRecord: Sendable, Hashable, Codable {
    public var id: String
    public var ingress: String
    public var dataBytes: Double
    public var arrivalS: Double
    /// When it was first placed; nil when it never was.
    public var startS: Double?
    /// When it ended; nil when it did not complete.
    public var endS: Double?
    /// The pool it ended on (or last ran on).
    public var pool: String?
    public var transferS: Double
    /// Path latency to its pool, in ms.
    public var pathLatencyMs: Double
    /// How many times it was placed: more than 1 after a failure moved it.
    public var placements: Int
    public var budgetBroken: Bool
}

/// A discrete-event simulation that drives the controller core itself: pools register with it,
/// jobs are submitted to it at their arrival on a virtual clock, and its dispatches start them.
/// A dispatched job's input moves over its leased path (holding the bandwidth), then it runs,
/// and both steps go back to the core as the job updates a pool agent sends. A job with no room
/// now is planned by the core on a pool to start later, and dispatched by the core's tick when
/// its start comes; the simulation keeps no queue of its own. Failures reach the core as a pool
/// leaving or a link going down.
public struct Simulator {
    /// Ticks come last at a time, so that a job ending then has freed its pool.
    private enum Kind: Int { case finish = 0, inputArrived, restore, fail, arrival, tick }

    private struct Event: Comparable {
        var time: Double
        var kind: Kind
        var order: Int
        var subject: Int
        var generation: Int

        static func < (a: Event, b: Event) -> Bool {
            (a.time, a.kind.rawValue, a.order) < (b.time, b.kind.rawValue, b.order)
        }
    }

    /// One trace job as the simulation follows it.
    private struct Run {
        var arrival: Double
        var ingress: String
        var dataBytes: Double
        var budgetMs: Double?
        var coreID: String?
        var pool: String?
        var path: [String] = []
        var generation = 0
        var firstStart: Double?
        var inputStarted = 0.0
        var inputArrives = 0.0
        var finished: Double?
        var transferS = 0.0
        var distanceKm = 0.0
        var held = (cpu: 0.0, gpu: 0.0)
        var busy = false
        var violated = false
        var failed = false
        /// Whether the empty network could take it, once asked: the answer never changes.
        var fitsEmpty: Bool?
        var placements = 0
        var lastPool: String?
    }

    private let setup: SimulationSetup
    private var core: ControllerCore
    /// The network with nothing running and nothing failed: a job it cannot take never fits.
    private var pristine: PlacementEngine
    private var queue = Heap<Event>()
    /// When the core's tick is next scheduled for a planned start.
    private var tickAt = Double.infinity
    private var order = 0
    private var now = 0.0
    private var runs: [Run]
    private var runOfCoreID: [String: Int] = [:]
    /// Links down, with how many failures hold each down (failures may overlap).
    private var downLinks: [Int: Int] = [:]
    private var neverFit = 0
    private var replacements = 0
    private var reroutes = 0
    private var events = 0
    private let kmPerMs: Double
    private let totalCPU: Double
    private let totalGPU: Double
    private var allocated = (cpu: 0.0, gpu: 0.0)
    private var busy = (cpu: 0.0, gpu: 0.0)
    /// (time, allocated CPU, allocated GPU, busy CPU, busy GPU) after each change.
    private var changes: [(Double, Double, Double, Double, Double)] = [(0, 0, 0, 0, 0)]

    public init(_ setup: SimulationSetup) {
        self.setup = setup
        var configuration = ControllerConfiguration()
        // Every request here stands for many users, not one connection: no per-connection limit;
        // and a pool's reports arrive when the simulation says, not when a rate allows.
        configuration.clientRequestsPerSecond = 0
        configuration.advertisementsPerSecond = 0
        configuration.policy = setup.policy
        configuration.explainRefusals = false
        configuration.staleAfterS = .infinity
        configuration.livenessMs = .max
        configuration.dispatchTimeoutS = .infinity
        // The lease time limit frees what a lost release would leave held; nothing is lost here,
        // so no lease needs one, not even that of a job whose input is still moving after a week.
        // Over 300 years: finite, because a lease's expiry goes out as Unix milliseconds.
        configuration.leaseTTLS = 1e10
        configuration.heartbeatIntervalMs = .max
        // Every job that fits the empty network is planned, however far ahead, or waits in the
        // core while failures leave nothing that can take it.
        configuration.planHorizonS = .infinity
        configuration.queueUnplaceable = true
        configuration.placementDeadlineS = .infinity
        configuration.maxPlanMoves = setup.maxPlanMoves
        // A failure here is the failure schedule's, not a flaky pool's: a pool that comes back
        // may take its jobs again at once.
        configuration.exclusionS = 0
        core = ControllerCore(topology: setup.topology, configuration: configuration)
        pristine = PlacementEngine(topology: setup.topology, declaredLiveness: .up)
        pristine.staleAfterS = .infinity
        // Every policy sees the same ingresses, data sizes and budgets for the same seed.
        var generator = SeededGenerator(seed: setup.seed)
        runs = setup.jobs.map { job in
            let ingress = job.ingress ?? setup.ingress.draw(using: &generator)
            let data = job.dataBytes ?? setup.dataSize.draw(using: &generator)
            let budgeted = setup.latencyBudgetMs != nil && Double.random(in: 0..<1, using: &generator) < setup.budgetShare
            return Run(arrival: job.arrivalS / setup.timeScale, ingress: ingress, dataBytes: data, budgetMs: budgeted ? setup.latencyBudgetMs : nil)
        }
        kmPerMs = setup.topology.defaults.propagationKmPerMs
        totalCPU = setup.topology.pools.reduce(0) { $0 + $1.capacity.cpuCores }
        totalGPU = Double(setup.topology.pools.reduce(0) { $0 + $1.capacity.gpuCount })
    }

    private func time() -> ControllerTime {
        ControllerTime(seconds: now, unixMs: Int64(now * 1_000))
    }

    private mutating func schedule(_ kind: Kind, at time: Double, subject: Int, generation: Int = 0) {
        order += 1
        queue.insert(Event(time: time, kind: kind, order: order, subject: subject, generation: generation))
    }

    /// Runs every event; `progress` is told the share of jobs done now and then.
    public mutating func run(progress: (Double) -> Void = { _ in }) -> SimulationReport {
        for pool in setup.topology.pools { register(pool.id) }
        for index in runs.indices { schedule(.arrival, at: runs[index].arrival, subject: index) }
        for (index, failure) in setup.failures.enumerated() {
            schedule(.fail, at: failure.atS, subject: index)
            if let until = failure.untilS { schedule(.restore, at: until, subject: index) }
        }
        var done = 0
        let step = max(1, runs.count / 100)
        while let event = queue.popMin() {
            now = event.time
            events += 1
            switch event.kind {
            case .arrival:
                submit(event.subject)
            case .inputArrived:
                guard runs[event.subject].generation == event.generation else { continue }
                inputArrived(event.subject)
                // The path's bandwidth is free again.
                tick()
            case .finish:
                guard runs[event.subject].generation == event.generation else { continue }
                finish(event.subject)
                done += 1
                if done % step == 0 { progress(Double(done) / Double(runs.count)) }
                tick()
            case .fail:
                fail(setup.failures[event.subject])
                tick()
            case .restore:
                restore(setup.failures[event.subject])
                tick()
            case .tick:
                guard event.time == tickAt else { continue }
                tickAt = .infinity
                tick()
            }
            scheduleTick()
        }
        progress(1)
        return report()
    }

    /// Lets the core do what is due: planned starts, waiting jobs, plans to revise.
    private mutating func tick() {
        perform(core.handle(.tick, now: time()))
    }

    /// Makes sure the core ticks when its next planned job is due.
    private mutating func scheduleTick() {
        guard let next = core.nextPlannedStart(), next < tickAt else { return }
        tickAt = max(next, now)
        schedule(.tick, at: tickAt, subject: 0)
    }

    // MARK: Talking to the core as pools and clients do

    private mutating func register(_ pool: String) {
        perform(core.handle(.fromPool(peer: Array(pool.utf8), correlationID: 0, .register(PoolRegistration(poolID: pool))), now: time()))
    }

    private mutating func update(_ index: Int, _ state: JobState) {
        guard let id = runs[index].coreID, let pool = runs[index].pool else { return }
        perform(core.handle(.fromPool(peer: Array(pool.utf8), correlationID: 0, .jobReport(JobReport(jobID: id, state: state))), now: time()))
    }

    /// Carries out what the core asked: a dispatch starts the job's input moving.
    private mutating func perform(_ actions: [ControllerAction]) {
        for action in actions {
            guard case .toPool(let peer, _, .dispatch(let dispatch)) = action,
                  let index = runOfCoreID[dispatch.jobID] else { continue }
            dispatched(index, pool: String(decoding: peer, as: UTF8.self))
        }
    }

    private func request(for index: Int) -> Submission {
        let job = setup.jobs[index]
        let run = runs[index]
        var request = PlacementRequest(
            ingress: run.ingress, cpuCores: job.cpuCores, memoryBytes: job.memoryBytes, gpuCount: job.gpuCount,
            gpuModels: setup.useGPUModels ? job.gpuModels : [], dataBytes: Double(UInt64(run.dataBytes)),
            minBandwidthGbps: run.dataBytes > 0 && setup.transferGbps > 0 ? setup.transferGbps : 0,
            // The one-sided compute policies do not look at the network, so they are not told the
            // budget; whether their choice kept it is counted afterwards.
            maxLatencyMs: networkAware ? run.budgetMs : nil,
            runtimeS: job.runtimeS, explain: false
        )
        if job.gpuCount == 1, job.gpuShare < 1 { request.gpuShare = job.gpuShare }
        return Submission(request: request, spec: JobSpec(command: "simulated", name: job.id))
    }

    private var networkAware: Bool {
        switch setup.policy {
        case .joint, .networkOnly: true
        case .computeOnly, .random: false
        }
    }

    /// Submits a job that the empty network could take; the core dispatches it now, plans it
    /// for later, or keeps it waiting while failures leave no pool for it.
    private mutating func submit(_ index: Int) {
        guard fitsEmptyNetwork(index) else {
            neverFit += 1
            return
        }
        let actions = core.handle(.fromClient(ClientAddress(frames: [[0]]), correlationID: 0, .submit(request(for: index))), now: time())
        for action in actions {
            guard case .reply(_, _, let reply) = action else { continue }
            switch reply {
            case .submitted(let reply):
                runs[index].coreID = reply.jobID
                runOfCoreID[reply.jobID] = index
                perform(actions)
            case .error:
                neverFit += 1
            default:
                break
            }
        }
    }

    /// Whether some pool could take the job if the network were empty and nothing had failed:
    /// resources, GPU models, bandwidth and latency budget all count.
    private mutating func fitsEmptyNetwork(_ index: Int) -> Bool {
        if let known = runs[index].fitsEmpty { return known }
        var request = request(for: index).request
        request.alternatives = 0
        let fits = (try? pristine.place(request, now: now))?.winner != nil
        runs[index].fitsEmpty = fits
        return fits
    }

    // MARK: A job's life

    private mutating func dispatched(_ index: Int, pool: String) {
        guard let id = runs[index].coreID, let info = core.job(id) else { return }
        if runs[index].pool != nil {
            replacements += 1
            release(index)
        }
        let job = setup.jobs[index]
        guard let estimate = info.estimate else { return }
        runs[index].pool = pool
        runs[index].lastPool = pool
        runs[index].placements += 1
        runs[index].path = info.path
        runs[index].generation += 1
        if runs[index].firstStart == nil { runs[index].firstStart = now }
        runs[index].transferS += estimate.transferS
        runs[index].distanceKm = estimate.latencyMs * kmPerMs
        if let budget = runs[index].budgetMs, estimate.latencyMs > budget { runs[index].violated = true }
        let held = (cpu: job.cpuCores, gpu: Double(job.gpuCount) * job.gpuShare)
        runs[index].held = held
        hold(cpu: held.cpu, gpu: held.gpu, busy: false)
        runs[index].inputStarted = now
        runs[index].inputArrives = now + estimate.latencyMs / 1_000 + estimate.transferS
        scheduleEnd(index, runtimeS: estimate.queueS + estimate.runtimeS)
    }

    private mutating func scheduleEnd(_ index: Int, runtimeS: Double) {
        let generation = runs[index].generation
        schedule(.inputArrived, at: runs[index].inputArrives, subject: index, generation: generation)
        schedule(.finish, at: runs[index].inputArrives + runtimeS, subject: index, generation: generation)
    }

    private mutating func inputArrived(_ index: Int) {
        runs[index].busy = true
        hold(cpu: runs[index].held.cpu, gpu: runs[index].held.gpu, busy: true)
        update(index, .running)
    }

    private mutating func finish(_ index: Int) {
        runs[index].finished = now
        update(index, .succeeded)
        release(index)
        runs[index].pool = nil
    }

    /// Stops counting a job's resources.
    private mutating func release(_ index: Int) {
        let held = runs[index].held
        hold(cpu: -held.cpu, gpu: -held.gpu, busy: false)
        if runs[index].busy { hold(cpu: -held.cpu, gpu: -held.gpu, busy: true) }
        runs[index].held = (0, 0)
        runs[index].busy = false
        runs[index].generation += 1
    }

    private mutating func hold(cpu: Double, gpu: Double, busy isBusy: Bool) {
        if isBusy {
            busy.cpu += cpu
            busy.gpu += gpu
        } else {
            allocated.cpu += cpu
            allocated.gpu += gpu
        }
        let entry = (now, allocated.cpu, allocated.gpu, busy.cpu, busy.gpu)
        if changes.last?.0 == now { changes[changes.count - 1] = entry } else { changes.append(entry) }
    }

    /// After a failure: the core either placed the job again (seen as a dispatch), planned it or
    /// keeps it waiting (it is no longer on a pool here), or gave up on it.
    private mutating func settle(_ affected: [Int]) {
        for index in affected {
            guard let id = runs[index].coreID, let info = core.job(id) else { continue }
            if info.pool == runs[index].pool, info.state == .dispatched || info.state == .running { continue }
            if runs[index].pool != nil, info.state == .accepted || info.state.isFinished {
                release(index)
                runs[index].pool = nil
            }
            switch info.state {
            case .accepted:
                replacements += 1
            case .failed:
                runs[index].failed = true
            default:
                break
            }
        }
    }

    private var active: [Int] {
        runs.indices.filter { runs[$0].pool != nil }
    }

    private mutating func fail(_ failure: Failure) {
        switch failure.target {
        case .pool(let pool):
            let affected = active.filter { runs[$0].pool == pool }
            perform(core.handle(.fromPool(peer: Array(pool.utf8), correlationID: 0, .goodbye(reason: "simulated failure \(failure.text)")), now: time()))
            settle(affected)
        case .link(let link):
            downLinks[link, default: 0] += 1
            applyLinkState(link)
        }
    }

    private mutating func restore(_ failure: Failure) {
        switch failure.target {
        case .pool(let pool):
            register(pool)
        case .link(let link):
            if let count = downLinks[link], count > 1 { downLinks[link] = count - 1 } else { downLinks[link] = nil }
            applyLinkState(link)
        }
    }

    /// Tells the core the link is down while any failure of it lasts, up otherwise; jobs whose
    /// input is still moving follow the path the core now holds for them.
    private mutating func applyLinkState(_ link: Int) {
        let moving = active.filter { !runs[$0].busy }
        let change = LinkChange(link: setup.topology.links[link].id, up: downLinks[link] == nil)
        perform(core.handle(.linkChanged(change), now: time()))
        for index in moving {
            guard let id = runs[index].coreID, let info = core.job(id), info.pool == runs[index].pool,
                  info.state == .dispatched, info.path != runs[index].path else { continue }
            // The rest of the input moves over the new path, from now.
            reroutes += 1
            guard let estimate = info.estimate else { continue }
            let span = runs[index].inputArrives - runs[index].inputStarted
            let left = span > 0 ? max(0, runs[index].inputArrives - now) / span : 0
            let transfer = estimate.transferS * left
            runs[index].transferS += transfer - max(0, runs[index].inputArrives - now)
            runs[index].path = info.path
            runs[index].distanceKm = max(runs[index].distanceKm, estimate.latencyMs * kmPerMs)
            if let budget = runs[index].budgetMs, estimate.latencyMs > budget { runs[index].violated = true }
            runs[index].generation += 1
            runs[index].inputStarted = now
            runs[index].inputArrives = now + estimate.latencyMs / 1_000 + transfer
            scheduleEnd(index, runtimeS: estimate.queueS + estimate.runtimeS)
        }
        settle(moving)
    }

    // MARK: Report

    /// Every job's course, in trace order; complete once `run` has returned.
    public var jobRecords: [JobRecord] {
        runs.indices.map { index in
            let run = runs[index]
            return JobRecord(
                id: setup.jobs[index].id, ingress: run.ingress, dataBytes: run.dataBytes, arrivalS: run.arrival,
                startS: run.firstStart, endS: run.finished, pool: run.lastPool, transferS: run.transferS,
                pathLatencyMs: kmPerMs > 0 ? run.distanceKm / kmPerMs : 0, placements: run.placements, budgetBroken: run.violated
            )
        }
    }

    private func report() -> SimulationReport {
        let completed = runs.indices.filter { runs[$0].finished != nil }
        let completions = completed.map { runs[$0].finished! - runs[$0].arrival }.sorted()
        func percentile(_ fraction: Double) -> Double {
            guard !completions.isEmpty else { return 0 }
            return completions[max(0, min(completions.count - 1, Int((fraction * Double(completions.count)).rounded(.up)) - 1))]
        }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        let lastArrival = runs.map(\.arrival).max() ?? 0
        let busyPeriod = min(now, lastArrival + percentile(0.95))
        let series = utilisation(until: busyPeriod > 0 ? busyPeriod : now)
        let steady = averages(from: 0, to: lastArrival > 0 ? lastArrival : now)
        let budgeted = runs.filter { $0.budgetMs != nil }
        let arrivals = runs.map(\.arrival).sorted()
        let window = arrivals.isEmpty ? 0...0 : arrivals[arrivals.count / 20]...arrivals[max(0, Int((Double(arrivals.count) * 0.95).rounded(.up)) - 1)]
        func offered(_ capacity: Double, _ units: (TraceJob) -> Double) -> Double {
            guard window.upperBound > window.lowerBound, capacity > 0 else { return 0 }
            let held = runs.indices.reduce(0.0) { sum, index in
                let start = runs[index].arrival
                return sum + units(setup.jobs[index]) * max(0, min(start + setup.jobs[index].runtimeS, window.upperBound) - max(start, window.lowerBound))
            }
            return held / (capacity * (window.upperBound - window.lowerBound))
        }
        return SimulationReport(
            policy: setup.policy.name, jobs: runs.count, completed: completed.count, neverFit: neverFit,
            failed: runs.filter(\.failed).count, stillWaiting: runs.filter { $0.coreID != nil && $0.finished == nil && !$0.failed }.count,
            meanCompletionS: mean(completions), p50CompletionS: percentile(0.5), p95CompletionS: percentile(0.95), p99CompletionS: percentile(0.99),
            completionPercentilesS: completions.isEmpty ? [] : (0...100).map { percentile(Double($0) / 100) },
            meanQueueS: mean(completed.map { runs[$0].firstStart! - runs[$0].arrival }), meanTransferS: mean(completed.map { runs[$0].transferS }),
            budgetJobs: budgeted.count, budgetViolations: budgeted.filter(\.violated).count,
            replacements: replacements, reroutes: reroutes,
            gigabyteKilometres: completed.reduce(0) { $0 + runs[$1].dataBytes / 1e9 * runs[$1].distanceKm },
            meanCPUAllocation: steady.cpu, meanGPUAllocation: steady.gpu,
            offeredCPULoad: offered(totalCPU) { $0.cpuCores }, offeredGPULoad: offered(totalGPU) { Double($0.gpuCount) * $0.gpuShare },
            utilisation: series, simulatedSeconds: now, events: events
        )
    }

    /// Time-weighted mean allocated shares between two times.
    private func averages(from start: Double, to end: Double) -> (cpu: Double, gpu: Double) {
        guard end > start else { return (0, 0) }
        var cpu = 0.0
        var gpu = 0.0
        for (position, change) in changes.enumerated() {
            let next = position + 1 < changes.count ? changes[position + 1].0 : .infinity
            let overlap = min(next, end) - max(change.0, start)
            guard overlap > 0 else { continue }
            cpu += change.1 * overlap
            gpu += change.2 * overlap
        }
        let span = end - start
        return (totalCPU > 0 ? cpu / span / totalCPU : 0, totalGPU > 0 ? gpu / span / totalGPU : 0)
    }

    private func utilisation(until end: Double) -> UtilisationSeries {
        var series = UtilisationSeries()
        guard end > 0, setup.samples > 0 else { return series }
        let width = end / Double(setup.samples)
        var sums = [[Double]](repeating: [0, 0, 0, 0], count: setup.samples)
        let last = setup.samples - 1
        for (position, change) in changes.enumerated() {
            var from = change.0
            let to = min(position + 1 < changes.count ? changes[position + 1].0 : end, end)
            var bucket = min(last, Int(from / width))
            while from < to {
                let edge = bucket == last ? to : min(to, Double(bucket + 1) * width)
                // Rounding can put `from` on the next bucket's edge: move on rather than lose time.
                if edge > from {
                    let span = edge - from
                    sums[bucket][0] += change.1 * span
                    sums[bucket][1] += change.2 * span
                    sums[bucket][2] += change.3 * span
                    sums[bucket][3] += change.4 * span
                    from = edge
                }
                if from < to { bucket = min(last, bucket + 1) }
            }
        }
        func share(_ value: Double, _ total: Double) -> Double { total > 0 ? value / width / total : 0 }
        for bucket in 0..<setup.samples {
            series.timeS.append(Double(bucket + 1) * width)
            series.cpuAllocated.append(share(sums[bucket][0], totalCPU))
            series.gpuAllocated.append(share(sums[bucket][1], totalGPU))
            series.cpuBusy.append(share(sums[bucket][2], totalCPU))
            series.gpuBusy.append(share(sums[bucket][3], totalGPU))
        }
        return series
    }
}

extension Policy {
    /// The policy's name on the command line and in reports.
    public var name: String {
        switch self {
        case .joint: "junction"
        case .computeOnly: "compute-only"
        case .networkOnly: "network-only"
        case .random: "random"
        }
    }
}

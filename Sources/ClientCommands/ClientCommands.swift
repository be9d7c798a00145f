import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JunctionClient
import Wire
import Wording
import ZeroMQ

/// Where the controller's clients endpoint is, and how long to wait for it.
public struct ControllerOptions: ParsableArguments {
    @Option(name: .customLong("controller"), help: ArgumentHelp("The controller's clients endpoint; several, comma-separated, for controllers sharing a store: requests go to the one that leads (default: $JUNCTION_CONTROLLER, else \(ControllerEndpoints.defaults.clients)).", valueName: "endpoint[,endpoint]"))
    var given: String?

    /// The clients endpoint: as given, else from the environment, else the default.
    var endpoint: String {
        given ?? ProcessInfo.processInfo.environment["JUNCTION_CONTROLLER"].flatMap { $0.isEmpty ? nil : $0 } ?? ControllerEndpoints.defaults.clients
    }

    @Option(parsing: .unconditional, help: "Seconds to wait for an answer.")
    var timeout: Double = 5

    @OptionGroup var keys: KeyOptions

    public init() {}

    func connect() throws -> JunctionClient {
        try checkTimeout(timeout)
        let endpoints = endpointList(endpoint)
        try checkEndpointList(endpoints, option: given == nil ? "$JUNCTION_CONTROLLER" : "--controller", role: "the controller's clients endpoint")
        return try JunctionClient(endpoints: endpoints, timeout: timeout, curve: keys.curve())
    }

    /// The events endpoints: as given, else from the environment, else next to each clients
    /// endpoint (the port after it, as 7411 and 7412 are).
    func eventsEndpoints(_ given: String?) -> [String] {
        if let given { return endpointList(given) }
        if let events = ProcessInfo.processInfo.environment["JUNCTION_EVENTS"], !events.isEmpty { return endpointList(events) }
        return endpointList(endpoint).map { endpoint in
            guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else {
                return ControllerEndpoints.defaults.events
            }
            return "\(endpoint[..<colon]):\(port + 1)"
        }
    }

    /// Connects, makes one request with `body`, and lets the connection go as `ProcessLifetime`
    /// says (or closes it at once with `closing`, for a command that goes on long after it),
    /// turning client errors into command failures.
    public func ask<Reply>(closing: Bool = false, _ body: (JunctionClient) async throws(ClientError) -> Reply) async throws -> Reply {
        let client = try connect()
        defer { if closing { client.close() } else { ProcessLifetime.release(client) } }
        do throws(ClientError) {
            return try await body(client)
        } catch {
            throw CommandFailure(error.description)
        }
    }
}

/// A job as JSON.
struct JobJSON: Encodable {
    var job: String
    var state: String
    var pool: String
    var path: [String]
    var attempts: UInt32
    var exit_code: Int32
    var wall_s: Double
    var core_s: Double
    var message: String
    /// Where the job's files are on its pool: `host:/path`, with `stdout` and `stderr` in it.
    var output: String
    /// When an accepted job is planned to start on `pool` (Unix ms); absent when it is not planned.
    var planned_start_ms: Int64?
    /// Seconds from the decision until it is expected to end, when it was given a runtime.
    var estimated_completion_s: Double?

    init(_ info: Junction_V1_JobInfo) {
        job = info.jobID
        state = info.state.name
        pool = info.pool
        path = info.path
        attempts = info.attempts
        exit_code = info.exitCode
        wall_s = info.usage.wallSeconds
        core_s = info.usage.coreSeconds
        message = info.message
        output = info.output
        planned_start_ms = info.plannedStartMs > 0 ? info.plannedStartMs : nil
        estimated_completion_s = info.hasEstimate && info.estimate.runtimeS > 0 ? info.estimate.completionS : nil
    }
}

func jobTable(_ jobs: [Junction_V1_JobInfo], nowMs: Int64 = unixNowMs()) -> String {
    table(header: ["job", "state", "pool", "path", "starts", "tries", "exit", "wall_s", "message"], rows: jobs.map {
        // A job that has not ended has no exit code yet, and no wall time worth showing.
        let ended = [.succeeded, .failed, .cancelled].contains($0.state)
        return [$0.jobID, $0.state.name, $0.pool.isEmpty ? "-" : $0.pool, $0.path.isEmpty ? "-" : arrowPath($0.path),
                $0.plannedStartMs > 0 ? startsIn($0.plannedStartMs, nowMs: nowMs) : "-", "\($0.attempts)",
                ended ? "\($0.exitCode)" : "-", ended ? decimal($0.usage.wallSeconds) : "-", message($0, nowMs: nowMs)]
    })
}

/// A job's message for a table. A planned job's own message gives its start and end as seconds
/// from when it was planned, which go stale; it is said again counted from now.
private func message(_ job: Junction_V1_JobInfo, nowMs: Int64) -> String {
    guard job.state == .accepted, job.plannedStartMs > 0 else { return job.message }
    let moved = job.message.hasPrefix("moved: ") ? "moved: " : ""
    return "\(moved)planned on \(job.pool) via \(arrowPath(job.path))" + (plannedDone(job, nowMs: nowMs).map { ", done \($0)" } ?? "")
}

/// When a planned job should be done, counted from now, if it said how long it runs: its
/// estimate counts from the decision, its start and completion as seconds after it.
func plannedDone(_ job: Junction_V1_JobInfo, nowMs: Int64) -> String? {
    guard job.estimate.runtimeS > 0 else { return nil }
    let startsS = Double(job.plannedStartMs - nowMs) / 1_000
    return "in \(duration(max(0, startsS) + job.estimate.completionS - job.estimate.startS))"
}

/// A line for a job's progress: its message already starts with the state's own word when it
/// reads "failed on ...", so the state is not said twice.
func progressLine(_ info: Junction_V1_JobInfo) -> String {
    let message = printableText(info.message)
    return message.hasPrefix(info.state.name) ? "\(info.jobID) \(message)" : "\(info.jobID) \(info.state.name): \(message)"
}

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a job: the controller places it, reserves the pool and the path, and dispatches it.",
        discussion: "Put the command after --, for example: junction submit --from New_York --cpu 2 -- /bin/sh -c 'echo hi'"
    )

    @OptionGroup var placement: PlacementOptions
    @OptionGroup var controller: ControllerOptions

    @Option(help: "A name for people.")
    var name: String = ""

    @Option(name: .customLong("env"), help: ArgumentHelp("An environment variable KEY=VALUE for the job. Repeatable.", valueName: "env"))
    var environment: [String] = []

    @Flag(help: "Follow the job until it ends, through the events endpoint; exit with its outcome.")
    var wait = false

    @Option(help: ArgumentHelp("The controller's events endpoint, for --wait (default: $JUNCTION_EVENTS, else the clients endpoint's port + 1, as 7411 and 7412 are).", valueName: "endpoint"))
    var events: String?

    @Option(parsing: .unconditional, help: "Seconds the job may wait for a pool if it loses its first one, before it fails (default: the controller's).")
    var deadlineS: Double?

    @Flag(help: "Never run the job again once it may have started: if its pool is lost, it fails instead of being placed again.")
    var atMostOnce = false

    @Option(help: ArgumentHelp("Make this submit count once: another submit with the same key within a day names the first one's job instead of making a new job, so a script may repeat a submit whose answer it did not get. At most 256 bytes.", valueName: "key"))
    var idempotencyKey: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command after --, such as: -- /bin/echo hello") }
        // A job runs on at least part of a core; 0 would let a pool take jobs without end.
        guard placement.cpu > 0 else { throw ValidationError("--cpu must be above 0 for a job: the cores it runs on (fractions allowed)") }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > 256 {
            throw ValidationError("--idempotency-key must be 1 to 256 bytes, not \(key.utf8.count)")
        }
    }

    func run() async throws {
        var submit = Junction_V1_SubmitRequest()
        // The reply carries runners-up only when asked for: finding and sending them costs.
        submit.request = try placement.request(alternatives: 0)
        submit.spec.command = command[0]
        submit.spec.arguments = Array(command.dropFirst())
        submit.spec.name = name
        try checkRanges([("--deadline-s", deadlineS, 0, 365 * 86_400)])
        submit.placementDeadlineS = deadlineS ?? 0
        if atMostOnce { submit.spec.delivery = .atMostOnce }
        if let idempotencyKey { submit.idempotencyKey = idempotencyKey }
        for pair in environment {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("--env takes KEY=VALUE; got \(pair)") }
            submit.spec.environment[String(parts[0])] = String(parts[1])
        }
        let client = try controller.connect()
        defer { ProcessLifetime.release(client) }
        // Subscribed before the submit, so the job's first events find the subscription in place.
        let follower = wait ? try JobFollower(events: eventsEndpoints, keys: controller.keys) : nil
        defer { follower?.close() }
        let reply: Junction_V1_SubmitReply
        do throws(ClientError) {
            reply = try await client.submit(submit)
        } catch {
            throw CommandFailure(error.description)
        }
        func status() async throws -> Junction_V1_JobInfo {
            var status = Junction_V1_StatusRequest()
            status.jobIds = [reply.jobID]
            do {
                guard let first = try await client.status(status).jobs.first else { throw CommandFailure("the controller does not know \(reply.jobID)") }
                return first
            } catch let error as ClientError {
                throw CommandFailure(error.description)
            }
        }
        // No pool named: the submit repeated an idempotency key (the reply names the first
        // submit's job), or the job waits for a pool (pools rejoining a restarted controller).
        var pool = reply.placement.winner.pool
        if !reply.hasPlacement || pool.isEmpty {
            let info = try await status()
            pool = info.pool
            if !json { print(reply.hasPlacement ? progressLine(info) : "\(reply.jobID) was submitted before under this idempotency key: \(progressLine(info))") }
        } else if !json {
            let winner = reply.placement.winner
            // Without a runtime the completion time is only the input's arrival: not an estimate.
            let estimate = winner.estimate.runtimeS > 0 ? "estimated done in \(duration(winner.estimate.completionS))" : "no completion estimate without --runtime-s"
            if winner.estimate.startS > 0 {
                print("\(reply.jobID) accepted: planned on \(winner.pool) via \(arrowPath(winner.path)) (\(decimal(winner.estimate.latencyMs)) ms) to start in \(duration(winner.estimate.startS)), when room there comes free; \(estimate)")
            } else {
                print("\(reply.jobID) accepted: \(winner.pool) via \(arrowPath(winner.path)) (\(decimal(winner.estimate.latencyMs)) ms); \(estimate)")
            }
            for other in reply.placement.runnersUp {
                print("  runner-up \(other.pool) via \(arrowPath(other.path)) (\(decimal(other.estimate.latencyMs)) ms)")
            }
        }
        guard wait else {
            if json { print(try jsonText(["job": reply.jobID, "pool": pool])) }
            return
        }
        // Events carry each change as it happens; a status request now and then covers what a
        // subscriber can miss (events sent before the subscription reached the controller, or
        // dropped by a slow link), so the wait ends even without them.
        var last = Junction_V1_JobState.unspecified
        var info = try await status()
        while true {
            if info.state != last, !json {
                print(progressLine(info))
                last = info.state
            }
            switch info.state {
            case .succeeded:
                if json { print(try jsonText(JobJSON(info))) }
                return
            case .failed, .cancelled:
                if json { print(try jsonText(JobJSON(info))) }
                throw ExitCode(info.exitCode != 0 ? info.exitCode : 1)
            default:
                break
            }
            // Events sent before the last status was taken are in its history already: the job's
            // `accepted` arriving after a status that said `dispatched` is old news, not a step back.
            if let (change, at) = await follower?.next(job: reply.jobID, within: .seconds(2)), change.state != last,
               !info.history.contains(where: { $0.state == change.state && $0.timestampMs >= at }) {
                if [.succeeded, .failed, .cancelled].contains(change.state) {
                    info = try await status()
                } else {
                    info.state = change.state
                    info.pool = change.pool
                    info.message = change.reason
                }
            } else {
                info = try await status()
            }
        }
    }

    private var eventsEndpoints: [String] { controller.eventsEndpoints(events) }
}

/// A subscription to the controller's job events, for following one job.
final class JobFollower {
    private let context: Context
    private let subscriber: EventSubscription

    init(events: [String], keys: KeyOptions) throws {
        try checkEndpointList(events, option: "--events", role: "the controller's events endpoint")
        context = try Context()
        do {
            subscriber = try EventSubscription(context: context, endpoints: events, prefixes: ["job/"], options: try keys.curve()?.socketOptions ?? [], name: "submit-wait")
        } catch {
            context.terminate()
            throw error
        }
    }

    /// The next change of `job` and when the controller published it (Unix ms), or nil when none
    /// comes within `timeout`.
    func next(job: String, within timeout: Duration) async -> (Junction_V1_JobEvent, Int64)? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let batch: [Delivery]? = await withTaskGroup(of: [Delivery]?.self) { group in
                group.addTask { [subscriber] in await subscriber.incoming.next() }
                group.addTask {
                    try? await Task.sleep(for: left)
                    return nil
                }
                defer { group.cancelAll() }
                return await group.next() ?? nil
            }
            guard let batch else { return nil }
            for delivery in batch {
                guard let payload = delivery.message.frames.last, let message = try? WireMessage(bytes: payload),
                      case .event(let event) = message.body, case .job(let change) = event.kind, change.jobID == job else { continue }
                return (change, event.timestampMs)
            }
        }
        return nil
    }

    func close() {
        subscriber.close()
        context.terminate()
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show jobs: every job, or the ones named.")

    @Argument(help: "Job ids.")
    var jobs: [String] = []
    @OptionGroup var controller: ControllerOptions
    @Flag(help: "Only jobs not yet finished.")
    var active = false
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        var request = Junction_V1_StatusRequest()
        request.jobIds = jobs
        request.activeOnly = active
        let client = try controller.connect()
        defer { ProcessLifetime.release(client) }
        let found = try await allJobs(request, from: client)
        print(json ? try jsonText(found.map(JobJSON.init)) : jobTable(found))
        // Jobs asked for by name also say where their output is.
        if !json, !jobs.isEmpty {
            for job in found where !job.output.isEmpty { print("\(job.jobID) output: \(job.output)/stdout and stderr") }
        }
    }
}

/// Every job a status request names or lists: without ids the controller answers in pages,
/// followed here to the end, with smaller pages when large jobs make one too big for a message.
func allJobs(_ asked: Junction_V1_StatusRequest, from client: JunctionClient) async throws -> [Junction_V1_JobInfo] {
    var request = asked
    var found: [Junction_V1_JobInfo] = []
    while true {
        let reply: Junction_V1_StatusReply
        do {
            reply = try await client.status(request)
        } catch ClientError.refused(code: .tooLarge, _) where asked.jobIds.isEmpty && request.limit != 1 {
            request.limit = request.limit == 0 ? 250 : max(1, request.limit / 2)
            continue
        } catch {
            throw CommandFailure("\(error)")
        }
        found += reply.jobs
        request.cursor = reply.nextCursor
        if request.cursor.isEmpty || !asked.jobIds.isEmpty { return found }
    }
}

struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Show the plans: jobs waiting for their planned start, pool by pool, in the order they start.",
        discussion: """
        A job that no pool has room for now is planned on the pool where it is expected to finish \
        soonest, to start when jobs there end; a job that fits now without delaying any planned one \
        starts at once. The timeline shows when each planned job starts, how long it is expected \
        to run there, and when it should be done; jobs waiting with no plan (no pool can take \
        them at all) are listed after. A key with the submit role sees only its own jobs.
        """
    )

    @Option(help: "Only this pool's plan.")
    var pool: String?
    @OptionGroup var controller: ControllerOptions
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        var request = Junction_V1_StatusRequest()
        request.activeOnly = true
        let client = try controller.connect()
        defer { ProcessLifetime.release(client) }
        let waiting = try await allJobs(request, from: client).filter { $0.state == .accepted && (pool == nil || $0.pool == pool) }
        let planned = waiting.filter { $0.plannedStartMs > 0 }.sorted { ($0.pool, $0.plannedStartMs, $0.jobID) < ($1.pool, $1.plannedStartMs, $1.jobID) }
        let unplanned = waiting.filter { $0.plannedStartMs == 0 }
        if json {
            print(try jsonText(planned.map(JobJSON.init) + unplanned.map(JobJSON.init)))
            return
        }
        print(Self.timeline(planned, unplanned: unplanned, nowMs: unixNowMs()))
    }

    /// The plans as a table per pool, then the jobs waiting without one.
    static func timeline(_ planned: [Junction_V1_JobInfo], unplanned: [Junction_V1_JobInfo], nowMs: Int64) -> String {
        guard !planned.isEmpty || !unplanned.isEmpty else { return "no job is waiting: every accepted job has started" }
        var lines: [String] = []
        let pools = Dictionary(grouping: planned, by: \.pool)
        for name in pools.keys.sorted() {
            let jobs = pools[name]!
            lines.append("\(name): \(jobs.count) planned")
            lines.append(table(header: ["job", "starts", "runs", "done", "via"], rows: jobs.map { job in
                let runs = job.estimate.runtimeS > 0 ? duration(job.estimate.runtimeS) : "unknown"
                return [job.jobID, startsIn(job.plannedStartMs, nowMs: nowMs), runs, plannedDone(job, nowMs: nowMs) ?? "-", arrowPath(job.path)]
            }, indent: "  "))
        }
        if !unplanned.isEmpty {
            lines.append("waiting without a plan: \(unplanned.count)")
            lines.append(contentsOf: unplanned.map { "  \($0.jobID): \($0.message)" })
        }
        return lines.joined(separator: "\n")
    }
}

struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job: its pool gets SIGTERM, then SIGKILL after a grace period.")

    @Argument(help: "The job id.")
    var job: String
    @OptionGroup var controller: ControllerOptions
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let reply = try await controller.ask { client throws(ClientError) in try await client.cancel(job) }
        let state = reply.job.state
        if json { print(try jsonText(JobJSON(reply.job))) }
        switch state {
        case .succeeded, .failed:
            // Nothing was done: saying "cancel sent" and exiting 0 would be a lie.
            throw CommandFailure("\(job) had already \(state.name == "failed" ? "failed" : "succeeded") on \(reply.job.pool.isEmpty ? "its pool" : reply.job.pool); nothing to cancel")
        case .cancelled:
            if !json { print("\(job): cancelled") }
        default:
            if !json { print("\(job): \(state.name) on \(reply.job.pool); asked the pool to stop it (SIGTERM, then SIGKILL after the grace period)") }
        }
    }
}

struct Pools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pools", abstract: "Show the pools: live capacity, reservations and freshness.")

    @OptionGroup var controller: ControllerOptions
    @Flag(help: "Print JSON.")
    var json = false

    struct PoolJSON: Encodable {
        var pool: String
        var node: String
        var state: String
        var cpu_free: Double
        var cpu_total: Double
        /// Held by leases the pool's advertisements do not yet reflect.
        var cpu_reserved: Double
        /// Held by every lease on the pool: what its jobs hold.
        var cpu_held: Double
        var gpus_held: [String: UInt32]
        var gpu_share_held: Double
        var gpus_free: [String: UInt32]
        /// How long the pool's own batch queue makes a job wait, as it reports.
        var queue_wait_s: Double
        var running_jobs: UInt32
        var last_advertisement_ms: Int64
        /// The price list and speed in force: the agent's own, else the topology's.
        var price_core_hour: Double
        var price_gpu_hour: [String: Double]
        var speed: Double
    }

    func run() async throws {
        // Every page over one connection.
        let reply = try await controller.ask { client throws(ClientError) in
            var request = Junction_V1_PoolsRequest()
            var reply = Junction_V1_PoolsReply()
            repeat {
                let page = try await client.pools(request)
                reply.pools += page.pools
                request.cursor = page.nextCursor
            } while !request.cursor.isEmpty
            return reply
        }
        if json {
            print(try jsonText(reply.pools.map {
                PoolJSON(pool: $0.poolID, node: $0.node, state: $0.state.name, cpu_free: $0.free.cpuCores, cpu_total: $0.total.cpuCores, cpu_reserved: $0.reserved.cpuCores, cpu_held: $0.held.cpuCores, gpus_held: $0.held.gpus, gpu_share_held: $0.heldGpuShare, gpus_free: $0.free.gpus, queue_wait_s: $0.queueWaitS, running_jobs: $0.runningJobs, last_advertisement_ms: $0.lastAdvertisementMs, price_core_hour: $0.price.cpuCoreHour, price_gpu_hour: $0.price.gpuHour, speed: $0.speed)
            }))
            return
        }
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        print(table(header: ["pool", "node", "state", "cores free", "cores held", "GPUs free", "GPUs held", "jobs", "queue wait", "price/core-h", "speed", "advertised"], rows: reply.pools.map {
            // A declared pool no agent has joined has no known free capacity: only its declared total.
            let joined = $0.state != .declared
            // Whole GPUs by model, and the fraction of a GPU that jobs sharing one hold.
            var heldGPUs = gpuText($0.held.gpus.mapValues { Int($0) }, leading: false)
            if $0.heldGpuShare > 0 { heldGPUs = (heldGPUs == "-" ? "" : heldGPUs + " + ") + "\(decimal($0.heldGpuShare)) of a GPU shared" }
            return [$0.poolID, $0.node, joined ? $0.state.name : "declared, no agent",
                    "\(joined ? decimal($0.free.cpuCores) : "-")/\(decimal($0.total.cpuCores))", decimal($0.held.cpuCores),
                    joined ? gpuText($0.free.gpus.mapValues { Int($0) }, leading: false) : "-", heldGPUs, "\($0.runningJobs)",
                    $0.queueWaitS > 0 ? "\(decimal($0.queueWaitS)) s" : "-",
                    decimal($0.price.cpuCoreHour), decimal($0.speed),
                    $0.lastAdvertisementMs > 0 ? "\(decimal(Double(now - $0.lastAdvertisementMs) / 1_000)) s ago" : "never"]
        }))
    }
}


struct LinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link",
        abstract: "Take a link of the running topology down or up, or change its capacity.",
        discussion: "Jobs whose input still crosses a link that goes down move to another path to the same pool, or are placed again. The topology file is not changed: a reload or a restart takes the file's state again."
    )

    @Argument(help: "The link's id (as `junction topology show` lists it; \"A-B\" for a link given by its ends).")
    var link: String
    @Flag(help: "Take the link down.")
    var down = false
    @Flag(help: "Bring the link up.")
    var up = false
    @Option(help: "New capacity in Gbps.")
    var capacityGbps: Double?
    @OptionGroup var controller: ControllerOptions

    func validate() throws {
        guard !(down && up) else { throw ValidationError("give --down or --up, not both") }
        guard down || up || capacityGbps != nil else { throw ValidationError("give --down, --up or --capacity-gbps") }
        if let capacityGbps, !(capacityGbps.isFinite && capacityGbps > 0 && capacityGbps <= 1e6) {
            throw ValidationError("--capacity-gbps must be above 0 and at most 1000000, not \(capacityGbps)")
        }
    }

    func run() async throws {
        var set = Junction_V1_SetLink()
        set.link = link
        set.state = down ? .down : up ? .up : .unspecified
        set.capacityGbps = capacityGbps ?? 0
        var admin = Junction_V1_AdminRequest()
        admin.action = .setLink(set)
        let reply = try await controller.ask { [admin] client throws(ClientError) in try await client.admin(admin) }
        guard reply.ok else { throw CommandFailure(reply.message) }
        print(reply.message)
    }
}

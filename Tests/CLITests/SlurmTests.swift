import Foundation
@testable import Services
import TestSupport
import Testing
import Wire

/// What a real Slurm 22.05 printed (Tests/CLITests/Slurm, captured from Tests/Slurm/slurm.sh's
/// cluster): one node of 2 cores, 2,048 MiB and two `tesla` GPUs, one job running on a GPU,
/// three waiting, ten ended.
private func fixture(_ name: String) throws -> Data {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Slurm").appendingPathComponent(name)
    return try Data(contentsOf: path)
}

@Suite("Slurm's reports")
struct SlurmReportTests {
    @Test func capacityComesFromTheNodesThatTakeJobsAndQueueWaitFromTheOldestWaitingJob() throws {
        let jobs = try SlurmReports.jobs(squeue: fixture("squeue.json"))
        let submitted = try #require(jobs[12]?.submitTime)
        let observation = try SlurmReports.observation(sinfo: fixture("sinfo-mixed.json"), squeue: Array(jobs.values), partition: "debug", now: submitted + 90)
        #expect(observation.total.cpuCores == 2)
        #expect(observation.total.memoryBytes == 2_048 << 20)
        #expect(observation.total.gpus == ["tesla": 2])
        #expect(observation.free.cpuCores == 1, "one core runs job 11")
        #expect(observation.free.memoryBytes == (2_048 - 512) << 20)
        #expect(observation.free.gpus == ["tesla": 1])
        #expect(observation.nodes == [observation.total])
        #expect(observation.queueWaitS == 90, "jobs 12 to 14 have waited since their submission")

        let elsewhere = try SlurmReports.observation(sinfo: fixture("sinfo-mixed.json"), squeue: Array(jobs.values), partition: "gpu", now: submitted + 90)
        #expect(elsewhere.nodes.isEmpty && elsewhere.queueWaitS == 0, "another partition has neither these nodes nor these jobs")

        let drained = try SlurmReports.observation(sinfo: fixture("sinfo-drained.json"), squeue: [], partition: nil, now: 0)
        #expect(drained.nodes.isEmpty, "a drained node takes no jobs")
        #expect(drained.total.cpuCores == 0)
    }

    @Test func jobStatesAndExitCodes() throws {
        let jobs = try SlurmReports.jobs(squeue: fixture("squeue.json"))
        #expect(jobs.count == 14)
        #expect(jobs[11]?.state == "RUNNING" && jobs[11]?.isRunning == true && jobs[11]?.name == "junction-job-1")
        #expect(jobs[12]?.state == "PENDING" && jobs[12]?.isActive == true && jobs[12]?.isRunning == false && jobs[12]?.reason == "Resources")
        let completed = try #require(jobs[1])
        #expect(!completed.isActive && SlurmReports.exitCode(completed) == 0)
        #expect(completed.endTime - completed.startTime == 30)
        #expect(SlurmReports.exitCode(try #require(jobs[3])) == 3, "exit 3, stored as 768")
        #expect(SlurmReports.exitCode(try #require(jobs[6])) == -15, "ended by SIGTERM")

        let shown = try #require(SlurmReports.scontrolJob(String(decoding: try fixture("scontrol-failed.txt"), as: UTF8.self), id: 3))
        #expect(shown.state == "FAILED" && !shown.isActive && SlurmReports.exitCode(shown) == 3 && shown.cpus == 1)
        #expect(SlurmReports.scontrolJob("slurm_load_jobs error: Invalid job id specified", id: 99) == nil)
    }

    @Test func gresStringsByTypeAndOutOfRangeNumbersHeld() throws {
        #expect(SlurmReports.gres("gpu:a100:4(S:0-1),gpu:v100:2") == ["a100": 4, "v100": 2])
        #expect(SlurmReports.gres("gpu:tesla:1(IDX:0),gpu:tesla:1(IDX:1)") == ["tesla": 2])
        #expect(SlurmReports.gres("gpu:2,mps:200,license:x:1") == ["gpu": 2])
        #expect(SlurmReports.gres("(null)").isEmpty && SlurmReports.gres("").isEmpty)
        #expect(SlurmReports.number(1e300) == 1e12)
        #expect(SlurmReports.number(["set": true, "number": 7] as [String: Any]) == 7)
        #expect(SlurmReports.number(["set": false, "number": 7] as [String: Any]) == 0)
        let huge = Data(#"{"nodes": [{"cpus": 1e300, "real_memory": 1e300, "state": "idle", "partitions": ["p"]}]}"#.utf8)
        let observation = try SlurmReports.observation(sinfo: huge, squeue: [], partition: "p", now: 0)
        #expect(observation.total.cpuCores == 1e12)
        #expect(throws: SlurmError.self) { try SlurmReports.jobs(squeue: Data("not json".utf8)) }
        #expect(throws: SlurmError.self) { try SlurmReports.observation(sinfo: Data(#"{"errors": [{"error": "no"}], "nodes": []}"#.utf8), squeue: [], partition: nil, now: 0) }
    }

    @Test func aJobGoesToSbatchWithItsResourcesAndItsEnvironmentQuoted() throws {
        var spec = Junction_V1_JobSpec()
        spec.command = "python3"
        spec.arguments = ["train.py", "it's"]
        spec.environment = ["EPOCHS": "3", "NOTE": "a 'quoted' value", "not a name": "x"]
        spec.resources.cpuCores = 2.5
        spec.resources.memoryBytes = (1 << 30) + 1
        spec.resources.gpus = ["a100": 2]
        let folder = URL(fileURLWithPath: "/shared/jobs/job-4")
        let arguments = SlurmExecutor.sbatchArguments(jobID: "job-4", spec: spec, folder: folder, script: folder.appendingPathComponent("job.sh"), settings: SlurmSettings(partition: "gpu", account: "lab"))
        #expect(arguments.first == "sbatch" && arguments.last == "/shared/jobs/job-4/job.sh")
        for expected in ["--parsable", "--job-name=junction-job-4", "--chdir=/shared/jobs/job-4", "--output=/shared/jobs/job-4/stdout", "--error=/shared/jobs/job-4/stderr", "--cpus-per-task=3", "--mem=1025M", "--gres=gpu:a100:2", "--partition=gpu", "--account=lab", "--no-requeue"] {
            #expect(arguments.contains(expected), "\(expected) in \(arguments)")
        }
        let script = SlurmExecutor.batchScript(jobID: "job-4", spec: spec)
        #expect(script.contains("export NOTE='a '\\''quoted'\\'' value'\n"))
        #expect(script.contains("export JUNCTION_JOB_ID='job-4'\n"))
        #expect(script.contains("export JUNCTION_GPU_MODEL='a100'\n"))
        #expect(!script.contains("not a name"), "a name no shell takes is left out")
        #expect(script.hasSuffix("exec 'python3' 'train.py' 'it'\\''s'\n"))
    }
}

/// A controller, a Slurm cluster of its own, and an agent offering it as pool `hpc`.
private struct SlurmSite {
    let cluster: SlurmCluster
    let controller: RunningController
    let work: String

    static func start() async throws -> SlurmSite {
        let cluster = try SlurmCluster.start()
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        return SlurmSite(cluster: cluster, controller: controller, work: try temporaryDirectory())
    }

    func agent() throws -> JunctionProcess {
        try JunctionProcess(["pool", "--id", "hpc", "--node", "near", "--pools", controller.pools, "--executor", "slurm", "--partition", "debug", "--slurm-poll-ms", "300", "--work-dir", work], environment: cluster.environment)
    }

    /// Slurm's jobs named for a Junction job.
    func slurmJobs(named jobID: String) throws -> [[String: Any]] {
        let text = try cluster.command(["squeue", "--json"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        return (root["jobs"] as? [[String: Any]] ?? []).filter { $0["name"] as? String == "junction-\(jobID)" }
    }

    /// Kills the agents and the controller, stops the cluster (and the jobs in it), removes the files.
    func stop(_ processes: [JunctionProcess]) {
        for process in processes + [controller.process] { process.signal(SIGKILL) }
        cluster.stop()
        try? FileManager.default.removeItem(atPath: work)
    }
}

@Suite("A pool in Slurm", .serialized)
struct SlurmPoolTests {
    @Test func jobsRunAsSlurmBatchJobsWithTheirResourcesAndTheClusterIsThePool() async throws {
        let site = try await SlurmSite.start()
        let agent = try site.agent()
        defer { site.stop([agent]) }
        try await site.controller.waitForPools(["hpc"])
        let pools = try await site.controller.client("pools", "--json")
        let row = try #require((try JSONSerialization.jsonObject(with: Data(pools.output.utf8)) as? [[String: Any]])?.first { $0["pool"] as? String == "hpc" })
        #expect(row["cpu_total"] as? Double == Double(ProcessInfo.processInfo.activeProcessorCount), "the node's cores, as sinfo reports them: \(row)")
        #expect(row["gpus_free"] as? [String: Int] == ["tesla": 2], "\(row)")

        let submit = try await site.controller.client("submit", "--from", "users", "--cpu", "1", "--memory-gib", "0.25", "--gpus", "tesla:1", "--wait", "--", "/bin/sh", "-c", "echo ran as $JUNCTION_JOB_ID on $JUNCTION_GPU_MODEL", within: 60)
        #expect(submit.status == 0, "\(submit.output) \(submit.errors)")
        #expect(submit.output.contains("job-1 succeeded"), "\(submit.output)")
        #expect(try String(contentsOfFile: "\(site.work)/hpc/job-1/stdout", encoding: .utf8) == "ran as job-1 on tesla\n")
        // Slurm ran it, with the job's resources.
        let shown = try site.cluster.command(["scontrol", "show", "job", "--oneliner", "\(try #require(site.slurmJobs(named: "job-1").first?["job_id"] as? Int))"])
        #expect(shown.contains("JobState=COMPLETED"), "\(shown)")
        #expect(shown.contains("gpu:tesla:1") && shown.contains("mem=256M"), "\(shown)")

        let failing = try await site.controller.client("submit", "--from", "users", "--cpu", "1", "--memory-gib", "0.1", "--wait", "--", "/bin/sh", "-c", "echo broken >&2; exit 4", within: 60)
        #expect(failing.status == 4, "\(failing.output) \(failing.errors)")
        let failed = try await site.controller.job("job-2")
        #expect((failed["message"] as? String ?? "").contains("its stderr ends \"broken\""), "\(failed)")

        // A job Slurm queues outside Junction makes the pool's queue wait grow.
        _ = try site.cluster.command(["sbatch", "--cpus-per-task=\(ProcessInfo.processInfo.activeProcessorCount)", "--mem=100M", "--output=\(site.work)/outside-%j.out", "--wrap", "sleep 60"])
        _ = try site.cluster.command(["sbatch", "--cpus-per-task=\(ProcessInfo.processInfo.activeProcessorCount)", "--mem=100M", "--output=\(site.work)/outside-%j.out", "--wrap", "sleep 60"])
        let deadline = Date().addingTimeInterval(60)
        var wait = 0.0
        while Date() < deadline, wait < 2 {
            let listed = try await site.controller.client("pools", "--json")
            let rows = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]] ?? []
            wait = rows.first { $0["pool"] as? String == "hpc" }?["queue_wait_s"] as? Double ?? 0
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(wait >= 2, "the pool advertises how long Slurm's waiting job has waited")
    }

    @Test func cancelReachesTheSlurmJobAndItsEndIsConfirmed() async throws {
        let site = try await SlurmSite.start()
        let agent = try site.agent()
        defer { site.stop([agent]) }
        try await site.controller.waitForPools(["hpc"])
        _ = try await site.controller.client("submit", "--from", "users", "--cpu", "1", "--memory-gib", "0.1", "--", "/bin/sh", "-c", "trap 'echo stopping; exit 9' TERM; sleep 120 & wait")
        _ = try await site.controller.waitForJob("job-1", state: "running", within: 60)
        let cancel = try await site.controller.client("cancel", "job-1")
        #expect(cancel.status == 0, "\(cancel.errors)")
        _ = try await site.controller.waitForJob("job-1", state: "cancelled", within: 60)
        #expect(try String(contentsOfFile: "\(site.work)/hpc/job-1/stdout", encoding: .utf8) == "stopping\n", "SIGTERM reached the job")
        let slurm = try site.slurmJobs(named: "job-1")
        #expect(slurm.count == 1)
        #expect(!SlurmReports.Job.activeStates.contains(slurm.first?["job_state"] as? String ?? ""), "Slurm has it ended: \(slurm)")
    }

    @Test func anAgentKilledAndStartedAgainFollowsItsJobInSlurmInsteadOfRunningItTwice() async throws {
        let site = try await SlurmSite.start()
        let first = try site.agent()
        try await site.controller.waitForPools(["hpc"])
        _ = try await site.controller.client("submit", "--from", "users", "--cpu", "1", "--memory-gib", "0.1", "--", "/bin/sh", "-c", "sleep 15; echo done")
        _ = try await site.controller.waitForJob("job-1", state: "running", within: 60)
        first.signal(SIGKILL)
        _ = try await first.finish(within: 10)
        // Away for longer than the controller's liveness window (4 s here): the pool goes down,
        // and its job stays, since Slurm still runs it.
        let deadline = Date().addingTimeInterval(30)
        while !site.controller.process.errorsSoFar.contains("the pool's jobs run on in its batch system"), Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(site.controller.process.errorsSoFar.contains("the pool's jobs run on in its batch system"), "\(site.controller.process.errorsSoFar.suffix(2_000))")
        let held = try await site.controller.job("job-1")
        #expect(held["state"] as? String == "running" && held["pool"] as? String == "hpc", "\(held)")
        let second = try site.agent()
        defer { site.stop([second]) }
        _ = try await second.waitForOutput("pool hpc", within: 30)
        let done = try await site.controller.waitForJob("job-1", state: "succeeded", within: 60)
        #expect(done["attempts"] as? Int == 1, "never placed again: \(done)")
        #expect(try String(contentsOfFile: "\(site.work)/hpc/job-1/stdout", encoding: .utf8) == "done\n")
        #expect(try site.slurmJobs(named: "job-1").count == 1, "submitted to Slurm once")
        #expect(second.errorsSoFar.contains("job-1 is Slurm job"), "\(second.errorsSoFar)")
    }

    @Test func capacityOptionsAreRefusedWithSlurmAndAMissingClusterIsNamed() async throws {
        let refused = try await JunctionProcess(["pool", "--id", "hpc", "--executor", "slurm", "--cpu", "4"]).finish(within: 20)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("--cpu: with --executor slurm the pool's capacity is what Slurm reports"), "\(refused.errors)")
        let partition = try await JunctionProcess(["pool", "--id", "p", "--partition", "debug", "--cpu", "1"]).finish(within: 20)
        #expect(partition.errors.contains("--partition and --account are for --executor slurm"), "\(partition.errors)")
        // No cluster answers this configuration: the agent says so and stops.
        let work = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let configuration = work + "/slurm.conf"
        try "ClusterName=none\nSlurmctldHost=localhost\nSlurmctldPort=1\n".write(toFile: configuration, atomically: true, encoding: .utf8)
        let missing = try await JunctionProcess(["pool", "--id", "hpc", "--executor", "slurm", "--work-dir", work], environment: ["SLURM_CONF": configuration]).finish(within: 90)
        #expect(missing.status != 0)
        #expect(missing.errors.contains("cannot read the Slurm cluster (SLURM_CONF=\(configuration)): squeue --json reports an error"), "\(missing.errors)")
    }
}

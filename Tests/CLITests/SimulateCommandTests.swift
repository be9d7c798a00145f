import Foundation
import Testing

@Suite("junction simulate")
struct SimulateCommandTests {
    @Test func comparesThePoliciesOnATrace() async throws {
        var lines = ["id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress"]
        for index in 0..<60 {
            lines.append("job-\(index),\(index * 20),\(300 + index % 7 * 60),\(8 + index % 3 * 8),16,\(index % 5 == 0 ? 2 : 0),,\(index % 4 == 0 ? 50 : 1),\(["New_York", "Seattle", "Houston"][index % 3])")
        }
        let trace = try temporaryFile(lines.joined(separator: "\n") + "\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let result = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv", "--json", within: 60)
        #expect(result.status == 0, "\(result.errors)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(reports.map { $0["policy"] as? String } == ["junction", "compute-only", "network-only", "random"])
        for report in reports {
            #expect(report["completed"] as? Int == 60, "\(report)")
            #expect((report["meanCompletionS"] as? Double ?? 0) >= 300 / 1.6)
        }
    }

    @Test func readsACompressedTrace() async throws {
        let trace = try temporaryFile("; a comment\n 1 0 -1 100 4 -1 -1 4 -1 -1 1 1 1 -1 -1 -1 -1 -1\n 2 5 -1 50 2 -1 -1 2 -1 -1 1 1 1 -1 -1 -1 -1 -1\n", suffix: ".swf")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(atPath: trace + ".gz")
        }
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", trace]
        try gzip.run()
        gzip.waitUntilExit()
        try #require(gzip.terminationStatus == 0)
        let result = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace + ".gz", "--format", "swf", "--json", within: 60)
        #expect(result.status == 0, "\(result.errors)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        #expect(reports.allSatisfy { $0["completed"] as? Int == 2 })

        let broken = try temporaryFile("not gzip at all", suffix: ".gz")
        defer { try? FileManager.default.removeItem(atPath: broken) }
        let refused = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", broken, "--format", "swf", within: 30)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("gzip could not decompress"))
    }

    @Test func aBadTraceIsReportedWithItsLine() async throws {
        let trace = try temporaryFile("id,arrival_s,runtime_s\na,1,oops\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let result = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv")
        #expect(result.status != 0)
        #expect(result.errors.contains("line 2: runtime_s must be a number"))
    }

    @Test func writesPlotsAndACSVAndInjectsFailures() async throws {
        var lines = ["id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress"]
        for index in 0..<40 {
            lines.append("job-\(index),\(index * 30),600,8,16,0,,,")
        }
        let trace = try temporaryFile(lines.joined(separator: "\n") + "\n", suffix: ".csv")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("junction-plots-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(at: folder)
        }
        let csv = folder.appendingPathComponent("report.csv").path
        let result = try await junction(
            "simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv",
            "--ingress", "New_York=3", "--ingress", "Seattle", "--data", "uniform:1-20", "--latency-budget-ms", "30", "--budget-share", "0.5",
            "--fail", "pool:chicago-a100@300+900", "--fail", "link:Chicago-Indianapolis@200", "--plots", folder.path, "--output", csv, "--jobs-output", folder.appendingPathComponent("jobs.csv").path, within: 60
        )
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("junction's mean completion is"))
        for plot in ["completion-cdf.svg", "utilisation.svg"] {
            let text = try String(contentsOfFile: folder.appendingPathComponent(plot).path, encoding: .utf8)
            #expect(text.hasPrefix("<svg") && text.contains("<polyline"), "\(plot)")
        }
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 5)
        #expect(rows[0].hasPrefix("policy,jobs,completed"))
        #expect(rows.dropFirst().allSatisfy { $0.split(separator: ",")[2] == "40" }, "every job completes despite the failures")
        let jobs = try String(contentsOfFile: folder.appendingPathComponent("jobs.csv").path, encoding: .utf8).split(separator: "\n")
        #expect(jobs.count == 1 + 4 * 40)
        #expect(jobs[0].hasPrefix("policy,job,ingress"))
        #expect(jobs.dropFirst().allSatisfy { ["New_York", "Seattle"].contains($0.split(separator: ",", omittingEmptySubsequences: false)[2]) }, "jobs enter where the weights say")
    }

    @Test func sweepsTheLoadOverSeveralTimeScalesAndSeeds() async throws {
        var lines = ["id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress"]
        for index in 0..<30 {
            lines.append("job-\(index),\(index * 60),600,16,16,0,,5,\(["New_York", "Seattle"][index % 2])")
        }
        let trace = try temporaryFile(lines.joined(separator: "\n") + "\n", suffix: ".csv")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("junction-sweep-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(atPath: trace)
            try? FileManager.default.removeItem(at: folder)
        }
        let base = ["simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv", "--time-scale", "1", "4", "--seeds", "2"]
        let csv = folder.appendingPathComponent("sweep.csv").path
        let result = try await JunctionProcess(base + ["--output", csv, "--plots", folder.path]).finish(within: 120)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("junction vs best one-sided"), "\(result.output)")
        #expect(result.errors.contains("time scale 4, seed 2:"), "\(result.errors)")
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 1 + 2 * 2 * 4, "a row per policy, time scale and seed")
        #expect(rows[0].hasSuffix("offered_gpu_load,offered_cpu_load,gigabyte_km,simulated_s,events,time_scale,demand,seed"))
        // The window runs from the 2nd arrival to the 29th. Arrivals every 60 s: from 60 to
        // 1,680 s, where jobs hold their cores 540 + 18 × 600 + (540 + 480 + … + 60) = 14,040 s.
        // Four times the rate, from 15 to 420 s: 405 + 405 + (390 + 375 + … + 0) = 6,075 s.
        let loads = Dictionary(grouping: rows.dropFirst().map { $0.split(separator: ",") }) { $0[$0.count - 3] }.mapValues { Double($0[0][19])! }
        #expect(loads["1.0"]! > 0 && abs(loads["4.0"]! / loads["1.0"]! - (6_075.0 / 405) / (14_040.0 / 1_620)) < 1e-9, "\(loads)")
        let chart = try String(contentsOfFile: folder.appendingPathComponent("gain-vs-load.svg").path, encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.contains("vs best one-sided") && chart.contains("<polyline"))

        let doubled = try await JunctionProcess(Array(base.dropLast(5)) + ["--demand", "1", "2", "--policy", "junction", "--output", csv]).finish(within: 60)
        #expect(doubled.status == 0, "\(doubled.errors)")
        let demands = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(demands.map { "\($0[1]) jobs at demand \($0[$0.count - 2])" } == ["30 jobs at demand 1.0", "60 jobs at demand 2.0"])

        let refused = try await JunctionProcess(base + ["--jobs-output", folder.appendingPathComponent("jobs.csv").path]).finish(within: 30)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("--jobs-output takes one run"), "\(refused.errors)")
    }

    @Test func badScenarioOptionsAreRefusedClearly() async throws {
        let trace = try temporaryFile("id,arrival_s,runtime_s\na,1,5\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: trace) }
        let base = ["simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", trace, "--format", "csv"]
        let cases: [([String], String)] = [
            (["--fail", "pool:atlantis@5"], "declares no pool atlantis"),
            (["--fail", "link:Seattle-Miami@5"], "has no link Seattle-Miami"),
            (["--ingress", "Mars=2"], "neither a node nor a region"),
            (["--data", "gamma:3"], "gamma is not fixed, uniform, exp or lognormal"),
            (["--output", "report.txt"], "--output must end in .json or .csv"),
            (["--time-scale", "1", "0"], "--time-scale must be above 0 and at most 1000000, not 0"),
            (["--demand", "1e300"], "--demand must be above 0 and at most 1000, not 1e+300"),
            (["--data", "fixed:1e300"], "expected fixed with 1 number from 0 to 1000000000"),
            (["--seeds", "0"], "--seeds must be 1 to 1000, not 0"),
        ]
        let stranger = try temporaryFile("id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress\na,1,5,1,,,,,Gotham\n", suffix: ".csv")
        defer { try? FileManager.default.removeItem(atPath: stranger) }
        let unknown = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", stranger, "--format", "csv")
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("names ingresses that are not nodes of abilene: Gotham"), "\(unknown.errors)")
        // A trace a fresh clone lacks says where the published traces come from.
        let missing = try await junction("simulate", "--topology", topologies.appendingPathComponent("abilene.yaml").path, "--trace", "philly_trace.csv", "--format", "philly")
        #expect(missing.status != 0 && missing.errors.contains("cannot read philly_trace.csv: no such readable file") && missing.errors.contains("\"What-if simulations\""), "\(missing.errors)")
        for (extra, message) in cases {
            let result = try await JunctionProcess(base + extra).finish(within: 30)
            #expect(result.status != 0, "\(extra)")
            #expect(result.errors.contains(message), "\(extra): \(result.errors)")
        }
    }

    @Test func fillsAClusterAndComparesWithPublishedCurves() async throws {
        let nodes = "sn,cpu_milli,memory_mib,gpu,model\n" + (0..<6).map { "node-\($0),32000,131072,\($0 < 4 ? 4 : 0),\($0 < 4 ? "V100" : "")" }.joined(separator: "\n") + "\n"
        var pods = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"]
        for index in 0..<30 {
            pods.append("pod-\(index),4000,8192,\(index % 3 == 0 ? 2 : 1),\(index % 3 == 1 ? 500 : 1000),,LS,Running,\(index),\(index + 100),\(index)")
        }
        let columns = (0...130).map(String.init).joined(separator: ",")
        let published = "workload,sc_policy,tune,seed,total_gpus,\(columns)\n" + (42...43).map { seed in
            "tiny_pods,06-FGD,1.3,\(seed),16," + (0...130).map { String(min(Double($0), 95)) }.joined(separator: ",")
        }.joined(separator: "\n") + "\n"
        let nodeFile = try temporaryFile(nodes, suffix: ".csv")
        let podFile = try temporaryFile(pods.joined(separator: "\n") + "\n", suffix: ".csv")
        let curveFile = try temporaryFile(published, suffix: ".csv")
        defer { for file in [nodeFile, podFile, curveFile] { try? FileManager.default.removeItem(atPath: file) } }
        let result = try await junction("simulate", "allocation", "--nodes", nodeFile, "--pods", podFile, "--published", curveFile, "--workload", "tiny_pods", "--seeds", "2", "--json", within: 60)
        #expect(result.status == 0, "\(result.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(json["totalGPUs"] as? Int == 16)
        let ours = try #require(json["junction"] as? [[String: Any]])
        #expect(ours.map { $0["policy"] as? String } == ["junction", "compute-only", "network-only", "random"])
        for curve in ours {
            let points = try #require(curve["allocatedPercent"] as? [Double])
            #expect(points.count == 131)
            #expect(points[50] >= 50 && points[50] <= 62.5, "allocation follows demand while there is room; the pod crossing 50 % adds up to 2 of 16 GPUs")
            #expect((curve["seeds"] as? [Int]) == [42, 43])
            // The mean is the mean of the seeds' own curves, which come with it.
            let bySeed = try #require(curve["allocatedPercentBySeed"] as? [[Double]])
            #expect(bySeed.count == 2 && bySeed.allSatisfy { $0.count >= 131 })
            #expect(abs((bySeed[0][130] + bySeed[1][130]) / 2 - points[130]) < 1e-9)
        }
        let theirs = try #require(json["published"] as? [[String: Any]])
        #expect(theirs.first?["policy"] as? String == "06-FGD" && theirs.first?["seeds"] as? Int == 2)
        let text = try await junction("simulate", "allocation", "--nodes", nodeFile, "--pods", podFile, "--published", curveFile, "--workload", "tiny_pods", "--seeds", "2", "--policy", "junction", within: 60)
        #expect(text.status == 0, "\(text.errors)")
        #expect(text.output.contains("Junction joint reaches") && text.output.contains(", 2 seeds from "), "the spread over the seeds is stated: \(text.output)")

        let wrong = try await junction("simulate", "allocation", "--nodes", nodeFile, "--pods", podFile, "--published", curveFile, within: 30)
        #expect(wrong.status != 0)
        #expect(wrong.errors.contains("has no curves for") && wrong.errors.contains("tiny_pods"))
    }
}

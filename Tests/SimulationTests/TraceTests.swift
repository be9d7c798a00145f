import Simulation
import Testing

@Suite("Trace readers")
struct TraceTests {
    @Test func openbPodsBecomeJobsWithSharesModelsAndRuntimes() throws {
        let text = """
        name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
        openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061
        openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
        openb-pod-0002,8000,30720,2,1000,V100M32|V100M16|V100M32,LS,Running,500,1500,700
        openb-pod-0003,11908,47104,1,1000,,BE,Pending,10001278,10001403,
        openb-pod-0004,1000,1024,0,0,,BE,Failed,20,,
        """
        let report = try TraceFormat.openb.read(text)
        #expect(report.jobs.map(\.id) == ["openb-pod-0000", "openb-pod-0002", "openb-pod-0001", "openb-pod-0003"], "sorted by arrival")
        let shared = try #require(report.jobs.first { $0.id == "openb-pod-0001" })
        #expect(shared.cpuCores == 6 && shared.memoryBytes == 12_288 << 20)
        #expect(shared.gpuCount == 1 && shared.gpuShare == 0.46)
        #expect(shared.runtimeS == 12_902_960 - 427_061)
        let multi = try #require(report.jobs.first { $0.id == "openb-pod-0002" })
        #expect(multi.gpuCount == 2 && multi.gpuShare == 1)
        #expect(multi.gpuModels == ["V100M16", "V100M32"])
        #expect(multi.runtimeS == 800, "from scheduling to deletion")
        let pending = try #require(report.jobs.first { $0.id == "openb-pod-0003" })
        #expect(pending.runtimeS == 125, "never scheduled: from creation")
        #expect(report.skipped == 1)
    }

    @Test func openbPodListsWithoutTimesStillGiveTheirPods() throws {
        let report = try TraceFormat.openb.read("name,cpu_milli,memory_mib,num_gpu,gpu_milli\nopenb-pod-0000,12000,16384,1,1000\nopenb-pod-0001,4000,8192,1,250\n")
        #expect(report.jobs.count == 2)
        #expect(report.jobs.allSatisfy { $0.arrivalS == 0 && $0.runtimeS == 0 && $0.gpuModels.isEmpty })
        #expect(report.jobs[1].gpuShare == 0.25)
        #expect(report.notes.contains { $0.contains("no times") })
    }

    @Test func openbNodesArePoolCapacity() throws {
        let nodes = try TraceReader.openbNodes("sn,cpu_milli,memory_mib,gpu,model\nopenb-node-0000,64000,262144,2,P100\nopenb-node-0001,96000,786432,0,\n")
        #expect(nodes.count == 2)
        #expect(nodes[0].cpuCores == 64 && nodes[0].gpus == 2 && nodes[0].gpuModel == "P100")
        #expect(nodes[1].gpuModel == nil)
    }

    @Test func phillyJobsAreGPUCounts() throws {
        // The published file has Windows line ends.
        let report = try TraceFormat.philly.read("#job id,arrival time (sec),topology,shape,size,duration (sec)\r\n1,266563.0,CLOS,8,8,3222990.0\r\n0,0.0,CLOS,1,1,3613033.0\r\n")
        #expect(report.jobs.map(\.id) == ["philly-0", "philly-1"])
        #expect(report.jobs[1].gpuCount == 8 && report.jobs[1].runtimeS == 3_222_990)
    }

    @Test func swfJobsAreProcessorsAndMemory() throws {
        let text = """
        ; Version: 2.2
            1        0     -1   1451  128     -1    -1   -1     -1    -1 -1   1   1  -1 -1 -1 -1 -1
            2     1460     -1   3726  128     -1    -1   64     -1    2048 -1   1   1  -1 -1 -1 -1 -1
            3     1500     -1     -1  128     -1    -1   -1     -1    -1 -1   0   1  -1 -1 -1 -1 -1
        """
        let report = try TraceFormat.swf.read(text)
        #expect(report.jobs.count == 2)
        #expect(report.jobs[0].cpuCores == 128)
        #expect(report.jobs[1].cpuCores == 64, "requested processors win over allocated")
        #expect(report.jobs[1].memoryBytes == UInt64(2_048 * 64) << 10)
        #expect(report.skipped == 1)
    }

    @Test func theJunctionCSVCarriesDataAndIngress() throws {
        let text = "id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb,ingress\na,10,60,4,8,2,A100|H100,50,NYCM\nb,5,30\n"
        let report = try TraceFormat.csv.read(text)
        #expect(report.jobs.map(\.id) == ["b", "a"])
        let a = report.jobs[1]
        #expect(a.gpuModels == ["A100", "H100"] && a.dataBytes == 50e9 && a.ingress == "NYCM" && a.memoryBytes == 8 << 30)
        #expect(report.jobs[0].cpuCores == 0 && report.jobs[0].dataBytes == nil)
    }

    @Test(arguments: [
        (TraceFormat.openb, "name,cpu_milli\n"),
        (TraceFormat.openb, "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\nx,1,2\n"),
        (TraceFormat.philly, "0,zero,CLOS,1,1,5\n"),
        (TraceFormat.swf, "1 2 3\n"),
        (TraceFormat.csv, "job,when\n"),
        (TraceFormat.csv, "id,arrival_s,runtime_s\na,1,-5\n"),
        // Numbers no count or size can hold are refused, not converted with a trap.
        (TraceFormat.philly, "0,1,CLOS,1,1e30,5\n"),
        (TraceFormat.csv, "id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus\na,1,5,1,-2,0\n"),
        (TraceFormat.csv, "id,arrival_s,runtime_s,cpu_cores,memory_gib,gpus,gpu_models,data_gb\na,1,5,1,1,0,,1e300\n"),
        (TraceFormat.openb, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,1e300,1,0\n"),
        (TraceFormat.swf, "1 0 0 10 4 -1 -1 4 -1 9e300 1 1 1 1 1 -1 -1 -1\n"),
    ])
    func brokenTracesSayWhere(format: TraceFormat, text: String) {
        let error = #expect(throws: TraceError.self) { try format.read(text) }
        #expect((error?.line ?? 0) >= 1)
        #expect(!(error?.message.isEmpty ?? true))
    }
}

import FuzzTargets

#if FUZZING
import Foundation

/// Chosen once, before the first input, from `JUNCTION_FUZZ_TARGET`.
nonisolated(unsafe) private var target = FuzzTarget.envelope

@_cdecl("LLVMFuzzerInitialize")
func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>>>) -> CInt {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    guard let name = ProcessInfo.processInfo.environment["JUNCTION_FUZZ_TARGET"], let chosen = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set JUNCTION_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    target = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
import Foundation

/// Without libFuzzer: replays saved inputs through a target (a crash's reproducer, or a whole
/// corpus), or writes the generated seeds.
@main
struct FuzzReplay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
        let usage = """
            usage: junction-fuzz TARGET FILE|DIRECTORY...   run saved inputs through TARGET
                   junction-fuzz seeds DIRECTORY            write the generated seeds, DIRECTORY/TARGET/...
            TARGET: \(names)
            Fuzzing itself needs a libFuzzer build: Tests/Fuzz/fuzz.sh.
            """
        guard let first = arguments.first, arguments.count >= 2 else { fail(usage) }
        if first == "seeds" {
            writeSeeds(into: arguments[1])
            return
        }
        guard let target = FuzzTarget(rawValue: first) else { fail("unknown target '\(first)'\n\(usage)") }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(at: path) {
                guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
                target.run([UInt8](data))
                count += 1
            }
        }
        print("\(target.rawValue): \(count) input\(count == 1 ? "" : "s") ran without a crash")
    }

    static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { fail("no such file: \(path)") }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.sorted().map { path + "/" + $0 }
    }

    static func writeSeeds(into directory: String) {
        for target in FuzzTarget.allCases where !target.generatedSeeds.isEmpty {
            let folder = directory + "/" + target.rawValue
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, seed) in target.generatedSeeds.enumerated() {
                let file = folder + "/generated-\(index)"
                guard FileManager.default.createFile(atPath: file, contents: Data(seed)) else { fail("cannot write \(file)") }
            }
            print("\(folder): \(target.generatedSeeds.count) seeds")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
#endif

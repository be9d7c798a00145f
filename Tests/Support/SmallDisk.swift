import Foundation

/// A tmpfs of a chosen size, mounted in a directory of its own for one test, so that a disk
/// filling up is real. Mounting needs root (as `.ci/run` runs); when it fails, `mount` throws
/// saying why: a test that needs a full disk fails, it never passes without one.
public final class SmallDisk: @unchecked Sendable {
    // @unchecked: `mounted` is only touched by the test that owns the disk.
    /// Where the disk is mounted.
    public let directory: String
    private var mounted = true

    private init(directory: String) {
        self.directory = directory
    }

    /// Mounts a tmpfs of `kibibytes` at a new temporary directory.
    public static func mount(kibibytes: Int) throws -> SmallDisk {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("junction-disk-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            _ = try runProgram(["/bin/mount", "-t", "tmpfs", "-o", "size=\(kibibytes)k", "tmpfs", directory])
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw ScriptError(description: "cannot mount a \(kibibytes) KiB tmpfs to fill up (this test needs root): \(error)")
        }
        return SmallDisk(directory: directory)
    }

    /// Makes the disk `kibibytes` large, keeping what it holds.
    public func grow(to kibibytes: Int) throws {
        _ = try runProgram(["/bin/mount", "-o", "remount,size=\(kibibytes)k", directory])
    }

    /// Makes the disk read-only, as a kernel does to a file system that failed.
    public func makeReadOnly() throws {
        _ = try runProgram(["/bin/mount", "-o", "remount,ro", directory])
    }

    /// Unmounts the disk and removes its directory; safe to call more than once.
    public func remove() {
        guard mounted else { return }
        mounted = false
        _ = try? runProgram(["/bin/umount", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { remove() }
}

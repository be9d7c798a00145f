import Foundation
import Testing

@Suite("junction link", .serialized)
struct LinkCommandTests {
    @Test func aLinkGoesDownAndComesBackWithoutAReload() async throws {
        let topology = try temporaryFile(twoSiteTopology, suffix: ".yaml")
        let controller = try await RunningController.start(topology: topology)
        defer { controller.process.signal(SIGKILL) }
        let down = try await controller.client("link", "users-near", "--down")
        #expect(down.status == 0, "\(down.errors)")
        #expect(down.output.contains("link users-near down"))
        let up = try await controller.client("link", "users-near", "--up", "--capacity-gbps", "40")
        #expect(up.status == 0 && up.output.contains("up, 40 Gbps"), "\(up.output) \(up.errors)")
        let unknown = try await controller.client("link", "nowhere", "--down")
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("no link nowhere"))
        let neither = try await controller.client("link", "users-near")
        #expect(neither.status != 0 && neither.errors.contains("give --down, --up or --capacity-gbps"))
    }
}

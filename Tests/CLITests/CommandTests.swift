import Foundation
import Testing
import Wire
import ZeroMQ

@Suite("The junction command")
struct CommandTests {
    @Test func versionIsPrinted() async throws {
        let result = try await junction("--version")
        #expect(result.status == 0)
        #expect(result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }

    @Test func helpStatesEachDefaultOnce() async throws {
        for command in ["submit", "usage", "status", "pools", "place", "routes", "watch", "controller", "pool", "keygen"] {
            let help = try await junction(command, "--help")
            let text = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(help.status == 0 && !text.contains("(default: the controller's). (default:") && !text.contains("(default: 24h, a day ago)"), "\(command): \(text)")
        }
    }

    @Test func helpListsTheSubcommands() async throws {
        let result = try await junction("--help")
        #expect(result.status == 0)
        for subcommand in ["selfcheck", "bench"] {
            #expect(result.output.contains(subcommand), "help lacks \(subcommand)")
        }
        #expect(!result.output.contains("zmq-peer"), "test helpers stay out of the help")
    }

    @Test func anUnknownSubcommandFailsWithAMessage() async throws {
        let result = try await junction("frobnicate")
        #expect(result.status != 0)
        #expect(result.errors.contains("frobnicate"))
    }

    @Test func typosAreNamedWithTheNearestRealName() async throws {
        let submit = try await junction("submt", "--from", "X")
        #expect(submit.status != 0)
        #expect(submit.errors.contains("'submt' is not a junction command. Did you mean 'junction submit'?"), "\(submit.errors)")
        let status = try await junction("statsu")
        #expect(status.errors.contains("Did you mean 'junction status'?"), "\(status.errors)")
        let nested = try await junction("topology", "valdate", "x.yaml")
        #expect(nested.errors.contains("Did you mean 'junction topology validate'?"), "\(nested.errors)")
        // An unknown option is named before the required one it was probably meant to be.
        let option = try await junction("submit", "--form", "users", "--", "/bin/true")
        #expect(option.status != 0)
        #expect(option.errors.contains("Unknown option '--form'. Did you mean '--from'?"), "\(option.errors)")
        #expect(option.errors.contains("Usage: junction submit"))
        // A check made while the subcommand runs shows that subcommand's usage.
        let invalid = try await junction("place", "--topology", "Topologies/abilene.yaml", "--from", "New_York", "--cpu", "nan")
        #expect(invalid.status != 0)
        #expect(invalid.errors.contains("--cpu must be a number"), "\(invalid.errors)")
        #expect(invalid.errors.contains("Usage: junction place"), "\(invalid.errors)")
    }

    @Test func selfCheckExchangesProtocolMessages() async throws {
        let result = try await junction("selfcheck")
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("ROUTER received advertisement"))
        #expect(result.output.contains("DEALER received welcome"))
        #expect(result.output.contains("self-check passed"))
    }

    @Test func benchRejectsNonsense() async throws {
        let result = try await junction("bench", "zmq", "--messages", "3")
        #expect(result.status != 0)
        #expect(result.errors.contains("--messages"))
    }

    @Test func benchMeasuresBothSides() async throws {
        let result = try await junction(
            "bench", "zmq", "--messages", "2000", "--round-trips", "200", "--repeats", "1", "--json",
            within: 60
        )
        #expect(result.status == 0, "\(result.errors)")
        let report = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        for key in ["cMessagesPerSecond", "loopMessagesPerSecond", "socketMessagesPerSecond", "cRoundTripP50Microseconds", "loopRoundTripP50Microseconds"] {
            let value = try #require(report?[key] as? Double, "\(key) missing")
            #expect(value > 0)
        }
    }
}

@Suite("ZeroMQ across two OS processes")
struct CrossProcessTests {
    @Test func routerHereTalksToADealerInAnotherProcess() async throws {
        let context = try Context()
        defer { context.terminate() }
        let router = try SocketLoop(context: context, sockets: [SocketSpec(.router, bind: ["tcp://127.0.0.1:*"])])
        defer { router.shutdown() }
        // Generous waits: two cores shared with builds can stall either side for seconds.
        let peer = try JunctionProcess(["zmq-peer", "--connect", router.boundEndpoints[0][0], "--messages", "20", "--timeout", "30"])
        let served = Task {
            var answered = 0
            while answered < 20, let batch = await router.incoming.next() {
                for delivery in batch {
                    guard delivery.message.frames.count == 2,
                          let request = try? WireMessage(bytes: delivery.message.frames[1]),
                          case .heartbeat = request.body
                    else { continue }
                    var welcome = Junction_V1_Welcome()
                    welcome.poolID = "peer"
                    let reply = try WireMessage(.welcome(welcome), correlationID: request.correlationID).serialized()
                    router.send(Message(delivery.message.frames[0], reply))
                    answered += 1
                }
            }
            return answered
        }
        let result = try await peer.finish(within: 120)
        served.cancel()
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("exchanged 20 messages"))
        #expect(try await served.value == 20)
    }
}

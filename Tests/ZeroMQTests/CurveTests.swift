import Testing
import ZeroMQ

@Suite("CURVE and Z85")
struct CurveTests {
    @Test func z85RoundTripsTheSpecExample() throws {
        // The test vector from ZeroMQ RFC 32/Z85.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hello") != nil)
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hell\u{7F}") == nil)
    }

    @Test func keyPairsAreFreshAndConsistent() throws {
        try #require(ZeroMQLibrary.has("curve"))
        let first = try CurveKeyPair.generate()
        let second = try CurveKeyPair.generate()
        #expect(first != second)
        #expect(first.publicKey.count == 40 && first.secretKey.count == 40)
        #expect(try CurveKeyPair.publicKey(forSecretKey: first.secretKey) == first.publicKey)
        #expect(throws: ZeroMQError.self) { try CurveKeyPair(publicKey: "short", secretKey: first.secretKey) }
    }

    /// A CURVE server ROUTER and a client DEALER that knows `serverKey` as the server's key.
    func exchange(serverKeys: CurveKeyPair, serverKey: String) async throws -> Message? {
        let context = try Context()
        defer { context.terminate() }
        let clientKeys = try CurveKeyPair.generate()
        let server = try SocketLoop(context: context, sockets: [SocketSpec(
            .router,
            options: [.curveServer(true), .curveSecretKey(serverKeys.secretKey)],
            bind: ["tcp://127.0.0.1:*"], lingerMilliseconds: 0
        )])
        defer { server.shutdown() }
        let client = try SocketLoop(context: context, sockets: [SocketSpec(
            .dealer,
            options: [
                .curveServerKey(serverKey),
                .curvePublicKey(clientKeys.publicKey),
                .curveSecretKey(clientKeys.secretKey),
            ],
            connect: [server.boundEndpoints[0][0]], lingerMilliseconds: 0
        )])
        defer { client.shutdown() }
        client.send(Message(bytes("secret hello")))
        // A failed handshake does not error: the message just never arrives, hence the timeout.
        return try? await within(1.5, "the encrypted message") {
            await server.incoming.next()?.first?.message
        }
    }

    @Test func handshakeSucceedsWithTheRightServerKey() async throws {
        let serverKeys = try CurveKeyPair.generate()
        let received = try await exchange(serverKeys: serverKeys, serverKey: serverKeys.publicKey)
        #expect(received?.frames.last == bytes("secret hello"))
    }

    @Test func handshakeFailsWithTheWrongServerKey() async throws {
        let serverKeys = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        let received = try await exchange(serverKeys: serverKeys, serverKey: impostor.publicKey)
        #expect(received == nil)
    }
}

#if os(macOS)
    import DynamicByoa
    import DynamicByoaPlatform
    import XCTest

    /// The whole stack on a Mac: the generated bindings and the Rust core (the xcframework's macOS
    /// slice, the mobile build without an HTTP stack of its own), HTTP over
    /// `URLSessionHttpTransport`, against `byoa emulator` started here, which verifies each
    /// external JWT against a JWKS served by this test.
    final class SignInTests: XCTestCase {
        private var jwksServer: LoopbackServer!
        private var emulator: EmulatorProcess!
        private let issuer = TestIssuer()
        private let environmentId = UUID().uuidString.lowercased()

        override func setUp() async throws {
            let jwks = issuer.jwks
            jwksServer = try await LoopbackServer { _, path in
                path == "/jwks.json"
                    ? .init(status: 200, headers: ["Content-Type": "application/json"], body: jwks)
                    : .init(status: 404)
            }
            do {
                emulator = try await EmulatorProcess(
                    environmentId: environmentId, issuer: issuer.issuer,
                    jwksURL: jwksServer.baseURL + "/jwks.json")
            } catch EmulatorError.missingBinary(let path) {
                throw XCTSkip("no emulator at \(path): cargo build -q --workspace --all-targets")
            }
        }

        override func tearDown() {
            emulator?.stop()
            jwksServer?.stop()
        }

        private func client(signer: KeySigner? = nil) throws -> DynamicClient {
            let config = ClientConfig(environmentId: environmentId, apiBaseUrl: emulator.baseURL)
            return try DynamicClient(
                config: config,
                dependencies: ClientDependencies(
                    keySigner: signer,
                    httpTransport: URLSessionHttpTransport()))
        }

        func testSignInObserveAndSignOut() async throws {
            let client = try client()
            let states = client.auth().states()
            var iterator = states.makeAsyncIterator()
            let first = await iterator.next()
            XCTAssertEqual(first, .signedOut(reason: nil), "no storage given: nothing to restore")

            let jwt = try issuer.jwt(subject: "user-1")
            let session = try await client.auth().external().signInWithExternalJwt(
                params: SignInWithExternalJwtParams(externalJwt: jwt, externalUserId: "user-1"))
            XCTAssertEqual(session.user.externalUserId, "user-1")
            XCTAssertGreaterThan(session.expiresAt, Date())
            let signedIn = await iterator.next()
            XCTAssertEqual(signedIn?.signedInSession, session)

            let token = try await client.auth().accessToken()
            XCTAssertFalse(token.isEmpty)
            XCTAssertFalse(String(describing: client).contains(token), "no token in descriptions")

            await client.auth().signOut()
            let signedOut = await iterator.next()
            XCTAssertEqual(signedOut, .signedOut(reason: .userIntent))
            XCTAssertNil(client.auth().session())
        }

        func testARefusedJwtIsATypedError() async throws {
            let client = try client()
            let other = TestIssuer(issuer: issuer.issuer)  // same issuer, a key the JWKS lacks
            do {
                _ = try await client.auth().external().signInWithExternalJwt(
                    params: SignInWithExternalJwtParams(
                        externalJwt: try other.jwt(subject: "user-2"), externalUserId: "user-2"))
                XCTFail("a JWT signed by an unknown key must be refused")
            } catch let error as ByoaError {
                XCTAssertEqual(error.code(), "external_auth_rejected", "\(error)")
                XCTAssertEqual(error.category(), .rejected)
            }
        }

        func testADeviceBoundSignInWithTheSoftwareSigner() async throws {
            // The Secure Enclave signer needs a signed host on macOS; the port is the same.
            let client = try client(signer: softwareKeySigner(storage: memoryStorage()))
            let jwt = try issuer.jwt(subject: "user-3")
            let session = try await client.auth().external().signInWithExternalJwt(
                params: SignInWithExternalJwtParams(externalJwt: jwt, externalUserId: "user-3"))
            XCTAssertEqual(session.user.externalUserId, "user-3")
            await client.auth().signOut()
        }
    }
#endif

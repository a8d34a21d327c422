import DynamicByoa
import Foundation

/// What `DynamicClient.withPlatformDefaults` plugs in besides the defaults.
public struct PlatformOptions: Sendable {
    /// Keychain access group for the session and the keys (shared with an app extension), or
    /// `nil` for the app's default group.
    public var keychainAccessGroup: String?
    /// Bind sessions to keys of this device (`SecureEnclaveKeySigner`). Default true.
    public var deviceBoundSessions: Bool
    /// Use Keychain software keys where there is no Secure Enclave (the simulator). Default true.
    public var allowSoftwareKeyFallback: Bool
    /// Asked for a fresh external JWT when the session cannot be refreshed; see
    /// `ClientDependencies.jwtProvider`. Default none.
    public var jwtProvider: ExternalJwtProvider?
    /// The HTTP stack; default a `URLSessionHttpTransport` on its default configuration.
    public var httpTransport: HttpTransport?
    /// Where the fresh-install marker lives; default Application Support.
    public var freshInstallMarker: FreshInstallMarker

    public init(
        keychainAccessGroup: String? = nil,
        deviceBoundSessions: Bool = true,
        allowSoftwareKeyFallback: Bool = true,
        jwtProvider: ExternalJwtProvider? = nil,
        httpTransport: HttpTransport? = nil,
        freshInstallMarker: FreshInstallMarker = FreshInstallMarker()
    ) {
        self.keychainAccessGroup = keychainAccessGroup
        self.deviceBoundSessions = deviceBoundSessions
        self.allowSoftwareKeyFallback = allowSoftwareKeyFallback
        self.jwtProvider = jwtProvider
        self.httpTransport = httpTransport
        self.freshInstallMarker = freshInstallMarker
    }
}

extension DynamicClient {
    /// A client wired for an iOS app in one call: the session in the Keychain
    /// (`KeychainSessionStorage`), device-bound sessions on the Secure Enclave
    /// (`SecureEnclaveKeySigner`), HTTP over URLSession (`URLSessionHttpTransport`), and
    /// `config.freshInstall` set on the first launch after an install (`FreshInstallMarker`), so
    /// that a session an earlier install left in the Keychain is deleted, not restored.
    ///
    /// The client starts `Restoring`; await `auth().restore()` or watch `auth().states()`.
    public static func withPlatformDefaults(
        config: ClientConfig, options: PlatformOptions = PlatformOptions()
    ) throws -> DynamicClient {
        let storage = KeychainSessionStorage(
            environmentId: config.environmentId, accessGroup: options.keychainAccessGroup)
        let signer: KeySigner? =
            options.deviceBoundSessions
            ? SecureEnclaveKeySigner(
                accessGroup: options.keychainAccessGroup,
                allowSoftwareFallback: options.allowSoftwareKeyFallback)
            : nil
        let freshInstall =
            options.freshInstallMarker.checkAndMark(environmentId: config.environmentId)
            || config.freshInstall
        let dependencies = ClientDependencies(
            storage: storage,
            keySigner: signer,
            jwtProvider: options.jwtProvider,
            httpTransport: options.httpTransport ?? URLSessionHttpTransport())
        return try DynamicClient(
            config: config.withFreshInstall(freshInstall), dependencies: dependencies)
    }
}

extension ClientConfig {
    /// This configuration with `freshInstall` set. Every field is copied (scripts/test-swift.sh
    /// checks the list against the generated `ClientConfig`, so a new field cannot be dropped).
    public func withFreshInstall(_ freshInstall: Bool) -> ClientConfig {
        ClientConfig(
            environmentId: environmentId,
            apiBaseUrl: apiBaseUrl,
            appOrigin: appOrigin,
            requestTimeoutMs: requestTimeoutMs,
            clockLeewaySeconds: clockLeewaySeconds,
            autoRefresh: autoRefresh,
            refreshMarginSeconds: refreshMarginSeconds,
            freshInstall: freshInstall,
            bindSessionKey: bindSessionKey)
    }
}

extension AuthModule {
    /// Every state change of the client, in order, starting with the current state; the
    /// listener is removed when the stream's consumer stops (the loop ends or its task is
    /// cancelled).
    ///
    ///     for await state in client.auth().states() { render(state) }
    public func states(
        bufferingPolicy: AsyncStream<AuthState>.Continuation.BufferingPolicy = .unbounded
    ) -> AsyncStream<AuthState> {
        AsyncStream(bufferingPolicy: bufferingPolicy) { continuation in
            let handle = addListener(listener: StateStreamListener(continuation: continuation))
            continuation.onTermination = { _ in
                handle.remove()
            }
        }
    }
}

/// Feeds an `AsyncStream` from the core's listener (called on the library's thread; it only
/// enqueues, so it returns at once).
final class StateStreamListener: AuthListener {
    let continuation: AsyncStream<AuthState>.Continuation

    init(continuation: AsyncStream<AuthState>.Continuation) {
        self.continuation = continuation
    }

    func onStateChanged(state: AuthState) {
        continuation.yield(state)
    }
}

extension SignedInSession {
    /// `expiresAtMs` (server time) as a `Date`.
    public var expiresAt: Date {
        Date(timeIntervalSince1970: Double(expiresAtMs) / 1000)
    }
}

extension AuthState {
    /// The session when signed in, else `nil`.
    public var signedInSession: SignedInSession? {
        if case .signedIn(let session) = self {
            return session
        }
        return nil
    }
}

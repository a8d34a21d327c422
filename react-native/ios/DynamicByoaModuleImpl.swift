// The iOS TurboModule's implementation, behind the Objective-C++ class in DynamicByoa.mm (React
// Native's codegen protocol is Objective-C++, which Swift cannot adopt). An adapter only: every
// payload is computed by the Rust core's bridge functions (`bridgeSessionJson`,
// `bridgeStateJson`, `bridgeElevatedAccessJson`, `bridgeRejection`), and storage, keys, HTTP and
// the fresh-install marker are the Swift package's (`DynamicClient.withPlatformDefaults`). It
// behaves as the reference implementation of the spec, crates/rn-test-host, does.
//
// In the pod, the generated API, the platform adapters and this file are one Swift module
// (`DynamicByoa`, the pod's name; see DynamicByoa.podspec), so there is nothing to import; the
// imports below only apply where the Swift package's two modules exist.
#if canImport(DynamicByoaPlatform)
import DynamicByoa
import DynamicByoaPlatform
#endif
import Foundation

/// A promise's resolve block (`RCTPromiseResolveBlock`).
public typealias DynamicByoaResolve = @Sendable (Any?) -> Void
/// A promise's reject block (`RCTPromiseRejectBlock`): code, message, and an `NSError` whose
/// `userInfo` React Native hands JavaScript as `error.userInfo`.
public typealias DynamicByoaReject = @Sendable (String?, String?, NSError?) -> Void
/// One of the generated typed emitters (`emitOnAuthStateChanged:`, `emitOnLog:`).
public typealias DynamicByoaEmitter = @Sendable ([String: Any]) -> Void

/// Holds the clients by handle and forwards each spec method to the core.
///
/// Threading: React Native calls the methods on the module's method queue; promise methods
/// start a `Task` and return, so calls run concurrently as they do in the core. Events are
/// emitted from the core's listener thread as it delivers them, before the call that caused them
/// settles its promise (the generated emitter and the promise blocks both hand over to the JS
/// thread through the same invoker, in order).
@objc(DynamicByoaModuleImpl)
public final class DynamicByoaModuleImpl: NSObject, @unchecked Sendable {
    // @unchecked: every mutable property below is read and written under `lock` only.
    private let lock = NSLock()
    private var clients: [Int64: Entry] = [:]
    private var nextHandle: Int64 = 1
    private var tasks: [UUID: Task<Void, Never>] = [:]
    private var invalidated = false
    private var loggerInstalled = false

    private let emitAuthState: DynamicByoaEmitter
    private let emitLog: DynamicByoaEmitter

    private struct Entry {
        let client: DynamicClient
        var listener: ListenerHandle?
    }

    /// What a promise resolves with; converted to an Objective-C value only when resolving, so
    /// nothing that is not `Sendable` leaves the task.
    private enum Payload: Sendable {
        case json(String)
        case handle(Int64)
        case text(String)
        case elevatedToken(String?)
        case none

        var objectValue: Any {
            switch self {
            case .json(let text), .text(let text): return text
            case .handle(let handle): return NSNumber(value: handle)
            case .elevatedToken(let token): return ["token": token ?? NSNull()] as [String: Any]
            // `null`, as the Android module and the reference host resolve a void promise
            // (resolving nil would give JavaScript `undefined`).
            case .none: return NSNull()
            }
        }
    }

    /// `emitAuthState` and `emitLog` are the generated emitters; they are called only after
    /// JavaScript asked for events (`startAuthStateEvents`, `setLogLevel`), since the generated
    /// emitter crashes when used before JavaScript has looked the module up.
    @objc(initWithEmitAuthState:emitLog:)
    public init(
        emitAuthState: @escaping DynamicByoaEmitter, emitLog: @escaping DynamicByoaEmitter
    ) {
        self.emitAuthState = emitAuthState
        self.emitLog = emitLog
        super.init()
    }

    // MARK: - The spec's methods

    /// `createClient(config)`: a client on the Keychain, Secure Enclave keys, URLSession and the
    /// fresh-install marker. A key JavaScript left out is nil here, so the core's default applies.
    @objc(createClient:apiBaseUrl:appOrigin:requestTimeoutMs:clockLeewaySeconds:autoRefresh:refreshMarginSeconds:bindSessionKey:resolve:reject:)
    public func createClient(
        environmentId: String?, apiBaseUrl: String?, appOrigin: String?,
        requestTimeoutMs: NSNumber?, clockLeewaySeconds: NSNumber?, autoRefresh: NSNumber?,
        refreshMarginSeconds: NSNumber?, bindSessionKey: NSNumber?,
        resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        let config = ClientConfig(
            // An absent id reaches the core as "", which it refuses as invalid_configuration.
            environmentId: environmentId ?? "",
            apiBaseUrl: apiBaseUrl,
            appOrigin: appOrigin,
            requestTimeoutMs: requestTimeoutMs.map(Self.int64),
            clockLeewaySeconds: clockLeewaySeconds.map(Self.int64),
            autoRefresh: autoRefresh?.boolValue,
            refreshMarginSeconds: refreshMarginSeconds.map(Self.int64),
            // Decided by withPlatformDefaults from the marker.
            freshInstall: false,
            bindSessionKey: bindSessionKey?.boolValue)
        run(resolve, reject) { [weak self] in
            // Off the method queue: the marker touches the file system.
            let client = try DynamicClient.withPlatformDefaults(config: config)
            guard let self else { return .none }
            return .handle(self.register(client))
        }
    }

    /// Stops the client's events and drops the module's reference to it. An unknown handle is
    /// ignored (JavaScript disposes at most once; a late dispose after invalidation is harmless).
    @objc(disposeClient:)
    public func disposeClient(handle: Double) {
        let entry = locked { () -> Entry? in
            guard let key = Int64(exactly: handle) else { return nil }
            return clients.removeValue(forKey: key)
        }
        entry?.listener?.remove()
    }

    /// Registers the Rust listener that emits `onAuthStateChanged`; its first call is the
    /// current state. A second start replaces the first listener.
    @objc(startAuthStateEvents:)
    public func startAuthStateEvents(handle: Double) {
        guard let key = Int64(exactly: handle), let client = entry(key)?.client else { return }
        let forwarder = StateEventForwarder(handle: key, client: client, module: self)
        // Not under the lock: the core may call the listener (which takes it) before returning.
        let registration = client.auth().addListener(listener: forwarder)
        let stale = locked { () -> ListenerHandle? in
            // The client went away (disposed, or the module invalidated) while registering:
            // the new listener is the stale one.
            guard !invalidated, clients[key] != nil else { return registration }
            defer { clients[key]?.listener = registration }
            return clients[key]?.listener
        }
        stale?.remove()
    }

    @objc(stopAuthStateEvents:)
    public func stopAuthStateEvents(handle: Double) {
        let listener = locked { () -> ListenerHandle? in
            guard let key = Int64(exactly: handle) else { return nil }
            let listener = clients[key]?.listener
            clients[key]?.listener = nil
            return listener
        }
        listener?.remove()
    }

    @objc(signInWithExternalJwt:externalJwt:externalUserId:resolve:reject:)
    public func signInWithExternalJwt(
        handle: Double, externalJwt: String, externalUserId: String,
        resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        withClient(handle, resolve, reject) { client in
            let params = SignInWithExternalJwtParams(
                externalJwt: externalJwt, externalUserId: externalUserId)
            let session = try await client.auth().external().signInWithExternalJwt(params: params)
            return .json(bridgeSessionJson(session: session))
        }
    }

    @objc(verifyWithExternalJwt:externalJwt:resolve:reject:)
    public func verifyWithExternalJwt(
        handle: Double, externalJwt: String,
        resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        withClient(handle, resolve, reject) { client in
            let params = VerifyWithExternalJwtParams(externalJwt: externalJwt)
            let access = try await client.auth().external().verifyWithExternalJwt(params: params)
            return .json(bridgeElevatedAccessJson(access: access))
        }
    }

    @objc(restore:resolve:reject:)
    public func restore(
        handle: Double, resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        withClient(handle, resolve, reject) { client in
            .json(bridgeStateJson(state: await client.auth().restore()))
        }
    }

    @objc(refresh:resolve:reject:)
    public func refresh(
        handle: Double, resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        withClient(handle, resolve, reject) { client in
            .json(bridgeSessionJson(session: try await client.auth().refresh()))
        }
    }

    /// `minTtlSeconds` nil: the core's default.
    @objc(getAccessToken:minTtlSeconds:forceRefresh:resolve:reject:)
    public func getAccessToken(
        handle: Double, minTtlSeconds: NSNumber?, forceRefresh: Bool,
        resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        let options = AccessTokenOptions(
            minTtlSeconds: minTtlSeconds.map(Self.int64), forceRefresh: forceRefresh)
        withClient(handle, resolve, reject) { client in
            .text(try await client.auth().accessToken(options: options))
        }
    }

    /// `scopes` is `[Any]`, not `[String]`: Swift bridges an `NSArray` argument to `[String]`
    /// by force, so one element JavaScript passed that is not a string (codegen does not check
    /// the elements) would trap. The strings are kept and anything else dropped, as the Android
    /// module and the reference host do.
    @objc(getElevatedAccessToken:scopes:resolve:reject:)
    public func getElevatedAccessToken(
        handle: Double, scopes: [Any],
        resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        let wanted = scopes.compactMap { $0 as? String }
        withClient(handle, resolve, reject) { client in
            .elevatedToken(client.auth().elevatedAccessToken(scopes: wanted))
        }
    }

    @objc(logout:resolve:reject:)
    public func logout(
        handle: Double, resolve: @escaping DynamicByoaResolve, reject: @escaping DynamicByoaReject
    ) {
        withClient(handle, resolve, reject) { client in
            await client.auth().signOut()
            return .none
        }
    }

    /// The core's logger is per process: a level installs a logger emitting `onLog`, anything
    /// else (`off`) removes it.
    @objc(setLogLevel:)
    public func setLogLevel(level: String) {
        let parsed: LogLevel?
        switch level {
        case "error": parsed = .error
        case "warn": parsed = .warn
        case "info": parsed = .info
        case "debug": parsed = .debug
        case "trace": parsed = .trace
        default: parsed = nil
        }
        guard locked({ !invalidated }) else { return }
        if let parsed {
            setLogger(logger: LogEventForwarder(module: self), level: parsed)
        } else {
            setLogger(logger: nil, level: .error)
        }
        locked { loggerInstalled = parsed != nil }
    }

    /// The module is going away (bridge reload, app teardown): no promise settles and no event
    /// is emitted from now on. The flag is set under `lock` before anything else, and every emit
    /// and settlement checks it and calls its block in one critical section of `lock`
    /// (`unlessInvalidated`, `settle`), so when `invalidate` returns to React Native, which then
    /// frees the C++ module the emitters reach, none is in progress. Cancelling a task stops it
    /// at its next check; a Rust future already running finishes in the core (uniffi's Swift
    /// futures do not observe cancellation) and its result is dropped here.
    @objc
    public func invalidate() {
        let (entries, running, hadLogger) = locked {
            () -> ([Entry], [Task<Void, Never>], Bool) in
            invalidated = true
            defer {
                clients.removeAll()
                tasks.removeAll()
                loggerInstalled = false
            }
            return (Array(clients.values), Array(tasks.values), loggerInstalled)
        }
        running.forEach { $0.cancel() }
        entries.forEach { $0.listener?.remove() }
        if hadLogger {
            // The logger is per process; a module created after this one (a reload) installs
            // its own when its JavaScript asks.
            setLogger(logger: nil, level: .error)
        }
    }

    // MARK: - Events (called by the forwarders)

    fileprivate func emitState(handle: Int64, state: AuthState, token: String?) {
        // The bearer travels with the state so the TypeScript `auth.token` getter has it
        // synchronously; it is never logged. Built before the lock: bridgeStateJson is a core
        // call (see `unlessInvalidated`).
        let payload: [String: Any] = [
            "handle": NSNumber(value: handle),
            "stateJson": bridgeStateJson(state: state),
            "token": token ?? NSNull(),
        ]
        unlessInvalidated { emitAuthState(payload) }
    }

    fileprivate func emitLogLine(level: LogLevel, target: String, message: String) {
        let name: String
        switch level {
        case .error: name = "error"
        case .warn: name = "warn"
        case .info: name = "info"
        case .debug: name = "debug"
        case .trace: name = "trace"
        }
        // Already redacted by the core: no token or piece of one.
        let payload: [String: Any] = ["level": name, "target": target, "message": message]
        unlessInvalidated { emitLog(payload) }
    }

    // MARK: - Plumbing

    /// Runs `emit` (an emitter or a promise block) unless the module was invalidated, with the
    /// check and the call in ONE critical section of `lock`. `invalidate` sets `invalidated`
    /// under `lock` first, so once it has taken the lock no emit is in progress and none can
    /// start: the JSI spec's emitter callback captures the C++ module by reference, and an emit
    /// that passed the check before `invalidate` and called the emitter after it would reach a
    /// freed object.
    ///
    /// Why this cannot deadlock although `NSLock` is not recursive: the only foreign code ever
    /// run under `lock` is `emit`, and an emitter or promise block only hands its value to the
    /// JS thread's invoker (a short internal mutex of React Native's, then `invokeAsync`) and
    /// returns; it never calls into the core or back into this module, and never waits for the
    /// JS thread (which may itself be waiting for `invalidate`: React Native invalidates modules
    /// from it). Everything else that runs under `lock` is this file's own bookkeeping: no core
    /// call, no `ListenerHandle.remove()`, `setLogger` or `addListener`, and no last reference to
    /// a core object dropped (the entries and listeners taken out are returned and released
    /// after the unlock, since a uniffi object's deinit is a core call). The core calls back into
    /// the module (a listener's state, a log line) only from inside a core call, and none is made
    /// with `lock` held, so a callback never finds its own thread holding the lock. In
    /// particular the state listener's re-entry into the core (`tokens()`, then
    /// `bridgeStateJson`, either of which may log, and a log line takes `lock` in
    /// `emitLogLine`) happens before its emit takes the lock; the first state, which the core
    /// may deliver synchronously inside `addListener`, arrives while `startAuthStateEvents`
    /// holds no lock; and a `remove()` that waits for a delivery in flight waits at most for one
    /// short critical section, since it is never called under `lock`.
    private func unlessInvalidated(_ emit: () -> Void) {
        locked {
            if !invalidated { emit() }
        }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func entry(_ handle: Int64) -> Entry? {
        locked { clients[handle] }
    }

    /// The new client's handle. After `invalidate` the client is not kept (its promise does
    /// not settle either).
    private func register(_ client: DynamicClient) -> Int64 {
        locked {
            let handle = nextHandle
            nextHandle += 1
            if !invalidated {
                clients[handle] = Entry(client: client, listener: nil)
            }
            return handle
        }
    }

    /// Runs `work` on the client of `handle`; a handle with no client (disposed) rejects as
    /// the TypeScript layer's own disposed-client error does, `invalid_configuration`.
    ///
    /// The client is looked up HERE, on the calling thread (the method queue), before the task
    /// starts, and the task holds it strongly: React Native calls the methods in order, so
    /// `logout(h)` then `disposeClient(h)` back to back finds the client for the logout, and the
    /// dispose (which only drops the module's reference; a uniffi object is freed when its last
    /// reference goes) cannot end the sign-out. As the Android module and the reference host do.
    private func withClient(
        _ handle: Double, _ resolve: @escaping DynamicByoaResolve,
        _ reject: @escaping DynamicByoaReject,
        _ work: @escaping @Sendable (DynamicClient) async throws -> Payload
    ) {
        let client = Int64(exactly: handle).flatMap { entry($0)?.client }
        run(resolve, reject) {
            guard let client else {
                throw ByoaError.InvalidConfiguration(
                    field: "handle", detail: "no client with this handle: it was disposed")
            }
            return try await work(client)
        }
    }

    /// Starts `work` in a task the module can cancel, and settles the promise with its outcome
    /// unless the module was invalidated meanwhile.
    private func run(
        _ resolve: @escaping DynamicByoaResolve, _ reject: @escaping DynamicByoaReject,
        _ work: @escaping @Sendable () async throws -> Payload
    ) {
        let id = UUID()
        // Created under the lock, so the task's own removal (which takes the lock) always
        // comes after its insertion.
        locked {
            guard !invalidated else { return }
            tasks[id] = Task { [weak self] in
                do {
                    let payload = try await work()
                    self?.settle(id) { resolve(payload.objectValue) }
                } catch {
                    // Before the lock: bridgeRejection is a core call (see `unlessInvalidated`).
                    let rejection = Self.rejection(error)
                    self?.settle(id) { reject(rejection.code, rejection.message, rejection.error) }
                }
            }
        }
    }

    /// Removes a finished task and settles its promise with `body`, unless `invalidate`
    /// cancelled it: the check and the settling are one critical section, as an emit's are
    /// (`unlessInvalidated`), so no promise settles once `invalidate` has begun.
    private func settle(_ id: UUID, _ body: () -> Void) {
        locked {
            tasks.removeValue(forKey: id)
            if !invalidated && !Task.isCancelled { body() }
        }
    }

    /// `bridgeRejection` of the core's error: code, message and the parsed `userInfoJson`.
    /// Anything that is not a `ByoaError` (an error of the platform adapters', or a uniffi
    /// internal error, which would be a bug) goes through the core as `internal`, with a detail
    /// naming the error's type and description, so even that payload is the core's. Every
    /// promise method rejects through here: `run`'s catch is the only place an error leaves a
    /// task, and `withClient`'s disposed handle and `createClient`'s platform errors reach it.
    private static func rejection(_ error: Error) -> (code: String, message: String, error: NSError) {
        // The type and its description, as Android names a foreign exception (class name and
        // message). `String(describing:)` cannot fail for any error (an NSError, a CocoaError
        // from the marker's file system work, a uniffi internal error) and nothing here can
        // trap, so a foreign error always rejects, never crashes.
        let byoaError =
            error as? ByoaError
            ?? ByoaError.Internal(detail: "\(type(of: error)): \(String(describing: error))")
        let bridged = bridgeRejection(error: byoaError)
        let userInfo =
            (try? JSONSerialization.jsonObject(with: Data(bridged.userInfoJson.utf8)))
            as? [String: Any] ?? [:]
        return (
            bridged.code, bridged.message,
            NSError(domain: "DynamicByoa", code: 0, userInfo: userInfo)
        )
    }

    /// A JavaScript number as the core's `Int64`. As in the reference host (Rust's `as i64`), a
    /// fraction is truncated and an out-of-range value saturates, so no input can trap; the
    /// core range-checks the result.
    private static func int64(_ number: NSNumber) -> Int64 {
        let value = number.doubleValue
        if value.isNaN { return 0 }
        if value >= 9_223_372_036_854_775_807.0 { return Int64.max }
        if value <= -9_223_372_036_854_775_808.0 { return Int64.min }
        return Int64(value)
    }
}

/// Turns one client's states into `onAuthStateChanged` events.
final class StateEventForwarder: AuthListener, @unchecked Sendable {
    // @unchecked: immutable apart from the weak references, which Swift reads atomically. Weak:
    // the core holds this listener, so a strong client would be a cycle through Rust.
    private let handle: Int64
    private weak var client: DynamicClient?
    private weak var module: DynamicByoaModuleImpl?

    init(handle: Int64, client: DynamicClient, module: DynamicByoaModuleImpl) {
        self.handle = handle
        self.client = client
        self.module = module
    }

    func onStateChanged(state: AuthState) {
        let token = client?.auth().tokens()?.bearerToken()
        module?.emitState(handle: handle, state: state, token: token)
    }
}

/// Turns the core's log lines into `onLog` events.
final class LogEventForwarder: DynamicByoa.Logger, @unchecked Sendable {
    // @unchecked: only a weak reference, read atomically.
    private weak var module: DynamicByoaModuleImpl?

    init(module: DynamicByoaModuleImpl) {
        self.module = module
    }

    func log(level: LogLevel, target: String, message: String) {
        module?.emitLogLine(level: level, target: target, message: message)
    }
}

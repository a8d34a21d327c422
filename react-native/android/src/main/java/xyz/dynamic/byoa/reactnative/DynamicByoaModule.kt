package xyz.dynamic.byoa.reactnative

import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReactApplicationContext
import com.facebook.react.bridge.ReadableArray
import com.facebook.react.bridge.ReadableMap
import com.facebook.react.bridge.WritableMap
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import xyz.dynamic.byoa.AccessTokenOptions
import xyz.dynamic.byoa.AuthState
import xyz.dynamic.byoa.ByoaException
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.ListenerHandle
import xyz.dynamic.byoa.LogLevel
import xyz.dynamic.byoa.Logger
import xyz.dynamic.byoa.SignInWithExternalJwtParams
import xyz.dynamic.byoa.VerifyWithExternalJwtParams
import xyz.dynamic.byoa.bridgeElevatedAccessJson
import xyz.dynamic.byoa.bridgeRejection
import xyz.dynamic.byoa.bridgeSessionJson
import xyz.dynamic.byoa.bridgeStateJson
import xyz.dynamic.byoa.ktx.ByoaClient
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.locks.ReentrantReadWriteLock
import kotlin.concurrent.read
import kotlin.concurrent.write

/**
 * The Android side of the TurboModule spec (`src/NativeDynamicByoa.ts`): a thin adapter over
 * the Kotlin bindings. Every payload is what the Rust bridge functions compute; nothing here
 * decides anything the core or the Kotlin layer already decides.
 *
 * Clients are kept by handle. Promise methods run on [scope] (cancelled by [invalidate]: a
 * request in flight then ends without settling its promise, whose JavaScript side is gone).
 *
 * After [invalidate], React Native frees the native side of the emitters and promise callbacks
 * (`ReactInstance.destroy()` runs invalidate, then resets the native runtime), while Rust
 * threads may still be delivering a state or a log line: everything that reaches JavaScript goes
 * through [whileLive], and [invalidate] first waits for those in progress and stops new ones.
 */
class DynamicByoaModule internal constructor(
    context: ReactApplicationContext,
    private val platform: ModulePlatform,
    eventSink: ModuleEvents?,
    // IO, not Default: the core's futures are polled on this dispatcher's threads (uniffi), and
    // the storage and key-signer calls inside them are blocking Keystore and file operations;
    // Default has as many threads as cores (two on low-end phones), so a slow Keystore would
    // stall every other call. React Native's module template uses IO too.
    dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : NativeDynamicByoaSpec(context) {
    constructor(context: ReactApplicationContext) : this(context, AndroidPlatform(context), null)

    private val events: ModuleEvents = eventSink ?: SpecEmitters()
    internal val scope = CoroutineScope(SupervisorJob() + dispatcher)
    private val clients = ConcurrentHashMap<Int, Entry>()
    private val nextHandle = AtomicInteger(1)
    @Volatile private var loggerInstalled = false

    // Set once, under the write lock. What must not race invalidate (an emit, a settlement, the
    // logger, a new client) reads it under the read lock; the other reads are early outs.
    private val lifecycle = ReentrantReadWriteLock()
    @Volatile private var invalidated = false

    /**
     * A client, the Rust listener registered for JavaScript (at most one), and its leases: one
     * for the module's map, one per call in flight. [dispose] stops the events at once, but the
     * client is closed only when the last lease ends, so a call sent before `disposeClient`
     * (`logout` then `disposeClient`) still completes.
     */
    private class Entry(val client: ByoaClient) {
        private var listener: ListenerHandle? = null
        private var disposed = false
        private var leases = 1

        /** A lease for one call; false once disposed (the handle is then unknown). */
        @Synchronized
        fun acquire(): Boolean {
            if (!disposed) leases++
            return !disposed
        }

        fun release() {
            if (synchronized(this) { --leases == 0 }) client.close()
        }

        /** A listener registered after [dispose] is removed at once: it would outlive the entry. */
        fun startEvents(registration: ListenerHandle) {
            val stale = synchronized(this) { if (disposed) registration else listener.also { listener = registration } }
            stale?.release()
        }

        fun stopEvents() = synchronized(this) { listener.also { listener = null } }?.release()

        /** Called once, by whoever removed the entry from the map. */
        fun dispose() {
            synchronized(this) { disposed = true }
            stopEvents()
            release()
        }

        private fun ListenerHandle.release() {
            remove()
            close()
        }
    }

    /** Production events: the codegen emitters. */
    private inner class SpecEmitters : ModuleEvents {
        override fun authStateChanged(event: WritableMap) = emitOnAuthStateChanged(event)

        override fun log(event: WritableMap) = emitOnLog(event)
    }

    override fun createClient(config: ReadableMap, promise: Promise) = settle(promise) {
        register(platform.createClient(clientConfig(config)))
    }

    /**
     * The new client's handle, inserted under the lifecycle lock so [invalidate] either sees it
     * or it sees [invalidated]. The creation itself does not suspend (cancelling [scope] cannot
     * stop it); once invalidated the client is closed and null returned ([deliver] then settles
     * nothing: JavaScript is gone).
     */
    private fun register(client: ByoaClient): Int? = lifecycle.read {
        if (invalidated) null.also { client.close() }
        else nextHandle.getAndIncrement().also { clients[it] = Entry(client) }
    }

    override fun disposeClient(handle: Double) {
        key(handle)?.let(clients::remove)?.dispose()
    }

    /**
     * JavaScript has subscribed: the Rust listener's first call is the current state, then every
     * change. Each event is emitted from the listener itself, so it reaches JavaScript before the
     * promise of the call that caused it settles.
     */
    override fun startAuthStateEvents(handle: Double) {
        val id = key(handle) ?: return
        val entry = lease(handle) ?: return
        try {
            if (invalidated) return
            entry.startEvents(entry.client.auth.addListener { state -> emitState(id, entry.client, state) })
        } finally {
            entry.release()
        }
    }

    override fun stopAuthStateEvents(handle: Double) {
        key(handle)?.let(clients::get)?.stopEvents()
    }

    override fun signInWithExternalJwt(handle: Double, externalJwt: String, externalUserId: String, promise: Promise) =
        withClient(handle, promise) { client ->
            val params = SignInWithExternalJwtParams(externalJwt = externalJwt, externalUserId = externalUserId)
            bridgeSessionJson(client.auth.external.signInWithExternalJwt(params))
        }

    override fun verifyWithExternalJwt(handle: Double, externalJwt: String, promise: Promise) =
        withClient(handle, promise) { client ->
            bridgeElevatedAccessJson(client.auth.external.verifyWithExternalJwt(VerifyWithExternalJwtParams(externalJwt)))
        }

    override fun restore(handle: Double, promise: Promise) =
        withClient(handle, promise) { client -> bridgeStateJson(client.auth.restore()) }

    override fun refresh(handle: Double, promise: Promise) =
        withClient(handle, promise) { client -> bridgeSessionJson(client.auth.refresh()) }

    override fun getAccessToken(handle: Double, minTtlSeconds: Double?, forceRefresh: Boolean, promise: Promise) =
        withClient(handle, promise) { client ->
            client.auth.accessToken(AccessTokenOptions(minTtlSeconds = minTtlSeconds?.toLong(), forceRefresh = forceRefresh))
        }

    override fun getElevatedAccessToken(handle: Double, scopes: ReadableArray, promise: Promise) =
        withClient(handle, promise) { client ->
            val wanted = scopes.toArrayList().filterIsInstance<String>()
            platform.map(mapOf("token" to client.auth.elevatedAccessToken(wanted)))
        }

    override fun logout(handle: Double, promise: Promise) =
        withClient(handle, promise) { client -> client.auth.signOut(); null }

    /**
     * The core's logger is process-wide: a level installs this module's, anything else (`off`)
     * removes it. Under the read lock, so [invalidate] cannot remove the logger between the
     * check and the install (the logger's own emits never wait for the lock: no deadlock).
     */
    override fun setLogLevel(level: String) = lifecycle.read {
        if (invalidated) return@read
        val rustLevel = LogLevel.entries.firstOrNull { it.name.lowercase() == level }
        platform.setLogger(rustLevel?.let { logEvents }, rustLevel ?: LogLevel.ERROR)
        loggerInstalled = rustLevel != null
    }

    /**
     * The React instance is going away: no more work, events or logs from this module. The flag
     * comes first, under the write lock: that waits for emits in progress and stops new ones
     * before React Native frees the emitters' native side.
     */
    override fun invalidate() {
        lifecycle.write { invalidated = true }
        scope.cancel()
        if (loggerInstalled) platform.setLogger(null, LogLevel.ERROR)
        loggerInstalled = false
        for (handle in clients.keys) clients.remove(handle)?.dispose()
        super.invalidate()
    }

    private val logEvents = object : Logger {
        override fun log(level: LogLevel, target: String, message: String) {
            if (invalidated) return
            val event = platform.map(mapOf("level" to level.name.lowercase(), "target" to target, "message" to message))
            whileLive { events.log(event) }
        }
    }

    /** The bearer travels with the state so that JavaScript's `auth.token` getter has it synchronously. */
    private fun emitState(handle: Int, client: ByoaClient, state: AuthState) {
        if (invalidated) return
        val token = client.auth.tokens()?.use { it.bearerToken() }
        val event = platform.map(mapOf("handle" to handle, "stateJson" to bridgeStateJson(state), "token" to token))
        whileLive { events.authStateChanged(event) }
    }

    /**
     * Runs [send] (an emit or a settlement) unless the module is invalidated. It never waits: the
     * read lock is only tried (it fails while [invalidate] holds the write lock, which means
     * invalidated), so a Rust thread delivering an event cannot block on, or block, invalidate
     * for longer than the send itself.
     */
    private inline fun whileLive(send: () -> Unit) {
        val lock = lifecycle.readLock()
        if (!lock.tryLock()) return
        try {
            if (!invalidated) send()
        } finally {
            lock.unlock()
        }
    }

    /**
     * Looks the client up on the calling thread, when JavaScript sent the call, and holds a lease
     * on it until the call ended: a `disposeClient` sent right behind cannot take it away.
     */
    private fun withClient(handle: Double, promise: Promise, work: suspend (ByoaClient) -> Any?) {
        val entry = lease(handle)
        settle(promise, onEnd = { entry?.release() }) {
            // A handle JavaScript disposed: the core's configuration error naming it, as the Rust test host answers.
            val client = entry?.client
                ?: throw ByoaException.InvalidConfiguration(field = "handle", detail = "no client with this handle: it was disposed")
            work(client)
        }
    }

    private fun lease(handle: Double): Entry? = key(handle)?.let(clients::get)?.takeIf { it.acquire() }

    /** Runs [work] on [scope] and settles [promise] with its outcome; [onEnd] runs once the job ended, even if it never started. */
    private fun settle(promise: Promise, onEnd: () -> Unit = {}, work: suspend () -> Any?) {
        scope.launch { deliver(promise, outcome(work)) }.invokeOnCompletion { onEnd() }
    }

    /**
     * Anything [work] throws is an outcome, `Error`s too (a missing ABI's `UnsatisfiedLinkError`,
     * `ExceptionInInitializerError`, `NoClassDefFoundError`): uncaught, they would crash the app
     * and leave the promise pending. Only the cancellation of an invalidated module propagates.
     */
    private suspend fun outcome(work: suspend () -> Any?): Result<Any?> = try {
        Result.success(work())
    } catch (e: Throwable) {
        if (e is CancellationException && !scope.isActive) throw e
        Result.failure(e)
    }

    /**
     * Resolves with the value or rejects with the Rust bridge's `(code, message, userInfo)`:
     * without the Throwable, so JavaScript's `error.name` is not a Kotlin class name. Settling
     * can fail too (a value React Native cannot convert, a userInfo that does not parse): that
     * rejects with the core's `internal` shape rather than escape.
     */
    private fun deliver(promise: Promise, outcome: Result<Any?>) = whileLive {
        try {
            outcome.fold(promise::resolve) { reject(promise, it) }
        } catch (e: Throwable) {
            reject(promise, e)
        }
    }

    private fun reject(promise: Promise, error: Throwable) {
        // Not the core's (a wrongly typed config value, say): the core's `internal` shape, naming the class, no stack trace.
        val byoa = error as? ByoaException ?: ByoaException.Internal("${error.javaClass.simpleName}: ${error.message}")
        val rejection = bridgeRejection(byoa)
        promise.reject(rejection.code, rejection.message, platform.map(jsonObjectValues(rejection.userInfoJson)))
    }
}

/**
 * A handle as JavaScript passed it, converted exactly: one that is not a whole number in range
 * (1.5, NaN) names no client, as a disposed one (iOS: `Int64(exactly:)`); `toInt()` would
 * truncate 1.5 to client 1 and saturate 1e10 to the largest.
 */
private fun key(handle: Double): Int? = handle.toInt().takeIf { it.toDouble() == handle }

/**
 * The spec's config object as the core's [ClientConfig]; a key left out is the core's default.
 * `freshInstall` is always false on Android: the session lives in `noBackupFilesDir` and its
 * Keystore key is removed on uninstall, so no previous install's session can be found (unlike
 * the iOS keychain, which outlives an uninstall and needs a first-launch marker).
 */
internal fun clientConfig(config: ReadableMap) = ClientConfig(
    environmentId = config.text("environmentId") ?: "",
    apiBaseUrl = config.text("apiBaseUrl"),
    appOrigin = config.text("appOrigin"),
    requestTimeoutMs = config.whole("requestTimeoutMs"),
    clockLeewaySeconds = config.whole("clockLeewaySeconds"),
    autoRefresh = config.flag("autoRefresh"),
    refreshMarginSeconds = config.whole("refreshMarginSeconds"),
    freshInstall = false,
    bindSessionKey = config.flag("bindSessionKey"),
)

private fun ReadableMap.present(key: String) = hasKey(key) && !isNull(key)

private fun ReadableMap.text(key: String): String? = if (present(key)) getString(key) else null

private fun ReadableMap.whole(key: String): Long? = if (present(key)) getDouble(key).toLong() else null

private fun ReadableMap.flag(key: String): Boolean? = if (present(key)) getBoolean(key) else null

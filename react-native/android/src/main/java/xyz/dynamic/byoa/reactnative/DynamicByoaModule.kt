package xyz.dynamic.byoa.reactnative

import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReactApplicationContext
import com.facebook.react.bridge.ReadableArray
import com.facebook.react.bridge.ReadableMap
import com.facebook.react.bridge.WritableMap
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
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
import xyz.dynamic.byoa.ktx.DynamicByoa
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference

/**
 * The Android side of the TurboModule spec (`src/NativeDynamicByoa.ts`): a thin adapter over
 * the Kotlin bindings. Every payload is what the Rust bridge functions compute; nothing here
 * decides anything the core or the Kotlin layer already decides.
 *
 * Clients are kept by handle. Promise methods run on [scope] (cancelled by [invalidate]: a
 * request in flight then ends without settling its promise, whose JavaScript side is gone).
 */
class DynamicByoaModule internal constructor(
    context: ReactApplicationContext,
    private val platform: ModulePlatform,
    eventSink: ModuleEvents?,
) : NativeDynamicByoaSpec(context) {
    constructor(context: ReactApplicationContext) : this(context, AndroidPlatform(context), null)

    private val events: ModuleEvents = eventSink ?: SpecEmitters()
    internal val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    private val clients = ConcurrentHashMap<Int, Entry>()
    private val nextHandle = AtomicInteger(1)
    @Volatile private var loggerInstalled = false

    /** A client and the Rust listener registered for JavaScript, if any (at most one). */
    private class Entry(val client: ByoaClient) {
        private val listener = AtomicReference<ListenerHandle?>()

        fun startEvents(handle: ListenerHandle) = listener.getAndSet(handle)?.release()

        fun stopEvents() = listener.getAndSet(null)?.release()

        private fun ListenerHandle.release() {
            remove()
            close()
        }

        fun close() {
            stopEvents()
            client.close()
        }
    }

    /** Production events: the codegen emitters. */
    private inner class SpecEmitters : ModuleEvents {
        override fun authStateChanged(event: WritableMap) = emitOnAuthStateChanged(event)

        override fun log(event: WritableMap) = emitOnLog(event)
    }

    override fun createClient(config: ReadableMap, promise: Promise) = settle(promise) {
        val client = platform.createClient(clientConfig(config))
        nextHandle.getAndIncrement().also { clients[it] = Entry(client) }
    }

    override fun disposeClient(handle: Double) {
        clients.remove(handle.toInt())?.close()
    }

    /**
     * JavaScript has subscribed: the Rust listener's first call is the current state, then every
     * change. Each event is emitted from the listener itself, so it reaches JavaScript before the
     * promise of the call that caused it settles.
     */
    override fun startAuthStateEvents(handle: Double) {
        val id = handle.toInt()
        val entry = clients[id] ?: return
        entry.startEvents(entry.client.auth.addListener { state -> events.authStateChanged(stateEvent(id, entry.client, state)) })
    }

    override fun stopAuthStateEvents(handle: Double) {
        clients[handle.toInt()]?.stopEvents()
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

    /** The core's logger is process-wide: a level installs this module's, anything else (`off`) removes it. */
    override fun setLogLevel(level: String) {
        val rustLevel = LogLevel.entries.firstOrNull { it.name.lowercase() == level }
        DynamicByoa.setLogger(rustLevel?.let { logEvents }, rustLevel ?: LogLevel.ERROR)
        loggerInstalled = rustLevel != null
    }

    /** The React instance is going away: no more work, events or logs from this module. */
    override fun invalidate() {
        scope.cancel()
        if (loggerInstalled) DynamicByoa.setLogger(null, LogLevel.ERROR)
        for (handle in clients.keys) clients.remove(handle)?.close()
        super.invalidate()
    }

    private val logEvents = object : Logger {
        override fun log(level: LogLevel, target: String, message: String) = events.log(
            platform.map(mapOf("level" to level.name.lowercase(), "target" to target, "message" to message)),
        )
    }

    /** The bearer travels with the state so that JavaScript's `auth.token` getter has it synchronously. */
    private fun stateEvent(handle: Int, client: ByoaClient, state: AuthState): WritableMap {
        val token = client.auth.tokens()?.use { it.bearerToken() }
        return platform.map(mapOf("handle" to handle, "stateJson" to bridgeStateJson(state), "token" to token))
    }

    private fun withClient(handle: Double, promise: Promise, work: suspend (ByoaClient) -> Any?) = settle(promise) {
        // A handle JavaScript disposed: the core's configuration error naming it, as the Rust test host answers.
        val client = clients[handle.toInt()]?.client
            ?: throw ByoaException.InvalidConfiguration(field = "handle", detail = "no client with this handle: it was disposed")
        work(client)
    }

    /**
     * Runs [work] on [scope], then resolves with its value or rejects with the Rust bridge's
     * `(code, message, userInfo)`: without the Throwable, so JavaScript's `error.name` is not a
     * Kotlin class name.
     */
    private fun settle(promise: Promise, work: suspend () -> Any?) {
        scope.launch {
            val outcome = try {
                Result.success(work())
            } catch (e: CancellationException) {
                throw e
            } catch (e: ByoaException) {
                Result.failure(e)
            } catch (e: Exception) {
                // Not the core's (a wrongly typed config value, say): the core's `internal` shape.
                Result.failure(ByoaException.Internal("${e.javaClass.simpleName}: ${e.message}"))
            }
            outcome.fold(promise::resolve) { error ->
                val rejection = bridgeRejection(error as ByoaException)
                promise.reject(rejection.code, rejection.message, platform.map(jsonObjectValues(rejection.userInfoJson)))
            }
        }
    }
}

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

package xyz.dynamic.byoa.ktx

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import xyz.dynamic.byoa.AuthListener
import xyz.dynamic.byoa.AuthModule
import xyz.dynamic.byoa.AuthModuleInterface
import xyz.dynamic.byoa.AuthState
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.ClientDependencies
import xyz.dynamic.byoa.DynamicClient
import xyz.dynamic.byoa.ExternalAuthModule
import xyz.dynamic.byoa.ExternalAuthModuleInterface
import xyz.dynamic.byoa.ExternalJwtProvider
import xyz.dynamic.byoa.HttpTransport
import xyz.dynamic.byoa.KeySigner
import xyz.dynamic.byoa.ListenerHandle
import xyz.dynamic.byoa.LogLevel
import xyz.dynamic.byoa.Logger
import xyz.dynamic.byoa.SessionStorage
import xyz.dynamic.byoa.setLogger as setRustLogger

/**
 * The Kotlin entry point: a client whose app-side implementations are guarded (see [guarded]),
 * with Kotlin properties for the sub-objects, `client.auth.external.signInWithExternalJwt(...)`,
 * as in Dynamic's own Kotlin SDK (`sdk.auth.externalAuth`).
 */
object DynamicByoa {
    /** Creates a client; every dependency left null takes the core's default. */
    @JvmStatic
    @JvmOverloads
    fun createClient(
        config: ClientConfig,
        storage: SessionStorage? = null,
        keySigner: KeySigner? = null,
        jwtProvider: ExternalJwtProvider? = null,
        httpTransport: HttpTransport? = null,
    ): ByoaClient = ByoaClient(
        DynamicClient(
            config,
            ClientDependencies(
                storage = storage?.guarded(),
                keySigner = keySigner?.guarded(),
                jwtProvider = jwtProvider?.guarded(),
                httpTransport = httpTransport?.guarded(),
            ),
        ),
    )

    /** The core's log lines at [level] and above go to [logger] (process-wide); null turns logging off. */
    @JvmStatic
    fun setLogger(logger: Logger?, level: LogLevel = LogLevel.INFO) = setRustLogger(logger?.guarded(), level)
}

/**
 * A [DynamicClient] with one native handle per sub-object: [auth] and `auth.external` are
 * properties, created once. [close] closes them all (idempotent); closing is optional, the
 * Cleaner frees what is left.
 */
class ByoaClient(val raw: DynamicClient) : AutoCloseable {
    val auth: ByoaAuth = ByoaAuth(raw.auth())

    val environmentId: String get() = raw.environmentId()

    override fun close() {
        auth.close()
        raw.close()
    }

    override fun toString(): String = raw.toString()
}

/**
 * `client.auth`: the generated [AuthModule] (every method delegated), plus [external] and
 * [stateFlow]. Listeners added through it are guarded.
 */
class ByoaAuth internal constructor(private val module: AuthModule) : AuthModuleInterface by module, AutoCloseable {
    val external: ByoaExternalAuth = ByoaExternalAuth(module.external())

    private val states = MutableStateFlow(module.state())
    private val flowListener: ListenerHandle = module.addListener(GuardedListener(object : AuthListener {
        override fun onStateChanged(state: AuthState) {
            states.value = state
        }
    }))

    /** The current state, updated by the client on every change (conflated, as StateFlows are). */
    val stateFlow: StateFlow<AuthState> = states.asStateFlow()

    /** The generated `external()`: a new handle on every call; prefer the [external] property. */
    override fun external(): ExternalAuthModule = module.external()

    override fun addListener(listener: AuthListener): ListenerHandle = module.addListener(listener.guarded())

    /** Registers [onChange] for every change, starting with the current state. */
    fun addListener(onChange: (AuthState) -> Unit): ListenerHandle = addListener(object : AuthListener {
        override fun onStateChanged(state: AuthState) = onChange(state)
    })

    override fun close() {
        try { flowListener.remove() } catch (_: IllegalStateException) { }
        flowListener.close()
        external.close()
        module.close()
    }

    override fun toString(): String = "ByoaAuth(state=${safeToString(states.value)})"
}

/** `client.auth.external`: sign-in and step-up; a provider set through it is guarded. */
class ByoaExternalAuth internal constructor(private val module: ExternalAuthModule) :
    ExternalAuthModuleInterface by module, AutoCloseable {
    override fun setJwtProvider(provider: ExternalJwtProvider?) = module.setJwtProvider(provider?.guarded())
    override fun close() = module.close()
    override fun toString(): String = "ByoaExternalAuth"
}

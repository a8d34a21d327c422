package xyz.dynamic.byoa.reactnative

import com.facebook.react.bridge.BridgeReactContext
import com.facebook.react.bridge.JavaOnlyArray
import com.facebook.react.bridge.JavaOnlyMap
import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReadableArray
import com.facebook.react.bridge.ReadableMap
import com.facebook.react.bridge.WritableMap
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import okhttp3.Call
import okhttp3.EventListener
import okhttp3.OkHttpClient
import org.robolectric.RuntimeEnvironment
import xyz.dynamic.byoa.AndroidAdaptersTest
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.EmulatorProcess
import xyz.dynamic.byoa.JdkIssuer
import xyz.dynamic.byoa.LogLevel
import xyz.dynamic.byoa.Logger
import xyz.dynamic.byoa.android.EcKeySigner
import xyz.dynamic.byoa.android.EncryptedFileStorage
import xyz.dynamic.byoa.ktx.ByoaClient
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.io.File
import java.io.IOException
import java.nio.file.Files
import java.util.UUID
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.coroutines.CoroutineContext
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** A failed assertion where Kotlin needs an expression (JUnit 4's `fail` returns Unit). */
fun failure(message: String): Nothing = throw AssertionError(message)

/** The bound of every wait in these tests: nothing waits forever. */
val BOUND: Duration = 20.seconds

/**
 * One JDK issuer and one `byoa emulator` for the whole test JVM (the Kotlin bindings' own test
 * support, from their test-jar): [environmentId] is the scenario table's; [heldEnvironmentId]'s
 * JWKS fetches can be held by [JdkIssuer.holdJwks], to park a sign-in inside the emulator.
 */
object ModuleWorld {
    val environmentId: String = ScenarioTable.load().environmentId
    val heldEnvironmentId: String = UUID.randomUUID().toString()
    val issuer by lazy { JdkIssuer() }
    val emulator by lazy {
        EmulatorProcess(issuer, mapOf(EmulatorProcess.Env.PLAIN to environmentId, EmulatorProcess.Env.HELD_DEFAULT to heldEnvironmentId))
            .also { emulator -> Runtime.getRuntime().addShutdownHook(Thread { emulator.close(); issuer.close() }) }
    }
    private val users = AtomicInteger()
    private val run = UUID.randomUUID().toString().take(6)

    /** Short on purpose: the core redacts runs of 40+ characters in its error texts. */
    fun newUser() = "user-${users.incrementAndGet()}-$run"
}

/**
 * The module's platform on the JVM: the shipped [EncryptedFileStorage] and [EcKeySigner] over
 * FAKE key sources on the JDK's providers (the Kotlin bindings' own fakes: Robolectric has no
 * AndroidKeyStore), OkHttp as in the app, and maps as [JavaOnlyMap] (`Arguments.createMap` needs
 * React Native's C++ runtime). It keeps what the tests look at: the clients it created, the
 * logger the module installed, and how many HTTP calls are in flight.
 */
class JvmPlatform(private val storageDir: File) : ModulePlatform {
    private val aesKey = AndroidAdaptersTest.FakeKeystoreAesKey()
    private val ecKeys = AndroidAdaptersTest.FakeKeystoreEcKeys()
    private val callsInFlight = AtomicInteger()
    private val http = OkHttpClient.Builder().eventListener(object : EventListener() {
        override fun callStart(call: Call) {
            callsInFlight.incrementAndGet()
        }

        override fun callEnd(call: Call) {
            callsInFlight.decrementAndGet()
        }

        override fun callFailed(call: Call, ioe: IOException) {
            callsInFlight.decrementAndGet()
        }
    }).build()

    val created: MutableList<ByoaClient> = CopyOnWriteArrayList()

    /** Runs first in every [createClient]: a test makes it wait or throw. */
    @Volatile var beforeCreate: () -> Unit = {}

    /** The logger the module installed last (null: none or removed). */
    @Volatile var logger: Logger? = null
        private set

    /** No HTTP call of any client is in flight (OkHttp's callStart against callEnd or callFailed). */
    val idle: Boolean get() = callsInFlight.get() == 0

    override fun createClient(config: ClientConfig): ByoaClient {
        beforeCreate()
        return DynamicByoa.createClient(
            config,
            storage = EncryptedFileStorage(storageDir, aesKey),
            keySigner = EcKeySigner(ecKeys),
            httpTransport = OkHttpTransport(http),
        ).also(created::add)
    }

    override fun map(values: Map<String, Any?>): WritableMap = javaOnlyMap(values)

    override fun setLogger(logger: Logger?, level: LogLevel) {
        this.logger = logger
        DynamicByoa.setLogger(logger, level)
    }
}

/**
 * The module's dispatcher (Dispatchers.IO) with a gate: while [hold] is on, dispatched work
 * waits, in order, until [open]; a test can so send calls that have not started yet.
 */
class GatedDispatcher : CoroutineDispatcher() {
    private val waiting = ArrayDeque<Pair<CoroutineContext, Runnable>>()
    private var held = false

    @Synchronized
    fun hold() {
        held = true
    }

    @Synchronized
    fun open() {
        held = false
        while (waiting.isNotEmpty()) waiting.removeFirst().let { (context, block) -> Dispatchers.IO.dispatch(context, block) }
    }

    @Synchronized
    override fun dispatch(context: CoroutineContext, block: Runnable) {
        if (held) waiting.addLast(context to block) else Dispatchers.IO.dispatch(context, block)
    }
}

/** A closed client refuses every call (uniffi: "has already been destroyed"). */
val ByoaClient.closed: Boolean get() = runCatching { environmentId }.isFailure

/** Waits at most [bound] for [condition], polling; false if it never held. */
fun eventually(bound: Duration = BOUND, condition: () -> Boolean): Boolean {
    val deadline = System.nanoTime() + bound.inWholeNanoseconds
    while (!condition()) {
        if (System.nanoTime() > deadline) return false
        Thread.sleep(10)
    }
    return true
}

/** Plain values as React Native's JVM-only map, nested maps and lists converted too. */
fun javaOnlyMap(values: Map<String, *>): JavaOnlyMap = JavaOnlyMap().apply {
    for ((key, value) in values) {
        when (value) {
            null -> putNull(key)
            is Boolean -> putBoolean(key, value)
            is Int -> putInt(key, value)
            is Number -> putDouble(key, value.toDouble())
            is String -> putString(key, value)
            is Map<*, *> -> putMap(key, javaOnlyMap(value.mapKeys { it.key.toString() }))
            is List<*> -> putArray(key, javaOnlyArray(value))
            else -> error("no JavaScript value for a ${value.javaClass.name}")
        }
    }
}

fun javaOnlyArray(values: List<*>): JavaOnlyArray = JavaOnlyArray().apply {
    for (value in values) {
        when (value) {
            null -> pushNull()
            is Boolean -> pushBoolean(value)
            is Int -> pushInt(value)
            is Number -> pushDouble(value.toDouble())
            is String -> pushString(value)
            is Map<*, *> -> pushMap(javaOnlyMap(value.mapKeys { it.key.toString() }))
            is List<*> -> pushArray(javaOnlyArray(value))
            else -> error("no JavaScript value for a ${value.javaClass.name}")
        }
    }
}

/** What JavaScript would receive, as plain Kotlin values (maps and lists). */
fun plainValue(value: Any?): Any? = when (value) {
    is ReadableMap -> value.entryIterator.asSequence().associate { it.key to plainValue(it.value) }
    is ReadableArray -> value.toArrayList().map(::plainValue)
    is Map<*, *> -> value.entries.associate { it.key.toString() to plainValue(it.value) }
    is List<*> -> value.map(::plainValue)
    else -> value
}

/** A promise's settlement as JavaScript would see it. */
sealed interface Outcome {
    data class Resolved(val value: Any?) : Outcome

    data class Rejected(val code: String?, val message: String?, val userInfo: Map<String, Any?>?, val throwable: Throwable?) : Outcome
}

/** A fake [Promise] recording every settlement (the real PromiseImpl needs WritableNativeMap). */
open class FakePromise : Promise {
    private val outcomes = LinkedBlockingQueue<Outcome>()
    val settlements = AtomicInteger()

    /** The first settlement, waited for at most [bound]. */
    fun await(bound: Duration = BOUND): Outcome =
        outcomes.poll(bound.inWholeMilliseconds, TimeUnit.MILLISECONDS) ?: failure("the promise did not settle within $bound")

    override fun resolve(value: Any?) = record(Outcome.Resolved(plainValue(value)))

    override fun reject(code: String?, message: String?) = rejected(code, message, null, null)

    override fun reject(code: String?, throwable: Throwable?) = rejected(code, null, throwable, null)

    override fun reject(code: String?, message: String?, throwable: Throwable?) = rejected(code, message, throwable, null)

    override fun reject(throwable: Throwable) = rejected(null, null, throwable, null)

    override fun reject(throwable: Throwable, userInfo: WritableMap) = rejected(null, null, throwable, userInfo)

    override fun reject(code: String?, userInfo: WritableMap) = rejected(code, null, null, userInfo)

    override fun reject(code: String?, throwable: Throwable?, userInfo: WritableMap) = rejected(code, null, throwable, userInfo)

    override fun reject(code: String?, message: String?, userInfo: WritableMap) = rejected(code, message, null, userInfo)

    override fun reject(code: String?, message: String?, throwable: Throwable?, userInfo: WritableMap?) =
        rejected(code, message, throwable, userInfo)

    @Deprecated("React Native's own deprecation: a rejection needs a code", ReplaceWith("reject(code, message)"))
    override fun reject(message: String) = rejected(null, message, null, null)

    @Suppress("UNCHECKED_CAST")
    private fun rejected(code: String?, message: String?, throwable: Throwable?, userInfo: WritableMap?) =
        record(Outcome.Rejected(code, message, plainValue(userInfo) as Map<String, Any?>?, throwable))

    private fun record(outcome: Outcome) {
        settlements.incrementAndGet()
        outcomes.put(outcome)
    }
}

/** One emitted event: which emitter, and its payload as plain values. */
data class Emitted(val name: String, val payload: Map<String, Any?>)

/** Records what the module emits, in order, from whichever thread emits it. */
class RecordingEvents : ModuleEvents {
    private val queue = LinkedBlockingQueue<Emitted>()

    @Suppress("UNCHECKED_CAST")
    override fun authStateChanged(event: WritableMap) = queue.put(Emitted("onAuthStateChanged", plainValue(event) as Map<String, Any?>))

    @Suppress("UNCHECKED_CAST")
    override fun log(event: WritableMap) = queue.put(Emitted("onLog", plainValue(event) as Map<String, Any?>))

    /** The next event that satisfies [wanted] (others are dropped), or null after [bound]. */
    fun next(bound: Duration, wanted: (Emitted) -> Boolean): Emitted? {
        val deadline = System.nanoTime() + bound.inWholeNanoseconds
        while (true) {
            val left = deadline - System.nanoTime()
            if (left <= 0) return null
            val event = queue.poll(left, TimeUnit.NANOSECONDS) ?: return null
            if (wanted(event)) return event
        }
    }

    /** Everything recorded so far that satisfies [wanted], without waiting. */
    fun drain(wanted: (Emitted) -> Boolean): List<Emitted> = generateSequence { queue.poll() }.filter(wanted).toList()
}

/**
 * A [DynamicByoaModule] in a Robolectric [BridgeReactContext] with the JVM platform, recording
 * events, and a way to call its methods as JavaScript does.
 */
class ModuleHarness : AutoCloseable {
    val storageDir: File = Files.createTempDirectory("byoa-rn-module").toFile()
    val events = RecordingEvents()
    val platform = JvmPlatform(storageDir)
    val dispatcher = GatedDispatcher()
    val module = DynamicByoaModule(reactContext(), platform, events, dispatcher)

    /**
     * The one ReactApplicationContext that can be made without a React host (0.86 deprecates it
     * with the legacy architecture); the module only uses it as an Android Context.
     */
    @Suppress("DEPRECATION")
    private fun reactContext() = BridgeReactContext(RuntimeEnvironment.getApplication())

    /** `{ environmentId, apiBaseUrl: <the emulator> }`. */
    fun config(environmentId: String = ModuleWorld.environmentId) =
        javaOnlyMap(mapOf("environmentId" to environmentId, "apiBaseUrl" to ModuleWorld.emulator.baseUrl))

    /** `createClient(config(environmentId))`: the new handle. */
    fun createClient(environmentId: String = ModuleWorld.environmentId): Double {
        val promise = FakePromise()
        module.createClient(config(environmentId), promise)
        val outcome = promise.await()
        check(outcome is Outcome.Resolved) { "createClient rejected: ${(outcome as Outcome.Rejected).code}" }
        return (outcome.value as Number).toDouble()
    }

    /**
     * A client whose start-up restore has settled (`restore` first), so that the first state
     * event is `signedOut`, not a `restoring` that the background restore is about to end.
     */
    fun createSettledClient(): Double = createClient().also { handle ->
        check(settle { module.restore(handle, it) } is Outcome.Resolved) { "restore rejected" }
    }

    /** Runs a promise method and waits for its settlement. */
    fun settle(call: (FakePromise) -> Unit): Outcome = FakePromise().also(call).await()

    /** The `onAuthStateChanged` events of [handle]. */
    fun stateEventsOf(handle: Double): (Emitted) -> Boolean =
        { it.name == "onAuthStateChanged" && (it.payload["handle"] as Number).toDouble() == handle }

    override fun close() {
        module.invalidate()
        storageDir.deleteRecursively()
    }
}

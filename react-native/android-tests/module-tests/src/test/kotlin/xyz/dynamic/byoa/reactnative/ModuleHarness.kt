package xyz.dynamic.byoa.reactnative

import com.facebook.react.bridge.BridgeReactContext
import com.facebook.react.bridge.JavaOnlyArray
import com.facebook.react.bridge.JavaOnlyMap
import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReadableArray
import com.facebook.react.bridge.ReadableMap
import com.facebook.react.bridge.WritableMap
import org.robolectric.RuntimeEnvironment
import xyz.dynamic.byoa.AndroidAdaptersTest
import xyz.dynamic.byoa.ClientConfig
import xyz.dynamic.byoa.EmulatorProcess
import xyz.dynamic.byoa.JdkIssuer
import xyz.dynamic.byoa.android.EcKeySigner
import xyz.dynamic.byoa.android.EncryptedFileStorage
import xyz.dynamic.byoa.ktx.ByoaClient
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.io.File
import java.nio.file.Files
import java.util.UUID
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
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
 * React Native's C++ runtime).
 */
class JvmPlatform(private val storageDir: File) : ModulePlatform {
    private val aesKey = AndroidAdaptersTest.FakeKeystoreAesKey()
    private val ecKeys = AndroidAdaptersTest.FakeKeystoreEcKeys()

    override fun createClient(config: ClientConfig): ByoaClient = DynamicByoa.createClient(
        config,
        storage = EncryptedFileStorage(storageDir, aesKey),
        keySigner = EcKeySigner(ecKeys),
        httpTransport = OkHttpTransport(),
    )

    override fun map(values: Map<String, Any?>): WritableMap = javaOnlyMap(values)
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
class FakePromise : Promise {
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
    val module = DynamicByoaModule(reactContext(), JvmPlatform(storageDir), events)

    /**
     * The one ReactApplicationContext that can be made without a React host (0.86 deprecates it
     * with the legacy architecture); the module only uses it as an Android Context.
     */
    @Suppress("DEPRECATION")
    private fun reactContext() = BridgeReactContext(RuntimeEnvironment.getApplication())

    /** `createClient({ environmentId, apiBaseUrl: <the emulator> })`: the new handle. */
    fun createClient(environmentId: String = ModuleWorld.environmentId): Double {
        val promise = FakePromise()
        module.createClient(javaOnlyMap(mapOf("environmentId" to environmentId, "apiBaseUrl" to ModuleWorld.emulator.baseUrl)), promise)
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

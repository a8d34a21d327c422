package xyz.dynamic.byoa

import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import xyz.dynamic.byoa.TestWorld.issuer
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.ktx.guarded
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/** The hand-written Kotlin layer over the generated code (and the post-generation step). */
class KotlinLayerTest {
    @Test
    fun `an exception's message is the human text, never empty, and nested errors are its cause`() {
        val empty = ByoaException.EmptyJwt()
        assertEquals("the external JWT is empty", empty.message)
        assertEquals("not signed in", ByoaException.NotSignedIn().message)
        for (fieldless in listOf(ByoaException.SignInSuperseded(), ByoaException.SignInCancelled(), ByoaException.SessionKeyMismatch(),
            ByoaException.SessionChanged(), ByoaException.InvalidSessionPublicKey())) {
            assertTrue(fieldless.message!!.isNotBlank(), fieldless.javaClass.simpleName)
        }
        assertEquals("the external JWT is not three base64url segments: found 1 segment(s)",
            ByoaException.MalformedJwt("found 1 segment(s)").message)
        val locked = StorageException.Unavailable("user not unlocked")
        val error = ByoaException.StorageUnavailable(locked)
        assertSame(locked, error.cause)
        assertEquals("user not unlocked", locked.message)
        assertTrue(error.message.contains("user not unlocked"), error.message)
        val keyError = KeySignerException.Failed("invalidated")
        assertSame(keyError, ByoaException.KeyUnavailable(keyError).cause)
        assertEquals("invalidated", keyError.message)
    }

    @Test
    fun `client auth and auth external are properties, one handle each`() {
        DynamicByoa.createClient(TestWorld.config()).use { client ->
            assertSame(client.auth, client.auth)
            assertSame(client.auth.external, client.auth.external)
            assertEquals(TestWorld.plainEnv, client.environmentId)
        }
    }

    @Test
    fun `whatever a Kotlin store throws reaches Rust as a typed error naming its class and message, no stack trace`() = bounded {
        val storage = MapStorage()
        for ((thrown, expected) in listOf(
            { TODO("keychain") } to "kotlin.NotImplementedError: An operation is not implemented: keychain",
            { IllegalStateException("disk gone") } to "java.lang.IllegalStateException: disk gone",
            { StackOverflowError() } to "java.lang.StackOverflowError",
        )) {
            storage.failWith = thrown
            DynamicByoa.createClient(TestWorld.config(), storage = storage).use { client ->
                val state = client.auth.restore()
                assertInstanceOf(AuthState.StorageUnavailable::class.java, state)
                val error = (state as AuthState.StorageUnavailable).error
                assertInstanceOf(StorageException.Failed::class.java, error)
                assertEquals(expected, error.message)
                assertFalse(error.message!!.contains("\tat "))
            }
        }
    }

    @Test
    fun `a throwing key signer or transport becomes its port's typed error`() = bounded {
        val signer = object : KeySigner {
            override fun getOrCreateKey(name: String): String = throw UnsupportedOperationException("no keystore")
            override fun sign(name: String, message: ByteArray): ByteArray = TODO()
            override fun deleteKey(name: String) = Unit
        }.guarded()
        assertEquals("java.lang.UnsupportedOperationException: no keystore",
            assertThrows<KeySignerException.Failed> { signer.getOrCreateKey("k") }.message)
        DynamicByoa.createClient(TestWorld.config(), keySigner = signer).use { client ->
            val user = TestWorld.newUser()
            val error = assertThrows<ByoaException.KeyUnavailable> { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) }
            assertEquals("java.lang.UnsupportedOperationException: no keystore", error.cause!!.message)
        }
        val transport = object : HttpTransport {
            override suspend fun send(request: HttpRequest): HttpResponse = throw OutOfMemoryError("pretend")
        }
        DynamicByoa.createClient(TestWorld.config(requestTimeoutMs = 3000), httpTransport = transport).use { client ->
            val user = TestWorld.newUser()
            val error = assertThrows<ByoaException.Network> { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) }
            assertTrue(error.detail.contains("java.lang.OutOfMemoryError: pretend"), error.detail)
        }
    }

    @Test
    fun `a listener or a logger that throws is isolated and stays registered`() = bounded {
        val thrown = AtomicInteger()
        val heard = CopyOnWriteArrayList<AuthState>()
        val logged = AtomicInteger()
        DynamicByoa.setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) { logged.incrementAndGet(); throw AssertionError("logger bug") }
        }, LogLevel.INFO)
        try {
            DynamicByoa.createClient(TestWorld.config()).use { client ->
                client.auth.addListener { thrown.incrementAndGet(); throw NotImplementedError("listener bug") }
                client.auth.addListener { heard.add(it) }
                val user = TestWorld.newUser()
                val session = client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user))
                client.auth.signOut()
                withTimeout(10.seconds) { while (heard.size < 3 || thrown.get() < 3) kotlinx.coroutines.yield() }
                assertEquals(listOf(AuthState.SignedOut(null), AuthState.SignedIn(session), AuthState.SignedOut(SignOutReason.USER_INTENT)), heard)
                assertTrue(logged.get() > 0)
            }
        } finally {
            DynamicByoa.setLogger(null, LogLevel.ERROR)
        }
    }

    @Test
    fun `callbacks from Rust reuse a few attached threads instead of a new thread per call`() = bounded(60.seconds) {
        val listenerThreads: MutableSet<Long> = Collections.newSetFromMap(ConcurrentHashMap())
        val loggerThreads: MutableSet<Long> = Collections.newSetFromMap(ConcurrentHashMap())
        val names: MutableSet<String> = Collections.newSetFromMap(ConcurrentHashMap())
        val events = AtomicInteger()
        val storage = MapStorage()
        DynamicByoa.setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) { loggerThreads.add(Thread.currentThread().id) }
        }, LogLevel.DEBUG)
        try {
            DynamicByoa.createClient(TestWorld.config(), storage = storage).use { client ->
                client.auth.restore()
                client.auth.addListener { events.incrementAndGet(); listenerThreads.add(Thread.currentThread().id); names.add(Thread.currentThread().name) }
                repeat(25) {
                    val user = TestWorld.newUser()
                    client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user))
                    client.auth.signOut()
                }
                withTimeout(10.seconds) { while (events.get() < 51) kotlinx.coroutines.yield() }
            }
        } finally {
            DynamicByoa.setLogger(null, LogLevel.ERROR)
        }
        val caller = Thread.currentThread().id
        val rustThreads = (listenerThreads + storage.threads + loggerThreads) - caller
        println("callback threads: listener ${listenerThreads.size} for ${events.get()} events, storage ${storage.threads.size}, " +
            "logger ${loggerThreads.size}; distinct Rust-owned threads ${rustThreads.size}; names $names")
        assertTrue(rustThreads.size <= 4, "distinct callback threads: ${rustThreads.size}")
        assertTrue(names.all { it == BYOA_CALLBACK_THREAD_NAME || it == Thread.currentThread().name }, "$names")
    }

    @Test
    fun `toString never throws, closed objects included, and field-less states print their name`() {
        val client = DynamicClient(TestWorld.config())
        assertTrue(client.toString().startsWith("DynamicClient"))
        client.close()
        assertEquals("DynamicClient(closed)", client.toString())
        assertEquals("Restoring", AuthState.Restoring.toString())
        assertEquals("Email", CredentialFormat.Email.toString())
        DynamicByoa.createClient(TestWorld.config()).also { it.close() }.let { closed ->
            assertEquals("DynamicClient(closed)", closed.toString())
            assertTrue(closed.auth.toString().startsWith("ByoaAuth"))
        }
    }

    @Test
    fun `the StateFlow starts Restoring with a store and settles`() = bounded {
        DynamicByoa.createClient(TestWorld.config(), storage = MapStorage()).use { client ->
            assertEquals(AuthState.SignedOut(null), client.auth.stateFlow.first { it != AuthState.Restoring })
        }
    }
}

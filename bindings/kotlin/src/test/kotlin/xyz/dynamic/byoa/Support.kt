package xyz.dynamic.byoa

import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertFalse
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.security.KeyPair
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Every test body runs under this bound: nothing waits forever. */
fun bounded(limit: Duration = 30.seconds, block: suspend kotlinx.coroutines.CoroutineScope.() -> Unit) =
    runBlocking { withTimeout(limit) { block() } }

/** The transports the suite runs with: the core's built-in one (null) and OkHttp. */
enum class Transport { DEFAULT, OKHTTP;
    fun create(): HttpTransport? = when (this) { DEFAULT -> null; OKHTTP -> OkHttpTransport() }
}

/** A Kotlin SessionStorage over a map, recording the threads that called it. */
class MapStorage : SessionStorage {
    val map = ConcurrentHashMap<String, String>()
    val threads: MutableSet<Long> = Collections.newSetFromMap(ConcurrentHashMap())
    @Volatile var failWith: (() -> Throwable)? = null
    override fun get(key: String): String? { record(); return map[key] }
    override fun set(key: String, value: String) { record(); map[key] = value }
    override fun delete(key: String) { record(); map.remove(key) }
    val calls = java.util.concurrent.atomic.AtomicInteger()
    private fun record() { calls.incrementAndGet(); threads.add(Thread.currentThread().id); failWith?.let { throw it() } }
}

/** A Kotlin KeySigner on the JCA: P-256 keys from the JDK, SHA256withECDSA (DER signatures). */
class JcaKeySigner : KeySigner {
    val keys = ConcurrentHashMap<String, KeyPair>()
    override fun getOrCreateKey(name: String): String {
        val pair = keys.computeIfAbsent(name) { JdkIssuer.generateP256() }
        val w = (pair.public as ECPublicKey).w
        val prefix = if (w.affineY.testBit(0)) "03" else "02"
        return prefix + JdkIssuer.fixed32(w.affineX).joinToString("") { "%02x".format(it) }
    }
    override fun sign(name: String, message: ByteArray): ByteArray {
        val pair = keys[name] ?: throw KeySignerException.NotFound(name)
        return Signature.getInstance("SHA256withECDSA").run { initSign(pair.private); update(message); sign() }
    }
    override fun deleteKey(name: String) { keys.remove(name) }
}

/** Asserts that [text] contains none of [secrets], nor any dot-separated piece of one (16+ chars). */
fun assertNoSecret(text: String, vararg secrets: String?) {
    for (secret in secrets.filterNotNull()) {
        // The failure message names where, never the text (it would print the secret).
        assertFalse(text.contains(secret), "a secret appears in a text of ${text.length} chars")
        for (piece in secret.split('.').filter { it.length >= 16 }) {
            assertFalse(text.contains(piece), "a piece of a secret appears at ${text.indexOf(piece)} in a text")
        }
    }
}

fun params(jwt: String, user: String) = SignInWithExternalJwtParams(externalJwt = jwt, externalUserId = user)

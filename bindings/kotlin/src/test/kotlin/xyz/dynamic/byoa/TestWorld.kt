package xyz.dynamic.byoa

import com.sun.net.httpserver.HttpServer
import java.io.File
import java.math.BigInteger
import java.net.InetAddress
import java.net.InetSocketAddress
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.ECGenParameterSpec
import java.util.Base64
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * An external auth provider written with the JDK only (not the Rust TestIssuer): ES256 keys from
 * the JDK's EC provider, tokens signed with SHA256withECDSA, the JWKS served by the JDK's HTTP
 * server on loopback. [holdJwks] makes JWKS requests wait, to park a sign-in inside the emulator.
 */
class JdkIssuer : AutoCloseable {
    val issuer = "https://issuer.kotlin.test/"
    private val keys = ConcurrentHashMap<String, KeyPair>()
    @Volatile private var currentKid = newKey()
    @Volatile private var hold: CountDownLatch? = null
    val jwksRequests = AtomicInteger()
    val heldRequests = LinkedBlockingQueue<Unit>()

    private val server: HttpServer = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16).apply {
        createContext("/") { exchange ->
            jwksRequests.incrementAndGet()
            if (exchange.requestURI.path.startsWith("/held-")) hold?.let { latch ->
                heldRequests.put(Unit)
                latch.await(30, TimeUnit.SECONDS)
            }
            val body = jwks().toByteArray()
            exchange.responseHeaders.add("Content-Type", "application/json")
            exchange.sendResponseHeaders(200, body.size.toLong())
            exchange.responseBody.use { it.write(body) }
        }
        executor = java.util.concurrent.Executors.newFixedThreadPool(4) { r -> Thread(r, "jdk-issuer").apply { isDaemon = true } }
        start()
    }
    val jwksUrl = "http://127.0.0.1:${server.address.port}/.well-known/jwks.json"

    /** The same keys under another URL, whose fetches [holdJwks] holds (the emulator caches per URL). */
    fun heldJwksUrl(name: String) = "http://127.0.0.1:${server.address.port}/held-$name/jwks.json"

    /** A new signing key (published at once); later tokens use it, so the emulator must refetch. */
    fun newKey(): String {
        val kid = "k-" + UUID.randomUUID().toString().take(8)
        keys[kid] = generateP256()
        currentKid = kid
        return kid
    }

    fun holdJwks(): CountDownLatch = CountDownLatch(1).also { hold = it }
    fun releaseJwks() { hold?.countDown(); hold = null }

    fun mint(
        sub: String,
        ttlSeconds: Long = 600,
        issuer: String = this.issuer,
        extra: Map<String, Any> = emptyMap(),
        signWith: KeyPair? = null,
        kid: String = currentKid,
    ): String {
        val now = System.currentTimeMillis() / 1000
        val claims = linkedMapOf<String, Any>("iss" to issuer, "sub" to sub, "iat" to now, "exp" to now + ttlSeconds)
        claims.putAll(extra)
        return sign(mapOf("alg" to "ES256", "typ" to "JWT", "kid" to kid), claims, signWith ?: keys.getValue(kid))
    }

    /** A step-up assertion: the sign-in claims plus `scope` and a fresh `jti`. */
    fun assertion(sub: String, scope: String) =
        mint(sub, ttlSeconds = 120, extra = mapOf("scope" to scope, "jti" to UUID.randomUUID().toString()))

    fun unsigned(header: Map<String, Any>, claims: Map<String, Any>): String =
        b64(json(header).toByteArray()) + "." + b64(json(claims).toByteArray()) + "." + b64(ByteArray(64) { 7 })

    private fun sign(header: Map<String, Any>, claims: Map<String, Any>, key: KeyPair): String {
        val input = b64(json(header).toByteArray()) + "." + b64(json(claims).toByteArray())
        val der = Signature.getInstance("SHA256withECDSA").run {
            initSign(key.private); update(input.toByteArray()); sign()
        }
        return input + "." + b64(derToRaw(der))
    }

    private fun jwks(): String = keys.entries.joinToString(",", "{\"keys\":[", "]}") { (kid, pair) ->
        val point = (pair.public as ECPublicKey).w
        json(mapOf("kty" to "EC", "crv" to "P-256", "alg" to "ES256", "use" to "sig", "kid" to kid,
            "x" to b64(fixed32(point.affineX)), "y" to b64(fixed32(point.affineY))))
    }

    override fun close() { releaseJwks(); server.stop(0) }

    companion object {
        fun generateP256(): KeyPair = KeyPairGenerator.getInstance("EC").run {
            initialize(ECGenParameterSpec("secp256r1")); generateKeyPair()
        }

        fun b64(bytes: ByteArray): String = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes)

        fun fixed32(n: BigInteger): ByteArray {
            val raw = n.toByteArray()
            return when {
                raw.size == 32 -> raw
                raw.size > 32 -> raw.copyOfRange(raw.size - 32, raw.size)
                else -> ByteArray(32 - raw.size) + raw
            }
        }

        /** X9.62 DER `SEQUENCE { INTEGER r, INTEGER s }` to JOSE's raw `r || s`. */
        fun derToRaw(der: ByteArray): ByteArray {
            var i = 2
            if (der[1].toInt() and 0x80 != 0) i += der[1].toInt() and 0x7f
            fun integer(): BigInteger {
                check(der[i].toInt() == 2); val len = der[i + 1].toInt(); val v = BigInteger(1, der.copyOfRange(i + 2, i + 2 + len)); i += 2 + len; return v
            }
            val r = integer(); val s = integer()
            return fixed32(r) + fixed32(s)
        }

        fun json(value: Any?): String = when (value) {
            null -> "null"
            is String -> "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
            is Number, is Boolean -> value.toString()
            is Map<*, *> -> value.entries.joinToString(",", "{", "}") { json(it.key.toString()) + ":" + json(it.value) }
            is List<*> -> value.joinToString(",", "[", "]") { json(it) }
            else -> error("json: ${value.javaClass}")
        }
    }
}

/** The real `byoa emulator` binary on an ephemeral loopback port, one environment per [Env]. */
class EmulatorProcess(issuer: JdkIssuer, envs: Map<Env, String>) : AutoCloseable {
    enum class Env { PLAIN, DEVICE_BOUND, SHORT_SESSIONS, HELD_DEFAULT, HELD_OKHTTP }

    private val process: Process
    val baseUrl: String

    init {
        val cli = System.getProperty("byoa.cli") ?: error("system property byoa.cli (path of target/debug/byoa) is not set")
        val environments = envs.map { (env, id) ->
            val jwks = if (env.name.startsWith("HELD_")) issuer.heldJwksUrl(env.name.lowercase()) else issuer.jwksUrl
            val e = linkedMapOf<String, Any>("environmentId" to id, "issuer" to issuer.issuer, "jwksUrl" to jwks)
            if (env == Env.DEVICE_BOUND) e["requireDeviceSignature"] = true
            if (env == Env.SHORT_SESSIONS) e["sessionTtlSeconds"] = 4
            e
        }
        val config = File.createTempFile("byoa-emulator", ".json").apply {
            deleteOnExit()
            writeText(JdkIssuer.json(mapOf("environments" to environments, "port" to 0)))
        }
        process = ProcessBuilder(cli, "emulator", "--config", config.path)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val lines = LinkedBlockingQueue<String>()
        Thread({ process.inputStream.bufferedReader().forEachLine { lines.put(it) } }, "emulator-stdout").apply { isDaemon = true; start() }
        var url: String? = null
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (url == null) {
            val left = deadline - System.nanoTime()
            check(left > 0 && process.isAlive) { "the emulator did not report its address within 30 s" }
            val line = lines.poll(left, TimeUnit.NANOSECONDS) ?: continue
            url = Regex("listening on (http://\\S+)").find(line)?.groupValues?.get(1)
        }
        baseUrl = url
    }

    override fun close() {
        process.destroy()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** One issuer and one emulator for the whole JVM (started on first use, stopped at exit). */
object TestWorld {
    val plainEnv = UUID.randomUUID().toString()
    val boundEnv = UUID.randomUUID().toString()
    val shortEnv = UUID.randomUUID().toString()
    /** Environments whose first JWKS fetch can be held, one per transport (each is fetched once). */
    val heldEnvs = mapOf(Transport.DEFAULT to UUID.randomUUID().toString(), Transport.OKHTTP to UUID.randomUUID().toString())
    val issuer by lazy { JdkIssuer() }
    val emulator by lazy {
        EmulatorProcess(issuer, mapOf(EmulatorProcess.Env.PLAIN to plainEnv, EmulatorProcess.Env.DEVICE_BOUND to boundEnv,
            EmulatorProcess.Env.SHORT_SESSIONS to shortEnv, EmulatorProcess.Env.HELD_DEFAULT to heldEnvs.getValue(Transport.DEFAULT),
            EmulatorProcess.Env.HELD_OKHTTP to heldEnvs.getValue(Transport.OKHTTP))).also { emulator ->
            Runtime.getRuntime().addShutdownHook(Thread { emulator.close(); issuer.close() })
        }
    }

    fun config(env: String = plainEnv, autoRefresh: Boolean? = null, requestTimeoutMs: Long? = null) = ClientConfig(
        environmentId = env, apiBaseUrl = emulator.baseUrl, autoRefresh = autoRefresh, requestTimeoutMs = requestTimeoutMs,
    )

    fun newUser() = "user-" + UUID.randomUUID().toString().take(12)
}

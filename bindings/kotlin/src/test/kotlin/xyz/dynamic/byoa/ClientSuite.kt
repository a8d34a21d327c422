package xyz.dynamic.byoa

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import xyz.dynamic.byoa.TestWorld.issuer
import xyz.dynamic.byoa.ktx.ByoaClient
import xyz.dynamic.byoa.ktx.DynamicByoa
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/**
 * The client through the real compiled library against the real emulator binary, with the
 * external issuer written in Kotlin. Run once per [Transport] (the subclasses below), so that
 * everything here is also proven over the OkHttp transport.
 */
abstract class ClientSuite(private val transport: Transport) {
    private fun client(
        storage: SessionStorage? = null,
        keySigner: KeySigner? = null,
        config: ClientConfig = TestWorld.config(),
    ): ByoaClient = DynamicByoa.createClient(config, storage = storage, keySigner = keySigner, httpTransport = transport.create())

    private suspend fun ByoaClient.signIn(user: String = TestWorld.newUser()): SignedInSession =
        auth.external.signInWithExternalJwt(params(issuer.mint(user), user))

    @Test
    fun `sign-in returns the user's profile and the client is signed in`() = bounded {
        client().use { client ->
            val user = TestWorld.newUser()
            val session = client.signIn(user)
            assertEquals(user, session.user.externalUserId)
            assertEquals(TestWorld.plainEnv, session.user.environmentId)
            assertTrue(session.user.userId.isNotEmpty())
            assertTrue(session.expiresAtMs > System.currentTimeMillis())
            assertEquals(AuthState.SignedIn(session), client.auth.state())
            assertEquals(session, client.auth.session())
            client.auth.tokens()!!.use { assertTrue(it.bearerToken().count { c -> c == '.' } == 2) }
        }
    }

    @Test
    fun `preflight failures are typed exceptions with their code, and nothing is sent`() = bounded {
        client().use { client ->
            val user = TestWorld.newUser()
            suspend fun refused(jwt: String, userId: String = user): ByoaException =
                assertThrows<ByoaException> { client.auth.external.signInWithExternalJwt(params(jwt, userId)) }
            val now = System.currentTimeMillis() / 1000
            val cases = listOf(
                Triple(refused(""), ByoaException.EmptyJwt::class.java, "empty_jwt"),
                Triple(refused("only.two"), ByoaException.MalformedJwt::class.java, "malformed_jwt"),
                Triple(refused("bm90anNvbg.bm90anNvbg.c2ln"), ByoaException.JwtNotJson::class.java, "jwt_not_json"),
                Triple(refused(issuer.unsigned(mapOf("alg" to "none"), mapOf("iss" to issuer.issuer, "sub" to user, "exp" to now + 600))),
                    ByoaException.UnsupportedAlgorithm::class.java, "unsupported_algorithm"),
                Triple(refused(issuer.unsigned(mapOf("alg" to "ES256"), mapOf("iss" to issuer.issuer, "exp" to now + 600))),
                    ByoaException.MissingClaim::class.java, "missing_claim"),
                Triple(refused(issuer.mint(user, ttlSeconds = -3600)), ByoaException.JwtExpired::class.java, "jwt_expired"),
                Triple(refused(issuer.mint(user, extra = mapOf("nbf" to now + 3600))), ByoaException.JwtNotYetValid::class.java, "jwt_not_yet_valid"),
                Triple(refused(issuer.mint(user), "someone-else"), ByoaException.ExternalUserIdMismatch::class.java, "external_user_id_mismatch"),
                Triple(refused("x".repeat(20_000)), ByoaException.JwtTooLarge::class.java, "jwt_too_large"),
            )
            for ((error, type, code) in cases) {
                assertInstanceOf(type, error)
                assertEquals(code, error.code())
                assertEquals(ErrorCategory.INVALID_INPUT, error.category())
            }
            assertEquals(AuthState.SignedOut(null), client.auth.state())
        }
    }

    @Test
    fun `a JWT Dynamic refuses is ExternalAuthRejected with its reason`() = bounded {
        client().use { client ->
            val user = TestWorld.newUser()
            val forged = issuer.mint(user, signWith = JdkIssuer.generateP256())
            val badSignature = assertThrows<ByoaException.ExternalAuthRejected> {
                client.auth.external.signInWithExternalJwt(params(forged, user))
            }
            assertEquals("external_auth_rejected", badSignature.code())
            assertEquals(RejectionReason.SIGNATURE, badSignature.reason)
            val wrongIssuer = assertThrows<ByoaException.ExternalAuthRejected> {
                client.auth.external.signInWithExternalJwt(params(issuer.mint(user, issuer = "https://other.example/"), user))
            }
            assertEquals(RejectionReason.ISSUER, wrongIssuer.reason)
            assertEquals(ErrorCategory.REJECTED, wrongIssuer.category())
            assertTrue(client.auth.state() is AuthState.SignedOut)
        }
    }

    @Test
    fun `a Kotlin SessionStorage keeps the session across a restart`() = bounded {
        val storage = MapStorage()
        val session = client(storage).use { first ->
            assertEquals(AuthState.SignedOut(null), first.auth.restore())
            first.signIn()
        }
        assertTrue(storage.map.keys.contains("dynamic_${TestWorld.plainEnv}_session"))
        client(storage).use { second ->
            assertEquals(AuthState.SignedIn(session), second.auth.restore())
            assertEquals(session.user, second.auth.session()!!.user)
            assertTrue(second.auth.accessToken().isNotEmpty())
        }
    }

    @Test
    fun `a store that throws Unavailable gives StorageUnavailable, never signed out`() = bounded {
        val storage = MapStorage().apply { failWith = { StorageException.Unavailable("keystore locked") } }
        client(storage).use { client ->
            val state = client.auth.restore()
            assertInstanceOf(AuthState.StorageUnavailable::class.java, state)
            assertEquals(StorageException.Unavailable("keystore locked").message, (state as AuthState.StorageUnavailable).error.message)
            val error = assertThrows<ByoaException.StorageUnavailable> { client.auth.accessToken() }
            assertEquals("storage_unavailable", error.code())
            assertEquals(ErrorCategory.RETRY_LATER, error.category())
            assertInstanceOf(StorageException.Unavailable::class.java, error.cause)
            storage.failWith = null
            assertEquals(AuthState.SignedOut(null), client.auth.restore())
        }
    }

    @Test
    fun `a Kotlin listener hears every state in order, starting with the current one`() = bounded {
        client().use { client ->
            val heard = CopyOnWriteArrayList<AuthState>()
            val handle = client.auth.addListener { heard.add(it) }
            val session = client.signIn()
            client.auth.signOut()
            withTimeout(10.seconds) { while (heard.size < 3) kotlinx.coroutines.yield() }
            assertEquals(listOf(AuthState.SignedOut(null), AuthState.SignedIn(session), AuthState.SignedOut(SignOutReason.USER_INTENT)), heard.toList())
            handle.remove()
            client.signIn()
            assertEquals(3, heard.size)
        }
    }

    @Test
    fun `the StateFlow follows the client's state`() = bounded {
        client().use { client ->
            assertEquals(AuthState.SignedOut(null), client.auth.stateFlow.value)
            val session = client.signIn()
            assertEquals(AuthState.SignedIn(session), client.auth.stateFlow.first { it is AuthState.SignedIn })
            client.auth.signOut()
            assertEquals(AuthState.SignedOut(SignOutReason.USER_INTENT), client.auth.stateFlow.first { it is AuthState.SignedOut })
        }
    }

    @Test
    fun `step-up grants an elevated token for the asked scopes`() = bounded {
        client().use { client ->
            val user = TestWorld.newUser()
            client.signIn(user)
            val granted = client.auth.external.verifyWithExternalJwt(VerifyWithExternalJwtParams(issuer.assertion(user, "wallet:export")))
            assertEquals(listOf("wallet:export"), granted.scopes)
            assertTrue(granted.expiresAtMs > System.currentTimeMillis())
            assertNotNull(client.auth.elevatedAccessToken(listOf("wallet:export")))
            val replay = issuer.assertion("someone-else", "wallet:export")
            assertEquals("external_user_id_mismatch",
                assertThrows<ByoaException> { client.auth.external.verifyWithExternalJwt(VerifyWithExternalJwtParams(replay)) }.code())
        }
    }

    @Test
    fun `accessToken refreshes a session near its expiry and hands out the new bearer`() = bounded {
        client(config = TestWorld.config(TestWorld.shortEnv, autoRefresh = false)).use { client ->
            val first = client.signIn()
            val initial = client.auth.accessToken()
            assertEquals(client.auth.tokens()!!.use { it.bearerToken() }, initial)
            // 4 s sessions: min_ttl counts as half the lifetime, so within 2 s of expiry it refreshes.
            withTimeout(5.seconds) { while (first.expiresAtMs - System.currentTimeMillis() > 1_500) kotlinx.coroutines.delay(50) }
            val fresh = client.auth.accessToken()
            assertNotEquals(initial, fresh)
            assertTrue(client.auth.session()!!.expiresAtMs > first.expiresAtMs)
        }
    }

    @Test
    fun `a Kotlin Logger receives the core's lines, and none carries a token`() = bounded {
        val lines = CopyOnWriteArrayList<String>()
        DynamicByoa.setLogger(object : Logger {
            override fun log(level: LogLevel, target: String, message: String) { lines.add("$level $target $message") }
        }, LogLevel.TRACE)
        try {
            client().use { client ->
                val user = TestWorld.newUser()
                val jwt = issuer.mint(user)
                client.auth.external.signInWithExternalJwt(params(jwt, user))
                val bearer = client.auth.accessToken(AccessTokenOptions(forceRefresh = true))
                val idToken = client.auth.tokens()!!.use { it.idToken() }
                client.auth.signOut()
                assertTrue(lines.any { it.contains("state: signed in") }, "no state line in $lines")
                assertTrue(lines.any { it.contains("dynamic_byoa::http") }, "no request line in $lines")
                for (line in lines) assertNoSecret(line, jwt, bearer, idToken)
            }
        } finally {
            DynamicByoa.setLogger(null, LogLevel.ERROR)
        }
    }

    @Test
    fun `a JCA KeySigner's device signatures are accepted by an emulator that requires them`() = bounded {
        val signer = JcaKeySigner()
        client(keySigner = signer, config = TestWorld.config(TestWorld.boundEnv)).use { client ->
            val session = client.signIn()
            assertTrue(signer.keys.keys.any { it == "dynamic_${TestWorld.boundEnv}_device_key" }, "keys: ${signer.keys.keys}")
            assertEquals(session.user.userId, client.auth.refresh().user.userId)
        }
        client(config = TestWorld.config(TestWorld.boundEnv)).use { unbound ->
            val error = assertThrows<ByoaException> { unbound.signIn() }
            assertTrue(error.code() in setOf("device_signature_rejected", "device_nonce_unavailable"), error.code())
        }
    }

    @Test
    fun `50 concurrent coroutine sign-ins, the last one started wins, the others are superseded`() = bounded(60.seconds) {
        val storage = MapStorage()
        client(storage).use { client ->
            val users = List(50) { TestWorld.newUser() }
            val jwts = users.map { issuer.mint(it) }
            val results = users.indices.map { i ->
                async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                    runCatching { client.auth.external.signInWithExternalJwt(params(jwts[i], users[i])) }
                }
            }.awaitAll()
            for (result in results) {
                result.exceptionOrNull()?.let { assertInstanceOf(ByoaException.SignInSuperseded::class.java, it) }
            }
            val winner = results.last().getOrThrow()
            assertEquals(users.last(), winner.user.externalUserId)
            assertEquals(AuthState.SignedIn(winner), client.auth.state())
        }
    }

    @Test
    fun `a coroutine cancelled mid-request stops waiting and leaves the client consistent`() = bounded {
        // The emulator's first sign-in in this environment fetches the issuer's JWKS: that fetch is held.
        client(config = TestWorld.config(TestWorld.heldEnvs.getValue(transport))).use { client ->
            val user = TestWorld.newUser()
            val jwt = issuer.mint(user)
            issuer.holdJwks()
            try {
                val job = launch(Dispatchers.Default) { client.auth.external.signInWithExternalJwt(params(jwt, user)) }
                kotlinx.coroutines.runInterruptible(Dispatchers.IO) { issuer.heldRequests.poll(10, TimeUnit.SECONDS) }
                    ?: error("the sign-in never reached the issuer")
                withTimeout(2.seconds) { job.cancel(); job.join() }
                assertTrue(job.isCancelled)
            } finally {
                issuer.releaseJwks()
            }
            // The exchange completes on the library's runtime and its session is kept.
            val state = client.auth.stateFlow.first { it is AuthState.SignedIn } as AuthState.SignedIn
            assertEquals(user, state.session.user.externalUserId)
            assertTrue(client.auth.accessToken().isNotEmpty())
            client.auth.signOut()
            assertEquals(AuthState.SignedOut(SignOutReason.USER_INTENT), client.auth.state())
        }
    }

    @Test
    fun `sign-out ends the session locally, deletes the stored record and refuses token calls`() = bounded {
        val storage = MapStorage()
        client(storage).use { client ->
            client.signIn()
            assertTrue(storage.map.isNotEmpty())
            client.auth.signOut()
            assertEquals(AuthState.SignedOut(SignOutReason.USER_INTENT), client.auth.state())
            assertNull(client.auth.session())
            assertNull(client.auth.tokens())
            assertEquals("not_signed_in", assertThrows<ByoaException.NotSignedIn> { client.auth.accessToken() }.code())
            withTimeout(5.seconds) { while (storage.map.isNotEmpty()) kotlinx.coroutines.delay(10) }
        }
    }

    @Test
    fun `the generated objects may be closed in any order`() = bounded {
        val client = DynamicClient(TestWorld.config(), ClientDependencies(httpTransport = transport.create()))
        val auth = client.auth()
        val external = auth.external()
        client.close()
        val user = TestWorld.newUser()
        external.signInWithExternalJwt(params(issuer.mint(user), user))
        val tokens = auth.tokens()!!
        auth.close()
        assertTrue(tokens.bearerToken().isNotEmpty())
        external.close()
        tokens.close()
        client.close()
        tokens.close()
        assertEquals("DynamicClient(closed)", client.toString())
        assertEquals("SessionTokens(closed)", tokens.toString())
        assertThrows<IllegalStateException> { auth.state() }
    }

    @Test
    fun `the printed form of every record, object and exception holds no token`() = bounded {
        val requests = CopyOnWriteArrayList<String>()
        val recording = object : HttpTransport {
            val inner = transport.create() ?: xyz.dynamic.byoa.okhttp.OkHttpTransport()
            override suspend fun send(request: HttpRequest): HttpResponse {
                requests.add(request.toString())
                return inner.send(request).also { response ->
                    requests.add(response.toString()); response.headers.forEach { requests.add(it.toString()) }
                }
            }
        }
        DynamicByoa.createClient(TestWorld.config(), httpTransport = recording).use { client ->
            val user = TestWorld.newUser()
            val jwt = issuer.mint(user)
            val signInParams = params(jwt, user)
            val session = client.auth.external.signInWithExternalJwt(signInParams)
            val assertion = issuer.assertion(user, "wallet:export")
            val verifyParams = VerifyWithExternalJwtParams(assertion)
            val granted = client.auth.external.verifyWithExternalJwt(verifyParams)
            val tokens = client.auth.tokens()!!
            val bearer = tokens.bearerToken()
            val idToken = tokens.idToken()
            val elevated = client.auth.elevatedAccessToken(listOf("wallet:export"))
            // Errors as the library produces them, some quoting the app's input or a store's text.
            val leakyStore = MapStorage().apply { failWith = { StorageException.Unavailable("locked; was writing $bearer") } }
            val storeErrors = DynamicByoa.createClient(TestWorld.config(), storage = leakyStore).use { other ->
                listOf(other.auth.restore().toString(), assertThrows<ByoaException> { other.auth.accessToken() })
            }
            val errors = listOf(
                assertThrows<ByoaException> { client.auth.external.signInWithExternalJwt(params("$jwt.$jwt", user)) },
                assertThrows<ByoaException> { client.auth.external.signInWithExternalJwt(params(jwt, "not-$user")) },
                assertThrows<ByoaException> {
                    client.auth.external.signInWithExternalJwt(params(issuer.mint(user, signWith = JdkIssuer.generateP256()), user))
                },
                storeErrors[1] as ByoaException,
            )
            assertNoSecret(storeErrors[0].toString(), bearer)
            val printed = listOf(session, session.user, tokens, signInParams, verifyParams, granted, AuthState.SignedIn(session),
                client, client.raw, client.auth, client.auth.external, AuthState.Restoring) + requests
            assertEquals("Restoring", AuthState.Restoring.toString())
            for (item in printed) assertNoSecret(item.toString(), jwt, assertion, bearer, idToken, elevated)
            for (error in errors) {
                assertNoSecret(error.toString(), jwt, bearer)
                assertNoSecret(error.message!!, jwt, bearer)
            }
            tokens.close()
        }
    }
}

class DefaultTransportTest : ClientSuite(Transport.DEFAULT)
class OkHttpTransportTest : ClientSuite(Transport.OKHTTP)

package xyz.dynamic.byoa.reactnative

import kotlinx.coroutines.Job
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import xyz.dynamic.byoa.AuthState
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit

/** What the module promises beyond the scenario table: event rules, logs, teardown, registration. */
@RunWith(RobolectricTestRunner::class)
class DynamicByoaModuleTest {
    private val harness = ModuleHarness()
    private val module get() = harness.module
    private val user = ModuleWorld.newUser()

    @After
    fun close() = harness.close()

    private fun signIn(handle: Double, jwt: String = ModuleWorld.issuer.mint(user)): Outcome =
        harness.settle { module.signInWithExternalJwt(handle, jwt, user, it) }

    /** The `status` of an event's `stateJson`. */
    private fun state(event: Emitted?): String? = (event?.payload?.get("stateJson") as String?)?.let(::status)

    /** The `status` of a `bridge_state_json` text. */
    private fun status(stateJson: String): String? = Json.parseToJsonElement(stateJson).jsonObject["status"]?.jsonPrimitive?.content

    @Test
    fun `no state event is emitted before JavaScript subscribes, and the first one after is the current state`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        // No waiting needed: the module emits a call's events before its promise settles.
        assertEquals("events before startAuthStateEvents", emptyList<Emitted>(), harness.events.drain { true })

        module.startAuthStateEvents(handle)
        val first = harness.events.next(BOUND, harness.stateEventsOf(handle))
        assertEquals("signedIn", state(first))
        assertTrue("the signed-in state carries the bearer", (first!!.payload["token"] as String).isNotEmpty())
    }

    @Test
    fun `stopAuthStateEvents ends the events of that client`() {
        val handle = harness.createSettledClient()
        module.startAuthStateEvents(handle)
        assertEquals("signedOut", state(harness.events.next(BOUND, harness.stateEventsOf(handle))))
        module.stopAuthStateEvents(handle)
        assertTrue(signIn(handle) is Outcome.Resolved)
        assertEquals("events after stopAuthStateEvents", emptyList<Emitted>(), harness.events.drain(harness.stateEventsOf(handle)))
    }

    @Test
    fun `logout signs out at once, emits signedOut without a token, and getAccessToken then rejects not_signed_in`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        module.startAuthStateEvents(handle)
        assertEquals("signedIn", state(harness.events.next(BOUND, harness.stateEventsOf(handle))))

        assertEquals(Outcome.Resolved(null), harness.settle { module.logout(handle, it) })
        val signedOut = harness.events.next(BOUND, harness.stateEventsOf(handle))
        assertEquals("signedOut", state(signedOut))
        assertTrue((signedOut!!.payload["stateJson"] as String).contains("\"reason\":\"user_intent\""))
        assertNull(signedOut.payload["token"])
        val rejected = harness.settle { module.getAccessToken(handle, null, false, it) } as Outcome.Rejected
        assertEquals("not_signed_in", rejected.code)
        assertEquals("sign_in_again", rejected.userInfo!!["category"])
    }

    @Test
    fun `log events arrive only after setLogLevel, hold no piece of a token, and stop with off`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        assertEquals("log lines before setLogLevel", emptyList<Emitted>(), harness.events.drain { it.name == "onLog" })

        module.setLogLevel("debug")
        val jwt = ModuleWorld.issuer.mint(user)
        assertTrue(signIn(handle, jwt) is Outcome.Resolved)
        val line = harness.events.next(BOUND) { it.name == "onLog" }!!.payload
        assertEquals(setOf("level", "target", "message"), line.keys)
        assertTrue(line["target"].toString().startsWith("dynamic_byoa"))
        val bearer = (harness.settle { module.getAccessToken(handle, null, true, it) } as Outcome.Resolved).value as String
        val lines = listOf(line) + harness.events.drain { it.name == "onLog" }.map { it.payload }
        val texts = lines.flatMap { listOf(it["target"].toString(), it["message"].toString()) }
        // Every 16-character window: any longer piece of a token contains one of them.
        for ((name, token) in listOf("external JWT" to jwt, "bearer token" to bearer)) {
            val pieces = token.windowed(16).toSet()
            assertFalse("a log line holds a piece of the $name", texts.any { text -> pieces.any(text::contains) })
        }

        module.setLogLevel("off")
        harness.events.drain { true }
        assertTrue(harness.settle { module.logout(handle, it) } is Outcome.Resolved)
        assertEquals("log lines after off", emptyList<Emitted>(), harness.events.drain { it.name == "onLog" })
    }

    @Test
    fun `logout then disposeClient sent back to back still signs out, and the client is closed once the logout ended`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        val client = harness.platform.created.single()
        val logout = FakePromise()
        // The logout has not started when the dispose arrives: only its lease keeps the client open.
        harness.dispatcher.hold()
        module.logout(handle, logout)
        module.disposeClient(handle)
        assertFalse("the client was closed under a call in flight", client.closed)
        harness.dispatcher.open()

        assertEquals(Outcome.Resolved(null), logout.await())
        assertTrue("the disposed client was never closed", eventually { client.closed })
        // The stored record too: a new client over the same storage restores signed out.
        val again = harness.createClient()
        val restored = harness.settle { module.restore(again, it) } as Outcome.Resolved
        assertEquals("signedOut", status(restored.value as String))
    }

    @Test
    fun `a state delivered after invalidate emits nothing`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        val auth = harness.platform.created.single().auth
        // The core delivers an event to the listeners registered when it happened, in order: this
        // one invalidates the module before the module's own listener gets the signed-out state.
        val invalidating = auth.addListener { state -> if (state is AuthState.SignedOut) module.invalidate() }
        module.startAuthStateEvents(handle)
        assertEquals("signedIn", state(harness.events.next(BOUND, harness.stateEventsOf(handle))))
        val delivered = CountDownLatch(1)
        val last = auth.addListener { state -> if (state is AuthState.SignedOut) delivered.countDown() }
        try {
            module.logout(handle, FakePromise())
            assertTrue("the sign-out was not delivered", delivered.await(BOUND.inWholeMilliseconds, TimeUnit.MILLISECONDS))
            assertEquals("events after invalidate", emptyList<Emitted>(), harness.events.drain { true })
        } finally {
            invalidating.close()
            last.close()
        }
    }

    @Test
    fun `a client created while the module is invalidated is closed and its promise never settles`() {
        val entered = CountDownLatch(1)
        val proceed = CountDownLatch(1)
        harness.platform.beforeCreate = {
            entered.countDown()
            proceed.await(BOUND.inWholeMilliseconds, TimeUnit.MILLISECONDS)
        }
        val promise = FakePromise()
        module.createClient(harness.config(), promise)
        assertTrue("createClient did not start", entered.await(BOUND.inWholeMilliseconds, TimeUnit.MILLISECONDS))

        module.invalidate()
        proceed.countDown()
        runBlocking { withTimeout(BOUND) { module.scope.coroutineContext[Job]!!.join() } }
        assertTrue("the client made around invalidate is open", harness.platform.created.single().closed)
        assertEquals("settlements", 0, promise.settlements.get())
    }

    @Test
    fun `an Error thrown by the work or by settling rejects with the core's internal shape, never uncaught`() {
        val uncaught = recordingUncaught {
            val errors = listOf(
                UnsatisfiedLinkError("dlopen failed: library \"libdynamic_byoa.so\" not found"),
                ExceptionInInitializerError("no libjnidispatch.so for this ABI"),
                NoClassDefFoundError("Could not initialize class xyz.dynamic.byoa.UniffiLib"),
            )
            for (error in errors) {
                harness.platform.beforeCreate = { throw error }
                expectInternal(harness.settle { module.createClient(harness.config(), it) }, error)
            }
            harness.platform.beforeCreate = {}

            val handle = harness.createSettledClient()
            val refused = IllegalArgumentException("Could not convert the value")
            val promise = object : FakePromise() {
                override fun resolve(value: Any?) = throw refused
            }
            module.restore(handle, promise)
            expectInternal(promise.await(), refused)
        }
        assertEquals("uncaught", emptyList<String>(), uncaught)
    }

    private fun expectInternal(outcome: Outcome, cause: Throwable) {
        val rejected = outcome as? Outcome.Rejected ?: failure("${cause.javaClass.simpleName}: expected a rejection, got $outcome")
        assertEquals("internal", rejected.code)
        assertNull("a rejection passes no Throwable", rejected.throwable)
        val message = rejected.message ?: failure("no message")
        assertTrue("the message names the class: $message", message.contains(cause.javaClass.simpleName))
        assertTrue("the message has the throwable's message: $message", message.contains(cause.message!!.take(20)))
        assertFalse("a stack trace in the message: $message", message.contains("\tat ") || message.contains(".kt:"))
    }

    @Test
    fun `a handle that is not an exact integer names no client, as a disposed one`() {
        val handle = harness.createSettledClient()
        val disposed = harness.createClient().also(module::disposeClient)
        val unknown = harness.settle { module.restore(disposed, it) } as Outcome.Rejected
        assertEquals("invalid_configuration", unknown.code)
        assertEquals("handle", unknown.userInfo!!["field"])

        for (inexact in listOf(handle + 0.5, handle + 0.999, handle - 0.25, Double.NaN, handle + 4294967296.0, 1e300)) {
            assertEquals("restore($inexact)", unknown, harness.settle { module.restore(inexact, it) })
            module.startAuthStateEvents(inexact)
            module.disposeClient(inexact)
        }
        assertEquals("events for an inexact handle", emptyList<Emitted>(), harness.events.drain { true })
        assertTrue("the client itself is still there", harness.settle { module.restore(handle, it) } is Outcome.Resolved)
    }

    @Test
    fun `a module invalidated while a sign-in is in flight neither settles, crashes nor keeps anything alive`() {
        val promise = FakePromise()
        lateinit var job: Job
        val uncaught = recordingUncaught {
            try {
                module.setLogLevel("debug")
                val handle = harness.createClient(ModuleWorld.heldEnvironmentId)
                val client = harness.platform.created.single()
                ModuleWorld.issuer.holdJwks()
                module.signInWithExternalJwt(handle, ModuleWorld.issuer.mint(user), user, promise)
                assertNotNull("the sign-in did not reach the emulator", ModuleWorld.issuer.heldRequests.poll(BOUND.inWholeMilliseconds, TimeUnit.MILLISECONDS))

                module.invalidate()
                job = module.scope.coroutineContext[Job]!!
                assertTrue("the scope is cancelled", job.isCancelled)
                ModuleWorld.issuer.releaseJwks()
                // The core has finished the request: its HTTP call ended (answered or cancelled).
                assertTrue("an HTTP call is still in flight", eventually { harness.platform.idle })
                runBlocking { withTimeout(BOUND) { job.join() } } // every child has finished: nothing leaks
                assertTrue("the client is open", eventually { client.closed })
                assertNull("the module's logger is installed", harness.platform.logger)
            } finally {
                ModuleWorld.issuer.releaseJwks()
            }
        }
        assertEquals("settlements after invalidate", 0, promise.settlements.get())
        assertEquals("uncaught", emptyList<String>(), uncaught)
        assertTrue("the scope's job is cancelled and completed", job.isCancelled && job.isCompleted)
    }

    /** Runs [block] with the default uncaught-exception handler recording; what reached it, by class. */
    private fun recordingUncaught(block: () -> Unit): List<String> {
        val uncaught = Collections.synchronizedList(mutableListOf<String>())
        val previous = Thread.getDefaultUncaughtExceptionHandler()
        Thread.setDefaultUncaughtExceptionHandler { _, e -> uncaught += e.javaClass.name }
        try {
            block()
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previous)
        }
        return uncaught.toList()
    }

    @Test
    fun `the package registers DynamicByoa as a TurboModule created on first use`() {
        val info = DynamicByoaPackage().getReactModuleInfoProvider().getReactModuleInfos().getValue("DynamicByoa")
        assertTrue(info.isTurboModule)
        assertFalse(info.needsEagerInit)
        assertEquals(DynamicByoaModule::class.java.name, info.className)
        assertEquals("DynamicByoa", module.name)
    }
}

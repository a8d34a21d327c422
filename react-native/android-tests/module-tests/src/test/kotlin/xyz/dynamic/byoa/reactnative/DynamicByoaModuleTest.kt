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
import java.util.Collections
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
    private fun state(event: Emitted?): String? = (event?.payload?.get("stateJson") as String?)
        ?.let { Json.parseToJsonElement(it).jsonObject["status"]?.jsonPrimitive?.content }

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
    fun `log events arrive only after setLogLevel, and stop with off`() {
        val handle = harness.createClient()
        assertTrue(signIn(handle) is Outcome.Resolved)
        assertEquals("log lines before setLogLevel", emptyList<Emitted>(), harness.events.drain { it.name == "onLog" })

        module.setLogLevel("debug")
        val jwt = ModuleWorld.issuer.mint(user)
        assertTrue(signIn(handle, jwt) is Outcome.Resolved)
        val line = harness.events.next(BOUND) { it.name == "onLog" }!!.payload
        assertEquals(setOf("level", "target", "message"), line.keys)
        assertTrue(line["target"].toString().startsWith("dynamic_byoa"))
        val lines = harness.events.drain { it.name == "onLog" }.map { it.payload["message"].toString() } + line["message"].toString()
        assertFalse("a log line holds a piece of the JWT", lines.any { text -> jwt.split('.').any { it.length >= 16 && text.contains(it) } })

        module.setLogLevel("off")
        harness.events.drain { true }
        assertTrue(harness.settle { module.logout(handle, it) } is Outcome.Resolved)
        assertEquals("log lines after off", emptyList<Emitted>(), harness.events.drain { it.name == "onLog" })
    }

    @Test
    fun `a module invalidated while a sign-in is in flight neither crashes nor keeps its scope alive`() {
        val uncaught = Collections.synchronizedList(mutableListOf<Throwable>())
        val previous = Thread.getDefaultUncaughtExceptionHandler()
        Thread.setDefaultUncaughtExceptionHandler { _, e -> uncaught += e }
        try {
            val handle = harness.createClient(ModuleWorld.heldEnvironmentId)
            ModuleWorld.issuer.holdJwks()
            val promise = FakePromise()
            module.signInWithExternalJwt(handle, ModuleWorld.issuer.mint(user), user, promise)
            assertNotNull("the sign-in did not reach the emulator", ModuleWorld.issuer.heldRequests.poll(BOUND.inWholeMilliseconds, TimeUnit.MILLISECONDS))

            module.invalidate()
            val job = module.scope.coroutineContext[Job]!!
            assertTrue("the scope is cancelled", job.isCancelled)
            runBlocking { withTimeout(BOUND) { job.join() } } // every child has finished: nothing leaks
            ModuleWorld.issuer.releaseJwks()

            assertTrue("settled ${promise.settlements.get()} times", promise.settlements.get() <= 1)
            assertTrue("uncaught: ${uncaught.map { it.javaClass.name }}", uncaught.isEmpty())
        } finally {
            ModuleWorld.issuer.releaseJwks()
            Thread.setDefaultUncaughtExceptionHandler(previous)
        }
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

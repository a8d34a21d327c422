package xyz.dynamic.byoa.reactnative

import com.facebook.react.bridge.Promise
import com.facebook.react.bridge.ReadableArray
import com.facebook.react.bridge.ReadableMap
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.After
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.ParameterizedRobolectricTestRunner
import java.lang.reflect.Method

/**
 * Every scenario of `react-native/scenarios/native-module.json`, one test each, against the
 * Kotlin module: the Node end-to-end runner executes the same table against the Rust test host,
 * so both sides are proven to hand JavaScript the same payloads for the same calls.
 *
 * Methods are found by name on the codegen spec and their arguments converted by the spec's
 * parameter types (as React Native's own method wrapper does), so a new spec method needs no code.
 */
@RunWith(ParameterizedRobolectricTestRunner::class)
class ScenarioTableTest(private val index: Int, private val name: String) {
    companion object {
        /** Runs outside Robolectric's sandbox: only plain values (index, name) cross into the test. */
        @JvmStatic
        @ParameterizedRobolectricTestRunner.Parameters(name = "{1}")
        fun scenarios(): List<Array<Any>> = ScenarioTable.load().scenarios.mapIndexed { i, scenario -> arrayOf(i, scenario.name) }
    }

    private val harness = ModuleHarness()
    private val names = Placeholders(ModuleWorld.newUser(), ModuleWorld.environmentId)
    private var handle = 0.0

    @After
    fun close() = harness.close()

    @Test
    fun `the module resolves, rejects and emits as the scenario table says`() {
        val scenario = ScenarioTable.load().scenarios[index]
        assertEquals(name, scenario.name)
        handle = harness.createClient()
        try {
            scenario.steps.forEachIndexed { i, step -> runStep(step, "step $i") }
            assertNoExtraEvent("after the last step")
        } finally {
            harness.settle { promise -> harness.module.logout(handle, promise) }
            harness.module.disposeClient(handle)
        }
    }

    private fun runStep(step: JsonObject, where: String) {
        when {
            "events" in step -> {
                assertEquals("$where: an events step has no other keys", setOf("events"), step.keys)
                expectEvents(step.getValue("events").jsonArray, where)
            }
            "call" in step -> call(step, where)
            else -> fail("$where: neither `call` nor `events` (keys ${step.keys})")
        }
    }

    private val expectations = setOf("resolves", "resolvesJson", "rejects")

    private fun call(step: JsonObject, where: String) {
        val unknown = step.keys - setOf("call", "args", "then") - expectations
        assertTrue("$where: unknown keys $unknown", unknown.isEmpty())
        val method = step.getValue("call").jsonPrimitive.content
        val then = step["then"]?.jsonObject
        val outcome = invoke(method, arguments(step)) { then?.let { sendBehind(it, "$where, then") } }
        val label = "$where ($method)"
        when {
            "resolves" in step -> expectResolved(outcome, label) { mismatches(step.getValue("resolves"), it, names) }
            "resolvesJson" in step -> expectResolved(outcome, label) { value ->
                if (value !is String) listOf("$: expected JSON text, got ${shown(value)}")
                else mismatches(step.getValue("resolvesJson"), plainJson(Json.parseToJsonElement(value)), names)
            }
            "rejects" in step -> expectRejected(outcome, step.getValue("rejects").jsonObject, label)
        }
    }

    private fun arguments(step: JsonObject): List<Any?> = step["args"]?.jsonArray?.map { argument(it, names) } ?: emptyList()

    /** `then`: a void method sent right behind the step's call, before that call settles (e.g. `disposeClient` behind `logout`). */
    private fun sendBehind(then: JsonObject, where: String) {
        val unknown = then.keys - setOf("call", "args")
        assertTrue("$where: unknown keys $unknown", unknown.isEmpty())
        val method = then.getValue("call").jsonPrimitive.content
        assertTrue("$where: $method is not a void method", specMethod(method).parameterTypes.lastOrNull() != Promise::class.java)
        invoke(method, arguments(then))
    }

    /**
     * Calls [name], with the scenario's handle first where the spec's first parameter is `handle`
     * (not `setLogLevel(level)`, say); waits for the promise of a promise method (null: a void
     * method), after sending [behind].
     */
    private fun invoke(name: String, args: List<Any?>, behind: () -> Unit = {}): Outcome? {
        val method = specMethod(name)
        val types = method.parameterTypes
        val takesPromise = types.lastOrNull() == Promise::class.java
        val takesHandle = method.parameters.firstOrNull()?.name == "handle"
        val jsTypes = types.drop(if (takesHandle) 1 else 0).dropLast(if (takesPromise) 1 else 0)
        assertEquals("$name takes ${jsTypes.size} arguments besides the handle", jsTypes.size, args.size)
        val first: List<Any?> = if (takesHandle) listOf(handle) else emptyList()
        val values = first + jsTypes.zip(args) { type, arg -> javaArgument(type, arg) }
        if (!takesPromise) {
            method.invoke(harness.module, *values.toTypedArray())
            behind()
            return null
        }
        val promise = FakePromise().also { method.invoke(harness.module, *(values + it).toTypedArray()) }
        behind()
        return promise.await()
    }

    private fun specMethod(name: String): Method = NativeDynamicByoaSpec::class.java.declaredMethods
        .singleOrNull { it.name == name && java.lang.reflect.Modifier.isAbstract(it.modifiers) }
        ?: failure("the spec has no method $name")

    /** A JavaScript value as the type the codegen spec declares for it. */
    private fun javaArgument(type: Class<*>, value: Any?): Any? = when (type) {
        Double::class.javaPrimitiveType -> (value as Number).toDouble()
        Double::class.javaObjectType -> (value as Number?)?.toDouble()
        Boolean::class.javaPrimitiveType -> value as Boolean
        String::class.java -> value as String?
        ReadableMap::class.java -> (value as Map<*, *>?)?.let { javaOnlyMap(it.mapKeys { e -> e.key.toString() }) }
        ReadableArray::class.java -> (value as List<*>?)?.let(::javaOnlyArray)
        else -> failure("the runner cannot pass a ${type.name}")
    }

    private fun expectResolved(outcome: Outcome?, label: String, check: (Any?) -> List<String>) {
        when (outcome) {
            null -> fail("$label: a void method has no promise to resolve")
            is Outcome.Rejected -> fail("$label: rejected with ${outcome.code}: ${shown(outcome.message)}")
            is Outcome.Resolved -> assertNoMismatch(label, check(outcome.value))
        }
    }

    private fun expectRejected(outcome: Outcome?, expected: JsonObject, label: String) {
        val rejected = outcome as? Outcome.Rejected ?: failure("$label: expected a rejection, got ${outcome?.let { "a resolution" } ?: "no promise"}")
        // As JavaScript reads it: only code, message and userInfo; no Throwable (its class name would be error.name).
        assertEquals("$label: a rejection passes no Throwable", null, rejected.throwable)
        val seen = mapOf("code" to rejected.code, "message" to rejected.message, "userInfo" to rejected.userInfo)
        assertNoMismatch(label, mismatches(expected, seen, names))
    }

    /** The next `onAuthStateChanged` events of this client are exactly [expected], in order. */
    private fun expectEvents(expected: JsonArray, where: String) {
        val mine = harness.stateEventsOf(handle)
        expected.forEachIndexed { i, element ->
            val event = harness.events.next(BOUND, mine) ?: failure("$where: event ${i + 1} of ${expected.size} did not arrive within $BOUND")
            assertNoMismatch("$where, event ${i + 1}", mismatches(element, stateEvent(event), names))
        }
        assertNoExtraEvent(where)
    }

    /**
     * Nothing more has arrived. No waiting: the module emits a call's events before its promise
     * settles, so every event of the steps so far is already recorded.
     */
    private fun assertNoExtraEvent(where: String) {
        val extra = harness.events.drain(harness.stateEventsOf(handle)).map { (stateEvent(it)["state"] as Map<*, *>)["status"] }
        assertEquals("$where: events the table does not list arrived (statuses $extra)", emptyList<Any?>(), extra)
    }

    /** An event as the table writes it: `{state: <parsed stateJson>, token}`. */
    private fun stateEvent(event: Emitted): Map<String, Any?> {
        val state = (event.payload["stateJson"] as String).let { plainJson(Json.parseToJsonElement(it)) }
        return mapOf("state" to state, "token" to event.payload["token"])
    }

    private fun assertNoMismatch(label: String, problems: List<String>) =
        assertTrue("$label:\n  " + problems.joinToString("\n  "), problems.isEmpty())
}

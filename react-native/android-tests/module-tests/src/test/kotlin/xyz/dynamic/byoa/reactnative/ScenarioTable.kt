package xyz.dynamic.byoa.reactnative

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.longOrNull
import java.io.File
import java.util.UUID

/**
 * `react-native/scenarios/native-module.json` (its format: `react-native/scenarios/README.md`),
 * read as JSON trees: the runner interprets the steps, so a new row needs no code here.
 */
class ScenarioTable(val environmentId: String, val scenarios: List<Scenario>) {
    class Scenario(val name: String, val steps: List<JsonObject>)

    companion object {
        fun load(): ScenarioTable {
            val path = System.getProperty("byoa.scenarios") ?: error("system property byoa.scenarios (the scenario table) is not set")
            val root = Json.parseToJsonElement(File(path).readText()).jsonObject
            val scenarios = root.getValue("scenarios").jsonArray.map { element ->
                val scenario = element.jsonObject
                Scenario(scenario.getValue("name").jsonPrimitive.content, scenario.getValue("steps").jsonArray.map { it.jsonObject })
            }
            return ScenarioTable(root.getValue("environmentId").jsonPrimitive.content, scenarios)
        }
    }
}

/** `{user}` and `{env}` in a string: the scenario's external user and the table's environment. */
class Placeholders(val user: String, val env: String) {
    fun interpolate(text: String) = text.replace("{user}", user).replace("{env}", env)
}

/** A JSON tree as plain values (what the module's seams take and JavaScript would hold). */
fun plainJson(element: JsonElement): Any? = when (element) {
    JsonNull -> null
    is JsonObject -> element.mapValues { plainJson(it.value) }
    is JsonArray -> element.map(::plainJson)
    is JsonPrimitive -> when {
        element.isString -> element.content
        element.booleanOrNull != null -> element.booleanOrNull
        element.longOrNull != null -> element.longOrNull
        else -> element.content.toDouble()
    }
}

/**
 * A step's argument as JavaScript would pass it: strings interpolated, `{"$jwt": {...}}` minted
 * by the test issuer (ES256, the `kid` of its JWKS).
 */
fun argument(element: JsonElement, names: Placeholders): Any? = when {
    element is JsonObject && element.keys == setOf("\$jwt") -> mintJwt(element.getValue("\$jwt").jsonObject, names)
    element is JsonObject -> element.mapValues { argument(it.value, names) }
    element is JsonArray -> element.map { argument(it, names) }
    element is JsonPrimitive && element.isString -> names.interpolate(element.content)
    else -> plainJson(element)
}

private val JWT_KEYS = setOf("sub", "ttlSeconds", "extra", "signer")

/**
 * `{"sub", "ttlSeconds" (default 600), "extra" (merged last), "signer": "stranger"}`. A missing
 * `sub` is the scenario's user (the README lists `sub` among the claims always set).
 */
private fun mintJwt(spec: JsonObject, names: Placeholders): String {
    val unknown = spec.keys - JWT_KEYS
    require(unknown.isEmpty()) { "\$jwt: unknown keys $unknown (the runner knows $JWT_KEYS)" }
    val extra = spec["extra"]?.jsonObject?.mapValues { claim(it.value, names) } ?: emptyMap()
    val signer = spec["signer"]?.jsonPrimitive?.content
    require(signer == null || signer == "stranger") { "\$jwt: unknown signer $signer" }
    @Suppress("UNCHECKED_CAST") // JdkIssuer.json writes null values too (a claim set to null)
    return ModuleWorld.issuer.mint(
        sub = spec["sub"]?.let { names.interpolate(it.jsonPrimitive.content) } ?: names.user,
        ttlSeconds = spec["ttlSeconds"]?.jsonPrimitive?.longOrNull ?: 600,
        extra = extra as Map<String, Any>,
        signWith = if (signer == "stranger") STRANGER else null,
    )
}

/** A key the issuer's JWKS does not publish. */
private val STRANGER = xyz.dynamic.byoa.JdkIssuer.generateP256()

private fun claim(element: JsonElement, names: Placeholders): Any? =
    if (element is JsonPrimitive && element.isString && element.content == "\$fresh") UUID.randomUUID().toString() else argument(element, names)

/**
 * Where [actual] differs from [expected] (empty: it matches). Expected objects need exactly the
 * same keys, arrays the same length; strings are interpolated, then compared, unless a matcher.
 * Descriptions never quote an actual string that could be a token (see [shown]).
 */
fun mismatches(expected: JsonElement, actual: Any?, names: Placeholders, at: String = "$"): List<String> = when (expected) {
    is JsonObject -> objectMismatches(expected, actual, names, at)
    is JsonArray -> arrayMismatches(expected, actual, names, at)
    JsonNull -> if (actual == null) emptyList() else listOf("$at: expected null, got ${shown(actual)}")
    is JsonPrimitive -> primitiveMismatches(expected, actual, names, at)
}

private fun objectMismatches(expected: JsonObject, actual: Any?, names: Placeholders, at: String): List<String> {
    if (actual !is Map<*, *>) return listOf("$at: expected an object, got ${shown(actual)}")
    val keys = actual.keys.map { it.toString() }.toSet()
    if (keys != expected.keys) return listOf("$at: expected keys ${expected.keys.sorted()}, got ${keys.sorted()}")
    return expected.flatMap { (key, value) -> mismatches(value, actual[key], names, "$at.$key") }
}

private fun arrayMismatches(expected: JsonArray, actual: Any?, names: Placeholders, at: String): List<String> {
    if (actual !is List<*>) return listOf("$at: expected an array, got ${shown(actual)}")
    if (actual.size != expected.size) return listOf("$at: expected ${expected.size} elements, got ${actual.size}")
    return expected.indices.flatMap { mismatches(expected[it], actual[it], names, "$at[$it]") }
}

private val UUID_SHAPE = Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

private fun primitiveMismatches(expected: JsonPrimitive, actual: Any?, names: Placeholders, at: String): List<String> {
    val ok = if (expected.isString) {
        val text = expected.content
        when {
            text == "\$any" -> true
            text == "\$string" -> actual is String && actual.isNotEmpty()
            text == "\$uuid" -> actual is String && UUID_SHAPE.matches(actual)
            text == "\$number" -> actual is Number
            text.startsWith("\$prefix:") -> actual is String && actual.startsWith(names.interpolate(text.removePrefix("\$prefix:")))
            else -> actual == names.interpolate(text)
        }
    } else {
        when (val value = plainJson(expected)) {
            is Number -> actual is Number && actual.toDouble() == value.toDouble()
            else -> actual == value
        }
    }
    return if (ok) emptyList() else listOf("$at: expected ${expected}, got ${shown(actual)}")
}

private val TOKEN_SHAPED = Regex("[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}|[A-Za-z0-9_-]{40,}")

/** An actual value for a failure message, with anything token-shaped left out. */
fun shown(actual: Any?): String = when (actual) {
    null -> "null"
    is String -> "\"" + actual.replace(TOKEN_SHAPED, "<redacted>") + "\""
    is Number, is Boolean -> actual.toString()
    is Map<*, *> -> "an object with keys ${actual.keys}"
    is List<*> -> "an array of ${actual.size}"
    else -> "a ${actual.javaClass.simpleName}"
}

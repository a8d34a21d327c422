package xyz.dynamic.byoa

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import xyz.dynamic.byoa.ktx.DynamicByoa
import java.io.File

/** The README's Kotlin is compiled code: its blocks are excerpts of ReadmeQuickStart.kt / ReadmeAndroid.kt. */
class ReadmeTest {
    private val dir = File(System.getProperty("user.dir"))

    private fun excerpt(file: String, marker: String): String {
        val text = File(dir, "src/test/kotlin/xyz/dynamic/byoa/$file").readText()
        return text.substringAfter("// $marker:begin\n").substringBefore("// $marker:end")
    }

    @Test
    fun `the README shows the compiled quick start and Android set-up verbatim`() {
        val readme = File(dir, "README.md").readText()
        for ((file, marker) in listOf("ReadmeQuickStart.kt" to "quickstart", "ReadmeAndroid.kt" to "android")) {
            val code = excerpt(file, marker)
            assertTrue(code.lines().size > 5)
            assertTrue(readme.contains("```kotlin\n$code```"), "README.md does not show $file ($marker) verbatim")
        }
    }

    @Test
    fun `the quick start signs in, observes and signs out against the emulator`() = bounded {
        DynamicByoa.createClient(TestWorld.config()).use { client ->
            val user = TestWorld.newUser()
            val seen = quickStart(client, TestWorld.issuer.mint(user), user, this)
            // A StateFlow is conflated: a collector that starts after the exchange finished
            // sees the signed-in state first, so the initial "signed out (null)" is optional.
            val states = seen.distinct()
            val expected = listOf("signed in as $user", "signed out (USER_INTENT)")
            assertEquals(expected, states.dropWhile { it == "signed out (null)" }, "states seen: $states")
        }
    }
}

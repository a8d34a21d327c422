package xyz.dynamic.byoa

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.launch
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.withTimeout
import okhttp3.OkHttpClient
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import xyz.dynamic.byoa.TestWorld.issuer
import xyz.dynamic.byoa.ktx.DynamicByoa
import xyz.dynamic.byoa.okhttp.OkHttpTransport
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.SocketAddress
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import javax.net.SocketFactory
import kotlin.time.Duration.Companion.seconds

/** What the OkHttp transport adds to the port's contract, each against a real socket. */
class OkHttpBehaviourTest {
    /** Records what the wrapped transport threw, as the client saw it. */
    private class Recording(private val inner: HttpTransport) : HttpTransport {
        val errors = CopyOnWriteArrayList<HttpException>()
        override suspend fun send(request: HttpRequest): HttpResponse = try { inner.send(request) } catch (e: HttpException) { errors.add(e); throw e }
    }

    private fun base(port: Int) = "http://127.0.0.1:$port/api/v0"

    @Test
    fun `a refused connection is HttpError Connect and a network error of kind connect`() = bounded {
        val port = ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { it.localPort } // closed again: nothing listens
        val transport = Recording(OkHttpTransport())
        DynamicByoa.createClient(ClientConfig(environmentId = TestWorld.plainEnv, apiBaseUrl = base(port), requestTimeoutMs = 3000),
            httpTransport = transport).use { client ->
            val user = TestWorld.newUser()
            val error = assertThrows<ByoaException.Network> { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) }
            assertEquals(NetworkErrorKind.CONNECT, error.kind)
            assertTrue(transport.errors.isNotEmpty() && transport.errors.all { it is HttpException.Connect }, "${transport.errors}")
        }
    }

    @Test
    fun `a connection attempt that outlives connect_timeout_ms is HttpError Connect`() = bounded(20.seconds) {
        // A listener whose accept queue is full: further SYNs are dropped, so connecting hangs.
        ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { full ->
            val fillers = List(4) { Socket().apply { try { connect(full.localSocketAddress, 200) } catch (_: Exception) { } } }
            // Every connection the transport makes goes to that listener, whatever the URL says.
            val blackhole = object : SocketFactory() {
                override fun createSocket() = object : Socket() {
                    override fun connect(endpoint: SocketAddress?, timeout: Int) = super.connect(full.localSocketAddress, timeout)
                }
                override fun createSocket(h: String?, p: Int) = throw UnsupportedOperationException()
                override fun createSocket(h: String?, p: Int, l: InetAddress?, lp: Int) = throw UnsupportedOperationException()
                override fun createSocket(h: InetAddress?, p: Int) = throw UnsupportedOperationException()
                override fun createSocket(h: InetAddress?, p: Int, l: InetAddress?, lp: Int) = throw UnsupportedOperationException()
            }
            val transport = Recording(OkHttpTransport(OkHttpClient.Builder().socketFactory(blackhole).build()))
            DynamicByoa.createClient(ClientConfig(environmentId = TestWorld.plainEnv, apiBaseUrl = TestWorld.emulator.baseUrl,
                requestTimeoutMs = 12_000), httpTransport = transport).use { client ->
                val user = TestWorld.newUser()
                val started = System.nanoTime()
                val job = launch { runCatching { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) } }
                withTimeout(10.seconds) { while (transport.errors.isEmpty()) kotlinx.coroutines.delay(20) }
                val elapsedMs = (System.nanoTime() - started) / 1_000_000
                job.cancel()
                assertInstanceOf(HttpException.Connect::class.java, transport.errors.first())
                assertTrue(elapsedMs in 4_000..9_000, "connect gave up after $elapsedMs ms; connect_timeout_ms is 5000")
            }
            fillers.forEach { it.close() }
        }
    }

    @Test
    fun `a redirect is returned as the response, never followed`() = bounded {
        val followed = AtomicInteger()
        val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8).apply {
            createContext("/") { exchange ->
                if (exchange.requestURI.path.startsWith("/elsewhere")) followed.incrementAndGet()
                exchange.responseHeaders.add("Location", "/elsewhere" + exchange.requestURI.path)
                exchange.sendResponseHeaders(302, -1)
                exchange.close()
            }
            start()
        }
        try {
            DynamicByoa.createClient(ClientConfig(environmentId = TestWorld.plainEnv, apiBaseUrl = base(server.address.port)),
                httpTransport = OkHttpTransport()).use { client ->
                val user = TestWorld.newUser()
                val error = assertThrows<ByoaException.InvalidResponse> { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) }
                assertEquals(302, error.status)
                assertEquals(0, followed.get())
            }
        } finally {
            server.stop(0)
        }
    }

    @Test
    fun `cancelling the coroutine of a send cancels the HTTP call`() = bounded {
        ServerSocket(0, 8, InetAddress.getLoopbackAddress()).use { hanging ->
            val closed = LinkedBlockingQueue<Long>()
            val accepted = LinkedBlockingQueue<Unit>()
            Thread {
                hanging.accept().use { socket ->
                    accepted.put(Unit)
                    val start = System.nanoTime()
                    while (socket.getInputStream().read() != -1) { } // reads the request, then waits for the close
                    closed.put((System.nanoTime() - start) / 1_000_000)
                }
            }.apply { isDaemon = true; start() }
            // A request as the client makes it (timeout_ms 20 s), captured by a transport that never answers.
            val captured = CompletableDeferred<HttpRequest>()
            val capturing = object : HttpTransport {
                override suspend fun send(request: HttpRequest): HttpResponse { captured.complete(request); awaitCancellation() }
            }
            DynamicByoa.createClient(ClientConfig(environmentId = TestWorld.plainEnv, apiBaseUrl = base(hanging.localPort),
                requestTimeoutMs = 20_000), httpTransport = capturing).use { client ->
                val user = TestWorld.newUser()
                val signIn = launch { runCatching { client.auth.external.signInWithExternalJwt(params(issuer.mint(user), user)) } }
                val request = captured.await()
                assertTrue(request.timeoutMs() in 15_000..20_000, "timeout_ms ${request.timeoutMs()}")
                val send = launch(Dispatchers.IO) { OkHttpTransport().send(request) }
                runInterruptible(Dispatchers.IO) { accepted.poll(5, TimeUnit.SECONDS) } ?: error("the transport never connected")
                send.cancel()
                val afterMs = runInterruptible(Dispatchers.IO) { closed.poll(5, TimeUnit.SECONDS) } ?: error("the call was not cancelled")
                assertTrue(afterMs < 5_000, "closed after $afterMs ms")
                signIn.cancel()
            }
        }
    }
}

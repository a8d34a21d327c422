package xyz.dynamic.byoa.okhttp

import kotlinx.coroutines.suspendCancellableCoroutine
import okhttp3.Call
import okhttp3.Callback
import okhttp3.Connection
import okhttp3.CookieJar
import okhttp3.EventListener
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import okio.Buffer
import xyz.dynamic.byoa.HttpException
import xyz.dynamic.byoa.HttpHeader
import xyz.dynamic.byoa.HttpMethod
import xyz.dynamic.byoa.HttpRequest
import xyz.dynamic.byoa.HttpResponse
import xyz.dynamic.byoa.HttpTransport
import java.io.IOException
import java.io.InterruptedIOException
import java.net.SocketTimeoutException
import java.util.concurrent.TimeUnit
import javax.net.ssl.SSLException
import kotlin.coroutines.resume
import kotlin.coroutines.resumeWithException

/**
 * [HttpTransport] over OkHttp, the Android standard: it honours the system proxy, the Network
 * Security Config and user-installed CAs. What the port requires is enforced on the client it is
 * given (a copy of it: the app's own client is not changed): no redirects, no retries, no cache,
 * no cookies; each request gets its own `timeout_ms` (OkHttp's call timeout) and
 * `connect_timeout_ms`; a cancelled coroutine cancels the call. A connection attempt that fails
 * or times out is `HttpError.Connect` (the server never saw the request); a timeout after that is
 * `Timeout`, a TLS failure `Tls`, anything else `Other`. Never logs.
 */
class OkHttpTransport @JvmOverloads constructor(base: OkHttpClient = OkHttpClient()) : HttpTransport {
    private val client: OkHttpClient = base.newBuilder()
        .followRedirects(false)
        .followSslRedirects(false)
        .retryOnConnectionFailure(false)
        .cache(null)
        .cookieJar(CookieJar.NO_COOKIES)
        .build()

    override suspend fun send(request: HttpRequest): HttpResponse {
        val body = request.body()
        val builder = Request.Builder().url(request.url())
        for (header in request.headers()) builder.addHeader(header.name, header.value)
        when (request.method()) {
            HttpMethod.GET -> builder.get()
            HttpMethod.POST -> builder.post(body.toRequestBody(null))
        }
        val connection = ConnectionWatch()
        val call = client.newBuilder()
            .callTimeout(request.timeoutMs().coerceAtLeast(1), TimeUnit.MILLISECONDS)
            .connectTimeout(request.connectTimeoutMs().coerceAtLeast(1), TimeUnit.MILLISECONDS)
            .eventListener(connection)
            .build()
            .newCall(builder.build())
        val limit = request.maxResponseBytes()
        return suspendCancellableCoroutine { continuation ->
            continuation.invokeOnCancellation { call.cancel() }
            call.enqueue(object : Callback {
                override fun onFailure(call: Call, e: IOException) {
                    continuation.resumeWithException(classify(e, connection.connected, call.isCanceled()))
                }

                override fun onResponse(call: Call, response: Response) {
                    val result = try {
                        response.use { Result.success(read(it, limit)) }
                    } catch (e: IOException) {
                        Result.failure(classify(e, connected = true, call.isCanceled()))
                    }
                    result.fold(continuation::resume, continuation::resumeWithException)
                }
            })
        }
    }

    override fun toString(): String = "OkHttpTransport"

    private class ConnectionWatch : EventListener() {
        @Volatile var connected = false
        override fun connectionAcquired(call: Call, connection: Connection) {
            connected = true
        }
    }

    private companion object {
        /** The response as received; the body read up to one byte past `limit` (the core refuses it then). */
        fun read(response: Response, limit: Long): HttpResponse {
            val headers = ArrayList<HttpHeader>(response.headers.size)
            for ((name, value) in response.headers) headers.add(HttpHeader(name, value))
            val buffer = Buffer()
            val source = response.body!!.source()
            while (buffer.size <= limit) {
                if (source.read(buffer, 8192) == -1L) break
            }
            return HttpResponse(response.code, headers, buffer.readByteArray(), response.request.url.toString())
        }

        fun classify(e: IOException, connected: Boolean, cancelled: Boolean): HttpException {
            val detail = e.javaClass.simpleName + (e.message?.let { ": $it" } ?: "")
            return when {
                e is SSLException -> HttpException.Tls(detail)
                // The call timeout (InterruptedIOException "timeout") also cancels the call.
                e is InterruptedIOException && e !is SocketTimeoutException && e.message == "timeout" ->
                    HttpException.Timeout(detail)
                cancelled -> HttpException.Cancelled(detail)
                !connected -> HttpException.Connect(detail)
                e is InterruptedIOException -> HttpException.Timeout(detail)
                else -> HttpException.Other(detail)
            }
        }
    }
}

//! The library's own tokio runtime.
//!
//! Exported async methods spawn their work here and await the join handle, so (a) reqwest always
//! finds a reactor, whatever executor polls the foreign future (Kotlin coroutines, Swift tasks,
//! the RN bridge), and (b) a caller that cancels its coroutine or task only stops *waiting*: the
//! exchange itself runs to completion and its session is kept, never left half-done.

use std::future::Future;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // One worker is plenty for a handful of HTTPS calls and keeps the footprint small.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dynamic-byoa")
            .enable_all()
            .build()
            .expect("the OS refused to start the dynamic-byoa runtime thread")
    })
}

/// Starts `work` on the library runtime and returns its handle: the exported methods await it
/// (`crate::api`), so a cancelled foreign call only stops waiting.
pub(crate) fn spawn_joined<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(work)
}

/// Starts `work` on the library runtime without waiting for it (background refresh, revokes).
pub(crate) fn spawn<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(runtime().spawn(work));
}

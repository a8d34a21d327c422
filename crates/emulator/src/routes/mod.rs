//! The HTTP surface: `{base}/sdk/{environmentId}/<route>` for every route of contract §7.
//!
//! Each route is wrapped by [`guard`], which counts the request, serves an injected fault if one
//! is queued, and resolves the environment (404 when unknown) before the handler runs. CORS is a
//! layer around everything.

mod cors;
mod public;
mod reply;
mod session;
mod signin;
mod step_up;

use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use dynamic_byoa_contract::paths;

use crate::connection::ConnectionHandle;
use crate::server::Shared;

/// The routes under `base_path` ("" for the root).
pub(crate) fn router(shared: Arc<Shared>, base_path: &str) -> Router {
    let shared_for_date = shared.clone();
    let sdk = [
        (paths::EXTERNAL_AUTH_SIGNIN, post(signin::signin)),
        (paths::EXTERNAL_AUTH_VERIFY, post(step_up::verify)),
        (paths::REFRESH, post(session::refresh)),
        (paths::REVOKE, post(session::revoke)),
        (paths::SESSION, get(session::check)),
        (paths::USERS, get(session::current_user)),
        (paths::SETTINGS, get(public::settings)),
        (paths::JWKS, get(public::jwks)),
        (paths::JWKS_JSON, get(public::jwks)),
        (paths::NONCE, get(public::nonce)),
        (paths::NONCES, get(public::nonces)),
    ]
    .into_iter()
    .fold(Router::new(), |router, (route, handler)| {
        router.route(
            &format!("/sdk/{{env}}/{route}"),
            guarded(shared.clone(), route, handler),
        )
    })
    .with_state(shared);
    let app = if base_path.is_empty() {
        sdk
    } else {
        Router::new().nest(base_path, sdk)
    };
    app.fallback(|| async { reply::not_found("Not found") })
        .layer(middleware::from_fn(cors::cors))
        .layer(middleware::from_fn_with_state(shared_for_date, stamp_date))
}

/// Sends the emulator's own time as `Date` (hyper would send the host's): clients calibrate
/// their clocks from it, so it must follow `Emulator::advance_time`.
async fn stamp_date(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    // See `Emulator::pause_time`: no clock moves between the arrival and the stamp.
    let _gate = shared.time_gate.clone().read_owned().await;
    let mut response = next.run(request).await;
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(shared.now().max(0) as u64);
    if let Ok(value) = axum::http::HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// The route a request reached, for [`guard`].
#[derive(Clone)]
struct RouteTag {
    shared: Arc<Shared>,
    route: &'static str,
}

fn guarded(
    shared: Arc<Shared>,
    route: &'static str,
    handler: MethodRouter<Arc<Shared>>,
) -> MethodRouter<Arc<Shared>> {
    handler.route_layer(middleware::from_fn_with_state(
        RouteTag { shared, route },
        guard,
    ))
}

/// The device proof of a sign-in or refresh (`crate::device`), or why it is refused. `bound`
/// is the device key the session was signed in with.
fn check_device(
    shared: &Shared,
    env: &crate::config::EnvironmentConfig,
    headers: &axum::http::HeaderMap,
    bound: Option<&str>,
) -> Result<Option<String>, dynamic_byoa_contract::DeviceSignatureRejection> {
    let now = shared.now();
    let mut state = shared.state();
    let env_state = state
        .env_mut(&env.environment_id)
        .expect("configured environment has state");
    crate::device::check(
        headers,
        env.require_device_signature,
        &mut env_state.nonces,
        now,
        bound,
    )
}

/// Counts the request, waits while the route is held, then either serves the next injected
/// fault for the route or hands the request, with its environment attached, to the handler.
async fn guard(
    State(tag): State<RouteTag>,
    Path(environment_id): Path<String>,
    mut request: Request,
    next: Next,
) -> Response {
    let (fault, hold) = {
        let mut state = tag.shared.state();
        state.count_request(&environment_id, tag.route, tag.shared.now());
        (state.next_fault(tag.route), state.hold(tag.route))
    };
    if let Some(mut released) = hold {
        // A dropped `Hold` counts as released.
        let _ = released.wait_for(|released| *released).await;
    }
    if let Some(fault) = fault {
        if fault.drop_connection
            && let Some(ConnectInfo(connection)) =
                request.extensions().get::<ConnectInfo<ConnectionHandle>>()
        {
            connection.kill();
        }
        return fault.into_response();
    }
    let Some(environment) = tag.shared.environments.get(&environment_id).cloned() else {
        return reply::environment_not_found();
    };
    request.extensions_mut().insert(environment);
    next.run(request).await.into_response()
}

//! Checking the auth token of HELLO (Bolt < 5.1) or LOGON.
//!
//! While no user exists, the `none` and `basic` schemes (with any credentials, including the empty
//! ones GQLAlchemy sends) are let in, as in Memgraph; a missing scheme counts as `none`. Once users
//! exist, `basic` with a valid user and password is required. A failure is answered only after a
//! delay that grows with recent failures from the same address. Credentials are never logged.

use std::net::IpAddr;
use std::sync::Arc;

use crate::auth::Auth;
use crate::value::{Map, Value};

/// Who logged in: a user name, or `None` for an anonymous login.
pub type LoggedIn = Option<String>;

/// A refused login, with what may be logged about it.
#[derive(Debug)]
pub struct LoginRefused {
    pub user: String,
    pub scheme: String,
}

/// Checks `token`; on failure, waits out the delay for `peer` before answering.
pub async fn check(auth: &Arc<Auth>, token: &Map, peer: IpAddr) -> Result<LoggedIn, LoginRefused> {
    let text = |key: &str| match token.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let scheme = match token.get("scheme") {
        None | Some(Value::Null) => "none".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => String::new(),
    };
    let principal = text("principal");
    let accepted = if !auth.enabled() {
        scheme == "none" || scheme == "basic"
    } else if scheme == "basic" {
        let (user, password) = (principal.clone(), text("credentials"));
        let checker = Arc::clone(auth);
        // Argon2 is slow by design: keep it off the async workers.
        tokio::task::spawn_blocking(move || checker.verify(&user, &password))
            .await
            .unwrap_or(false)
    } else {
        false
    };
    if accepted {
        auth.login_succeeded(peer);
        return Ok((scheme == "basic").then_some(principal));
    }
    tokio::time::sleep(auth.failure_delay(peer)).await;
    Err(LoginRefused {
        user: principal,
        scheme,
    })
}

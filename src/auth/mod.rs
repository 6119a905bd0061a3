//! Users, roles and privileges, persisted in the data directory.
//!
//! As in Memgraph, while no user exists every connection is let in and nothing is checked; once
//! one exists, clients must authenticate with `basic` and each statement needs its privilege.
//! Passwords are kept only as salted Argon2id hashes (PHC strings), never logged or returned.
//!
//! Every change is written before it is acknowledged: the whole state goes to a temporary file
//! (mode 0600), is fsynced, renamed over `auth.json`, and the directory is fsynced, so a crash at
//! any moment leaves either the old or the new file, never a torn one. Changes are serialised by a
//! std mutex that is never held across an await; hashing happens outside it.

use crate::cypher::auth as statements;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// Privileges, with Memgraph's names (the vocabulary of GRANT, owned by the statement front end).
pub use crate::cypher::auth::PRIVILEGES;

/// Memgraph's refusal text for a missing privilege (database "memgraph").
pub const NOT_AUTHORIZED: &str = "You are not authorized to execute this query on database \"memgraph\"! Please contact your database administrator. This issue comes from the user having not enough role-based access privileges to execute this query. If you want this issue to be resolved, ask your database administrator to grant you a specific privilege for query execution.";

/// An auth operation that failed; the text is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, AuthError> {
    Err(AuthError(msg.into()))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Grants {
    granted: BTreeSet<String>,
    denied: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct User {
    /// Argon2id PHC string; None for a user created without a password.
    password_hash: Option<String>,
    role: Option<String>,
    grants: Grants,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct State {
    version: u32,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Grants>,
}

/// The auth state and where it lives.
pub struct Auth {
    path: PathBuf,
    state: Mutex<State>,
    /// Recent failed logins per address, for slowing down guessing.
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// A privilege decision: whether the user may, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// None when no users exist (everything allowed).
    pub user: Option<String>,
}

impl Auth {
    /// Loads `auth.json` from `dir` (creating the directory), or starts empty.
    pub fn open(dir: &Path) -> Result<Auth, String> {
        fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the data directory {} (--data-directory): {e}",
                dir.display()
            )
        })?;
        let path = dir.join("auth.json");
        let state = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{} is not a valid auth file: {e}; restore it from a backup",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                version: 1,
                ..State::default()
            },
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Auth {
            path,
            state: Mutex::new(state),
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed (changes are built
        // on a copy and swapped in after the write), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether any user exists; while none does, everyone is let in.
    pub fn enabled(&self) -> bool {
        !self.lock().users.is_empty()
    }

    /// Checks a user's password (slow by design; call from a blocking context).
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let hash = match self.lock().users.get(user) {
            Some(u) => u.password_hash.clone(),
            None => {
                // Spend the same time as for a real user, so timing does not reveal who exists.
                let _ = hash_password("decoy");
                return false;
            }
        };
        match hash {
            None => password.is_empty(),
            Some(h) => PasswordHash::new(&h)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false),
        }
    }

    /// How long to wait before answering a failed login from `addr`: doubling from 100 ms per
    /// recent failure, capped at 5 s; failures older than 5 minutes are forgotten.
    pub fn failure_delay(&self, addr: IpAddr) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(300));
        let entry = failures.entry(addr).or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = Instant::now();
        Duration::from_millis(100u64.saturating_mul(1 << entry.0.min(6)))
            .min(Duration::from_secs(5))
    }

    pub fn login_succeeded(&self, addr: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&addr);
    }

    /// Whether `principal` holds `privilege` (user grants and role grants; a deny anywhere wins).
    pub fn allowed(&self, principal: &Principal, privilege: &str) -> bool {
        let state = self.lock();
        if state.users.is_empty() {
            return true;
        }
        let Some(name) = &principal.user else {
            return false;
        };
        let Some(user) = state.users.get(name) else {
            return false;
        };
        let role = user.role.as_ref().and_then(|r| state.roles.get(r));
        let denied = user.grants.denied.contains(privilege)
            || role.is_some_and(|r| r.denied.contains(privilege));
        let granted = user.grants.granted.contains(privilege)
            || role.is_some_and(|r| r.granted.contains(privilege));
        granted && !denied
    }

    /// Applies a change to a copy of the state, writes it durably, then publishes it.
    fn change(&self, f: impl FnOnce(&mut State) -> Result<(), AuthError>) -> Result<(), AuthError> {
        let mut state = self.lock();
        let mut next = state.clone();
        f(&mut next)?;
        write_atomically(&self.path, &next)
            .map_err(|e| AuthError(format!("cannot save {}: {e}", self.path.display())))?;
        *state = next;
        Ok(())
    }

    pub fn create_user(
        &self,
        name: &str,
        password: Option<&str>,
        all_privileges: bool,
    ) -> Result<(), AuthError> {
        let hash = password.map(hash_password).transpose()?;
        self.change(|s| {
            if s.users.contains_key(name) {
                return err(format!("User '{name}' already exists."));
            }
            let mut grants = Grants::default();
            // The first user gets every privilege: creating it switches access control on, and
            // it must not lock its creator out.
            if all_privileges || s.users.is_empty() {
                grants.granted = PRIVILEGES.iter().map(|(p, _)| p.to_string()).collect();
            }
            s.users.insert(
                name.to_owned(),
                User {
                    password_hash: hash,
                    role: None,
                    grants,
                },
            );
            Ok(())
        })
    }

    pub fn set_password(&self, name: &str, password: Option<&str>) -> Result<(), AuthError> {
        let hash = password.map(hash_password).transpose()?;
        self.change(|s| match s.users.get_mut(name) {
            Some(u) => {
                u.password_hash = hash;
                Ok(())
            }
            None => err(format!("User '{name}' doesn't exist.")),
        })
    }

    pub fn drop_user(&self, name: &str) -> Result<(), AuthError> {
        self.change(|s| match s.users.remove(name) {
            Some(_) => Ok(()),
            None => err(format!("User '{name}' doesn't exist.")),
        })
    }

    pub fn create_role(&self, name: &str) -> Result<(), AuthError> {
        self.change(|s| {
            if s.roles.contains_key(name) {
                return err(format!("Role '{name}' already exists."));
            }
            s.roles.insert(name.to_owned(), Grants::default());
            Ok(())
        })
    }

    pub fn drop_role(&self, name: &str) -> Result<(), AuthError> {
        self.change(|s| {
            if s.roles.remove(name).is_none() {
                return err(format!("Role '{name}' doesn't exist."));
            }
            for user in s.users.values_mut() {
                if user.role.as_deref() == Some(name) {
                    user.role = None;
                }
            }
            Ok(())
        })
    }

    pub fn set_role(&self, user: &str, role: Option<&str>) -> Result<(), AuthError> {
        self.change(|s| {
            if let Some(r) = role {
                if !s.roles.contains_key(r) {
                    return err(format!("Role '{r}' doesn't exist."));
                }
            }
            match s.users.get_mut(user) {
                Some(u) => {
                    u.role = role.map(str::to_owned);
                    Ok(())
                }
                None => err(format!("User '{user}' doesn't exist.")),
            }
        })
    }

    /// GRANT, DENY or REVOKE `privileges` for a user or role named `name`.
    pub fn edit_privileges(
        &self,
        action: statements::GrantAction,
        privileges: &[String],
        name: &str,
    ) -> Result<(), AuthError> {
        for p in privileges {
            if !PRIVILEGES.iter().any(|(known, _)| known == p) {
                return err(format!("Unknown privilege '{p}'."));
            }
        }
        self.change(|s| {
            let grants = if let Some(u) = s.users.get_mut(name) {
                &mut u.grants
            } else if let Some(r) = s.roles.get_mut(name) {
                r
            } else {
                return err(format!("User or role '{name}' doesn't exist."));
            };
            for p in privileges {
                match action {
                    statements::GrantAction::Grant => {
                        grants.denied.remove(p);
                        grants.granted.insert(p.clone());
                    }
                    statements::GrantAction::Deny => {
                        grants.granted.remove(p);
                        grants.denied.insert(p.clone());
                    }
                    statements::GrantAction::Revoke => {
                        grants.granted.remove(p);
                        grants.denied.remove(p);
                    }
                }
            }
            Ok(())
        })
    }

    pub fn users(&self) -> Vec<String> {
        self.lock().users.keys().cloned().collect()
    }

    pub fn roles(&self) -> Vec<String> {
        self.lock().roles.keys().cloned().collect()
    }

    /// Rows of (privilege, effective, description) for a user or role.
    pub fn privileges_of(&self, name: &str) -> Result<Vec<(String, String, String)>, AuthError> {
        let state = self.lock();
        let (own, role) = if let Some(u) = state.users.get(name) {
            (&u.grants, u.role.as_ref().and_then(|r| state.roles.get(r)))
        } else if let Some(r) = state.roles.get(name) {
            (r, None)
        } else {
            return err(format!("User or role '{name}' doesn't exist."));
        };
        let mut rows = Vec::new();
        for (p, _) in PRIVILEGES {
            let p = p.to_string();
            let (effective, description) = if own.denied.contains(&p) {
                ("DENY", "DENIED TO USER/ROLE")
            } else if role.is_some_and(|r| r.denied.contains(&p)) {
                ("DENY", "DENIED TO ROLE")
            } else if own.granted.contains(&p) {
                ("GRANT", "GRANTED TO USER/ROLE")
            } else if role.is_some_and(|r| r.granted.contains(&p)) {
                ("GRANT", "GRANTED TO ROLE")
            } else {
                continue;
            };
            rows.push((p, effective.to_owned(), description.to_owned()));
        }
        Ok(rows)
    }
}

fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError(format!("cannot hash the password: {e}")))
}

/// temp file (0600) + fsync + rename + directory fsync.
fn write_atomically(path: &Path, state: &State) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Creates the initial user from the environment at first start, as Memgraph does:
/// `MEMGRAPH_USER` with `MEMGRAPH_PASSWORD` or `MEMGRAPH_PASSFILE`, or `BOLTD_USER` with
/// `BOLTD_PASSWORD`. Returns the user created, if any.
pub fn bootstrap_from_env(auth: &Auth) -> Result<Option<String>, String> {
    if auth.enabled() {
        return Ok(None);
    }
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(user) = var("MEMGRAPH_USER").or_else(|| var("BOLTD_USER")) else {
        return Ok(None);
    };
    let password = match var("MEMGRAPH_PASSWORD").or_else(|| var("BOLTD_PASSWORD")) {
        Some(p) => p,
        None => match var("MEMGRAPH_PASSFILE") {
            Some(file) => fs::read_to_string(&file)
                .map_err(|e| format!("cannot read MEMGRAPH_PASSFILE {file}: {e}"))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => {
                return Err(format!(
                    "MEMGRAPH_USER/BOLTD_USER is {user:?} but no password is set: set \
                     MEMGRAPH_PASSWORD, MEMGRAPH_PASSFILE or BOLTD_PASSWORD"
                ))
            }
        },
    };
    auth.create_user(&user, Some(&password), true)
        .map_err(|e| e.to_string())?;
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use statements::GrantAction;

    #[test]
    fn users_roles_and_denies() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path()).unwrap();
        let anyone = Principal { user: None };
        assert!(
            auth.allowed(&anyone, "RELOAD_TLS"),
            "no users: everything allowed"
        );
        auth.create_user("admin", Some("pw"), false).unwrap();
        let admin = Principal {
            user: Some("admin".into()),
        };
        assert!(
            auth.allowed(&admin, "AUTH"),
            "the first user gets every privilege"
        );
        assert!(
            !auth.allowed(&anyone, "AUTH"),
            "anonymous sessions lose theirs"
        );
        auth.create_user("bob", Some("secret"), false).unwrap();
        assert!(auth.verify("bob", "secret"));
        assert!(!auth.verify("bob", "nope"));
        assert!(!auth.verify("nobody", "secret"));
        let bob = Principal {
            user: Some("bob".into()),
        };
        assert!(!auth.allowed(&bob, "RELOAD_TLS"));
        auth.create_role("ops").unwrap();
        auth.edit_privileges(GrantAction::Grant, &["RELOAD_TLS".into()], "ops")
            .unwrap();
        auth.set_role("bob", Some("ops")).unwrap();
        assert!(auth.allowed(&bob, "RELOAD_TLS"));
        auth.edit_privileges(GrantAction::Deny, &["RELOAD_TLS".into()], "bob")
            .unwrap();
        assert!(
            !auth.allowed(&bob, "RELOAD_TLS"),
            "a user deny beats a role grant"
        );
        assert!(auth
            .edit_privileges(GrantAction::Grant, &["FLY".into()], "bob")
            .is_err());

        // Everything survives a reopen, and the file is private.
        let again = Auth::open(dir.path()).unwrap();
        assert_eq!(again.users(), vec!["admin", "bob"]);
        assert!(!again.allowed(&bob, "RELOAD_TLS"));
        assert!(again.verify("bob", "secret"));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("auth.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = fs::read_to_string(dir.path().join("auth.json")).unwrap();
        assert!(!text.contains("secret"), "only hashes are stored");
    }

    #[test]
    fn failure_delays_grow_and_reset() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path()).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let a = auth.failure_delay(ip);
        let b = auth.failure_delay(ip);
        assert!(b > a);
        auth.login_succeeded(ip);
        assert_eq!(auth.failure_delay(ip), a);
    }
}

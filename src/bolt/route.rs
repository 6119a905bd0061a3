//! The answer to ROUTE: the routing table of a one-server "cluster".
//!
//! neo4j:// (and neo4j+s://, neo4j+ssc://) clients ask a router which servers take writes, which
//! take reads and which answer further ROUTE requests, then connect to those addresses. boltd is
//! all three, so the table names one address in every role: the `--bolt-advertised-address` when
//! it is set (behind NAT, a proxy or in a container the address the server sees is not the one
//! clients can reach), otherwise the address this client connected to. That is the connection's
//! local address, never the wildcard the listener was bound to (0.0.0.0 or ::), because a client
//! told to connect to 0.0.0.0 would reach nothing on another machine.

use std::net::SocketAddr;

use crate::admin::Failure;
use crate::value::{Map, Value};

use super::target::{Refusal, Target};

/// How long a client may keep the table, in seconds (Memgraph's value). One server's table only
/// changes when its advertised address does, which takes a restart; drivers refresh it after
/// this long, or at once when a connection to the named address fails.
pub const TTL_SECONDS: i64 = 300;

/// The roles every table names this server in, in the order Neo4j servers list them.
const ROLES: [&str; 3] = ["WRITE", "READ", "ROUTE"];

/// ROUTE's `rt` for `target`, naming `advertised` (when configured) or `local`; or the FAILURE
/// for a target boltd cannot serve.
pub fn routing_table(
    target: &Target,
    advertised: Option<&str>,
    local: SocketAddr,
) -> Result<Value, Failure> {
    let db = target.check().map_err(discovery_failure)?;
    let address = advertised.map_or_else(|| address_of(local), str::to_owned);
    let servers = ROLES
        .iter()
        .map(|role| {
            Value::Map(Map::from([
                (
                    "addresses".to_owned(),
                    Value::List(vec![Value::String(address.clone())]),
                ),
                ("role".to_owned(), Value::String((*role).to_owned())),
            ]))
        })
        .collect();
    Ok(Value::Map(Map::from([
        ("ttl".to_owned(), Value::Int(TTL_SECONDS)),
        ("db".to_owned(), Value::String(db.to_owned())),
        ("servers".to_owned(), Value::List(servers)),
    ])))
}

/// `local` as a client dials it: `HOST:PORT`, an IPv6 host in brackets (`[::1]:7687`). An IPv4
/// client reaching a dual-stack listener shows up as `::ffff:a.b.c.d`; it is named by its IPv4
/// address, which is what that client can connect to.
pub fn address_of(local: SocketAddr) -> String {
    match local {
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped().is_some() => {
            SocketAddr::new(v6.ip().to_canonical(), v6.port()).to_string()
        }
        other => other.to_string(),
    }
}

/// The FAILURE for a ROUTE whose target is refused: the same text as for BEGIN and RUN, under the
/// Neo4j code the drivers know for it.
///
/// The neo4j drivers end routing discovery and report the server's message only for a few codes
/// (`Neo.ClientError.Database.DatabaseNotFound`, `Neo.ClientError.Statement.ArgumentError`, ...).
/// Under any other code, Memgraph's included, they take the router for broken, report "Unable to
/// retrieve routing information" without the message, and managed transactions retry that for
/// 30 seconds. Both codes are client errors, as Memgraph's code for these refusals is.
fn discovery_failure(refusal: Refusal) -> Failure {
    let code = match refusal {
        Refusal::UnknownDatabase(_) => "Neo.ClientError.Database.DatabaseNotFound",
        Refusal::Impersonation(_) => "Neo.ClientError.Statement.ArgumentError",
    };
    Failure {
        code: code.to_owned(),
        message: refusal.message(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(rt: &Value) -> Vec<(String, String)> {
        let Value::Map(rt) = rt else { panic!("{rt:?}") };
        let Some(Value::List(servers)) = rt.get("servers") else {
            panic!("{rt:?}")
        };
        servers
            .iter()
            .map(|s| {
                let Value::Map(s) = s else { panic!("{s:?}") };
                let (Some(Value::List(a)), Some(Value::String(role))) =
                    (s.get("addresses"), s.get("role"))
                else {
                    panic!("{s:?}")
                };
                assert_eq!(a.len(), 1, "{s:?}");
                let Value::String(a) = &a[0] else {
                    panic!("{s:?}")
                };
                (role.clone(), a.clone())
            })
            .collect()
    }

    #[test]
    fn one_address_in_every_role() {
        let local = "127.0.0.1:7687".parse().unwrap();
        let rt = routing_table(&Target::default(), None, local).unwrap();
        let Value::Map(m) = &rt else { panic!() };
        assert_eq!(m.get("ttl"), Some(&Value::Int(300)));
        assert_eq!(m.get("db"), Some(&Value::String("memgraph".into())));
        let want = |a: &str| {
            ["WRITE", "READ", "ROUTE"]
                .map(|r| (r.to_owned(), a.to_owned()))
                .to_vec()
        };
        assert_eq!(addresses(&rt), want("127.0.0.1:7687"));
        let rt = routing_table(&Target::default(), Some("db.example.com:7000"), local).unwrap();
        assert_eq!(addresses(&rt), want("db.example.com:7000"));
    }

    #[test]
    fn ipv6_is_bracketed_and_mapped_ipv4_is_plain() {
        assert_eq!(address_of("[::1]:7687".parse().unwrap()), "[::1]:7687");
        assert_eq!(
            address_of("[::ffff:10.0.0.5]:7687".parse().unwrap()),
            "10.0.0.5:7687"
        );
        assert_eq!(
            address_of("10.0.0.5:17687".parse().unwrap()),
            "10.0.0.5:17687"
        );
    }

    #[test]
    fn refusals_use_the_codes_that_end_discovery() {
        let local = "127.0.0.1:7687".parse().unwrap();
        let other = Target {
            db: Some("other".into()),
            imp_user: None,
        };
        let failure = routing_table(&other, None, local).unwrap_err();
        assert_eq!(failure.code, "Neo.ClientError.Database.DatabaseNotFound");
        assert!(failure
            .message
            .starts_with("Tried to retrieve an unknown database \"other\"."));
        let impersonate = Target {
            db: None,
            imp_user: Some("alice".into()),
        };
        let failure = routing_table(&impersonate, None, local).unwrap_err();
        assert_eq!(failure.code, "Neo.ClientError.Statement.ArgumentError");
    }
}

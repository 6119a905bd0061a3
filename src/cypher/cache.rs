//! Parsed queries, kept by their text.
//!
//! Clients send the same parameterised texts over and over (a driver's `MATCH (p:Person {id:
//! $id}) RETURN p.name` for every lookup). Lexing and parsing one took a quarter of the server's
//! instructions for an indexed lookup (callgrind: about 19,500 of 77,000). So queries are parsed
//! once per text, and every request with that text shares the parsed query ([`Statement::Query`]
//! holds it in an `Arc`; nothing downstream changes a query). Copying it per request cost another
//! 4,600 instructions, 10% of a lookup, before it was shared.
//!
//! Bounded twice, so that no client can make it grow: at most [`ENTRIES`] texts, least recently
//! used first out, and only texts of at most [`LONGEST`] bytes (a long text is usually a one-off,
//! such as a literal list). Only queries are kept: user statements carry passwords, and the other
//! statements are rare. A text that fails to parse is parsed again each time, so its error is
//! always the parser's own.
//!
//! Texts are hashed with foldhash, seeded at random per process, not std's SipHash: SipHash was
//! about 270 instructions of every lookup here. foldhash is not built to resist chosen
//! collisions as SipHash is, but the seed is unknown to clients and the map never holds more
//! than [`ENTRIES`] texts, so even colliding texts cost at most that many comparisons.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use lru::LruCache;

use super::ast::Statement;
use super::SyntaxError;

/// How many texts are kept.
const ENTRIES: usize = 512;
/// The longest text kept, in bytes.
const LONGEST: usize = 2048;

/// Text → parsed query. Taking one out under the lock is a reference count increment.
type Cache = Mutex<LruCache<Arc<str>, Statement, foldhash::fast::RandomState>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(LruCache::with_hasher(
            NonZeroUsize::new(ENTRIES).unwrap_or(NonZeroUsize::MIN),
            foldhash::fast::RandomState::default(),
        ))
    })
}

/// [`super::parse`], from the cache when `text` was parsed before.
pub fn parse(text: &str) -> Result<Statement, SyntaxError> {
    if text.len() > LONGEST {
        return super::parse_text(text);
    }
    // A poisoned lock only means a panic elsewhere while it was held; the map is still whole.
    let kept = cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(text)
        .cloned();
    if let Some(statement) = kept {
        return Ok(statement);
    }
    let statement = super::parse_text(text)?;
    if matches!(statement, Statement::Query(_)) {
        cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(Arc::from(text), statement.clone());
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> bool {
        cache()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(text)
    }

    #[test]
    fn a_query_is_parsed_once_and_shared_after() {
        let text = "MATCH (n:CacheTestA {id: $id}) RETURN n.name AS name";
        let first = parse(text).unwrap();
        assert!(kept(text));
        let (Statement::Query(a), Statement::Query(b)) = (&first, &parse(text).unwrap()) else {
            panic!("not a query: {first:?}");
        };
        assert!(
            Arc::ptr_eq(a, b),
            "the second request parsed or copied the query"
        );
        assert_eq!(first, super::super::parse_text(text).unwrap());
    }

    #[test]
    fn user_statements_long_texts_and_errors_are_not_kept() {
        let secret = "CREATE USER cache_test IDENTIFIED BY 'cache-test-secret'";
        assert!(matches!(parse(secret), Ok(Statement::Auth(_))));
        assert!(!kept(secret), "a password stays out of the cache");
        let long = format!("RETURN '{}' AS cache_test_long", "x".repeat(LONGEST));
        assert!(parse(&long).is_ok());
        assert!(!kept(&long));
        let bad = "MATCH (n:CacheTestB RETURN n";
        let e = parse(bad).unwrap_err();
        assert!(!kept(bad));
        assert_eq!(
            parse(bad).unwrap_err(),
            e,
            "the parser's own error each time"
        );
    }

    #[test]
    fn it_holds_at_most_its_entries() {
        for i in 0..ENTRIES + 50 {
            parse(&format!("RETURN {i} AS cache_test_bound")).unwrap();
        }
        let len = cache().lock().unwrap_or_else(|p| p.into_inner()).len();
        assert!(len <= ENTRIES, "{len} entries");
        // The newest are kept, the oldest gone.
        assert!(kept(&format!(
            "RETURN {} AS cache_test_bound",
            ENTRIES + 49
        )));
        assert!(!kept("RETURN 0 AS cache_test_bound"));
    }
}

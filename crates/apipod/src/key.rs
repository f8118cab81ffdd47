//! Idempotency keys: `apipod-rs-<UUIDv7>`, made without a system call per key.
//!
//! A UUIDv7 is a millisecond timestamp and 74 random bits. `uuid::Uuid::now_v7` asks the
//! operating system for those bits on every call (one `getrandom` system call, about 0.4 µs
//! on a VM, more than the rest of a create's key handling together). Here each thread keeps
//! a small pool of operating-system randomness and refills it once every
//! [`KEYS_PER_REFILL`] keys, so the bits are exactly as unpredictable and the system call
//! is paid once per 25 creates.
//!
//! Uniqueness is what matters for an idempotency key (two creates sharing one would make
//! APIPod treat the second as a replay of the first); 74 bits from the OS per key, within
//! one millisecond, make a collision as unlikely as with `now_v7`. Like `rand`'s
//! `ThreadRng`, the pool is per thread and is not refilled on `fork`: a process that forks
//! without `exec` and creates tasks in both halves within the same millisecond could draw
//! the same bits. Should the OS fail to provide randomness at all, the bits come from
//! `fastrand` (seeded per thread) instead of failing the submit.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Random bytes per key (UUIDv7's `rand_a` and `rand_b` take 74 of these 80 bits).
const BYTES_PER_KEY: usize = 10;
/// Keys served by one refill of a thread's pool.
const KEYS_PER_REFILL: usize = 25;
/// The pool's size.
const POOL_BYTES: usize = BYTES_PER_KEY * KEYS_PER_REFILL;
/// What every generated key starts with.
const PREFIX: &str = "apipod-rs-";

/// A thread's unused operating-system randomness.
struct Pool {
    bytes: [u8; POOL_BYTES],
    /// How many of `bytes` have been handed out (`POOL_BYTES`: empty).
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            bytes: [0; POOL_BYTES],
            used: POOL_BYTES,
        })
    };
}

/// Ten random bytes for one key, from this thread's pool.
fn random_bytes() -> [u8; BYTES_PER_KEY] {
    let mut out = [0u8; BYTES_PER_KEY];
    let served = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.used + BYTES_PER_KEY > POOL_BYTES {
            if getrandom::fill(&mut pool.bytes).is_err() {
                return false;
            }
            pool.used = 0;
        }
        let at = pool.used;
        out.copy_from_slice(&pool.bytes[at..at + BYTES_PER_KEY]);
        // Handed-out bytes are cleared, so no later reader of the pool can see a key's bits.
        pool.bytes[at..at + BYTES_PER_KEY].fill(0);
        pool.used += BYTES_PER_KEY;
        true
    });
    if !matches!(served, Ok(true)) {
        // No OS randomness (or this thread is being torn down): still a unique key.
        fastrand::fill(&mut out);
    }
    out
}

/// A fresh idempotency key, `apipod-rs-` and a lowercase hyphenated UUIDv7 (46 characters).
pub(crate) fn new_key() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random_bytes()).into_uuid();
    let mut key = String::with_capacity(PREFIX.len() + uuid::fmt::Hyphenated::LENGTH);
    key.push_str(PREFIX);
    key.push_str(
        uuid.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    key
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn keys_are_prefixed_version_7_uuids_with_the_current_time() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let key = new_key();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert_eq!(key.len(), 46, "{key}");
        let uuid = uuid::Uuid::parse_str(key.strip_prefix(PREFIX).expect("prefix")).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = uuid.get_timestamp().expect("v7 has a timestamp").to_unix();
        let millis = secs * 1000 + u64::from(nanos) / 1_000_000;
        assert!(
            (before..=after).contains(&millis),
            "{before} <= {millis} <= {after}"
        );
        assert_eq!(key, key.to_lowercase());
    }

    #[test]
    fn keys_are_unique_across_refills_and_threads() {
        // Many refills per thread, several threads drawing at once, all in a few ms, so
        // uniqueness rests on the random bits, not on the timestamp.
        let per_thread = KEYS_PER_REFILL * 400 + 3;
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(move || (0..per_thread).map(|_| new_key()).collect()))
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            let keys: Vec<String> = t.join().unwrap();
            for k in keys {
                assert!(seen.insert(k.clone()), "duplicate key {k}");
            }
        }
        assert_eq!(seen.len(), 4 * per_thread);
    }

    #[test]
    fn the_pool_hands_out_each_byte_once_and_clears_it() {
        let first = random_bytes();
        POOL.with(|pool| {
            let pool = pool.borrow();
            assert_eq!(pool.used % BYTES_PER_KEY, 0);
            assert!(pool.bytes[..pool.used].iter().all(|b| *b == 0));
        });
        // Ten bytes of OS randomness are all zero with probability 2^-80.
        assert_ne!(first, [0; BYTES_PER_KEY]);
        let draws: HashSet<_> = (0..3 * KEYS_PER_REFILL).map(|_| random_bytes()).collect();
        assert_eq!(draws.len(), 3 * KEYS_PER_REFILL);
    }
}

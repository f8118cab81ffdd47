//! Locking that never panics: a mutex poisoned by a panic elsewhere still holds consistent
//! data for every structure in this crate (each update is a single assignment or insert),
//! so the guard is taken back instead of propagating the panic into library callers.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, recovering the guard of a poisoned mutex.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_poisoned_mutex_is_still_usable() {
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _guard = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }
}

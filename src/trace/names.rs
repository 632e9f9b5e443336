//! Hop names: reverse lookups (PTR or /etc/hosts, through the system resolver) started as soon as an address
//! first answers, each on a thread of its own so a slow resolver never delays a round, as mtr resolves in the
//! background. Bounded: at most [`MAX_NAMES`] lookups per trace, and the report waits for stragglers only
//! until a deadline.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// Lookups started per trace at most (a dublin trace over a wide ECMP mesh sees many routers).
pub const MAX_NAMES: usize = 256;

#[derive(Default)]
struct State {
    /// None while the lookup runs; Some(None) when the address has no name.
    names: HashMap<IpAddr, Option<Option<String>>>,
}

/// The background resolver of one trace.
#[derive(Clone, Default)]
pub struct Names {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Names {
    /// Starts a lookup of `ip` unless one was started already (or the bound is reached).
    pub fn lookup(&self, ip: IpAddr) {
        let (lock, _) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        if st.names.contains_key(&ip) || st.names.len() >= MAX_NAMES {
            return;
        }
        st.names.insert(ip, None);
        drop(st);
        let inner = Arc::clone(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("trace-rdns".into())
            .spawn(move || {
                let name = crate::resolve::reverse(ip).ok();
                let (lock, cv) = &*inner;
                let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
                st.names.insert(ip, Some(name));
                cv.notify_all();
            });
        if spawned.is_err() {
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            st.names.insert(ip, Some(None));
        }
    }

    /// The name of `ip`, when its lookup finished with one.
    pub fn get(&self, ip: &IpAddr) -> Option<String> {
        let (lock, _) = &*self.inner;
        let st = lock.lock().unwrap_or_else(|p| p.into_inner());
        st.names.get(ip).cloned().flatten().flatten()
    }

    /// Waits until every lookup started has finished, or `deadline`.
    pub fn wait(&self, deadline: Instant) {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        while st.names.values().any(|v| v.is_none()) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            st = match cv.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn loopback_resolves_in_the_background() {
        let n = Names::default();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        n.lookup(lo);
        n.lookup(lo);
        n.wait(Instant::now() + Duration::from_secs(10));
        // /etc/hosts names 127.0.0.1 on every Debian system ("localhost").
        assert_eq!(n.get(&lo).as_deref(), Some("localhost"));
        assert_eq!(n.get(&"127.0.0.2".parse().unwrap()), None);
    }
}

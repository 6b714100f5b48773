//! argon2id password hashing on the hashing pool ([`crate::pool`]), never on Tokio's threads.
//! bcrypt hashes (`$2a$`, `$2b$`, `$2y$`, as the previous NestJS backend stored them) are
//! verified too, on the same pool, and reported as needing a rehash, so the domain replaces
//! each with an argon2id hash at its owner's first successful login.

use std::io;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash as PhcHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::Argon2;
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::PasswordHash;
use chat_domain::ports::PasswordHasher;
use chat_domain::Password;

use crate::pool::{Pool, PoolConfig, PoolStats};

/// Hashes and verifies with argon2id (the crate's defaults: 19 MiB, 2 passes, 1 lane) on a
/// pool of dedicated threads. At most `threads` hashes run at once, so hashing holds at most
/// `threads` × 19 MiB, and each hash's memory is freed when it ends; a caller that finds no
/// free thread within the queue wait is refused ([`chat_domain::ports::HashingBusy`]).
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    pool: Pool,
}

impl Argon2Hasher {
    /// Starts the hashing threads (named `argon2-<n>`).
    pub fn start(config: PoolConfig) -> io::Result<Self> {
        Ok(Self { pool: Pool::start("argon2", config)? })
    }

    pub fn config(&self) -> PoolConfig {
        self.pool.config()
    }

    /// Hashes running and callers waiting right now, and refusals so far.
    pub fn stats(&self) -> PoolStats {
        self.pool.stats()
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        let password = password.clone();
        let phc = self
            .pool
            .run(move || {
                let salt = SaltString::generate(&mut OsRng);
                Argon2::default().hash_password(password.expose().as_bytes(), &salt).map(|h| h.to_string())
            })
            .await?
            .map_err(|e| StoreError::other(e.to_string()))?;
        Ok(PasswordHash(phc))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        self.try_verify(password, hash).await.unwrap_or(false)
    }

    async fn try_verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, StoreError> {
        let password = password.clone();
        let hash = hash.0.clone();
        let matches = self
            .pool
            .run(move || {
                if is_bcrypt(&hash) {
                    // Like bcryptjs, which wrote these hashes, only the first 72 bytes count.
                    return bcrypt::verify(password.expose().as_bytes(), &hash).unwrap_or(false);
                }
                let Ok(parsed) = PhcHash::new(&hash) else {
                    return false;
                };
                Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok()
            })
            .await?;
        Ok(matches)
    }

    /// bcrypt hashes, and argon2 hashes of another variant or other parameters than
    /// [`hash`](PasswordHasher::hash) makes now. A malformed hash never verifies, so is not
    /// reported.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        if is_bcrypt(&hash.0) {
            return true;
        }
        let Ok(parsed) = PhcHash::new(&hash.0) else {
            return false;
        };
        let today = Argon2::default();
        let now = today.params();
        let same_params = argon2::Params::try_from(&parsed).is_ok_and(|params| {
            (params.m_cost(), params.t_cost(), params.p_cost()) == (now.m_cost(), now.t_cost(), now.p_cost())
        });
        parsed.algorithm != argon2::Algorithm::Argon2id.ident() || !same_params
    }
}

/// The modular crypt prefixes of bcrypt that the `bcrypt` crate verifies.
fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| hash.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chat_domain::ports::HashingBusy;

    use super::*;

    fn hasher(threads: usize) -> Argon2Hasher {
        Argon2Hasher::start(PoolConfig { threads, queue_wait: Duration::from_secs(30), max_waiting: 64 }).unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let h = hasher(1);
        let hash = h.hash(&Password::parse("secret-1").unwrap()).await.unwrap();
        assert!(hash.0.starts_with("$argon2id$"));
        assert!(h.verify(&Password::parse("secret-1").unwrap(), &hash).await);
        assert!(!h.verify(&Password::parse("secret-2").unwrap(), &hash).await);
        assert!(!h.verify(&Password::parse("secret-1").unwrap(), &PasswordHash("garbage".into())).await);
        assert_eq!(h.try_verify(&Password::presented("short").unwrap(), &hash).await.ok(), Some(false));
    }

    #[tokio::test]
    async fn bcrypt_hashes_of_every_prefix_verify_and_need_a_rehash() {
        let h = hasher(1);
        let password = Password::presented("old-secret").unwrap();
        let made = bcrypt::hash_with_result("old-secret", 4).unwrap();
        for version in [bcrypt::Version::TwoA, bcrypt::Version::TwoB, bcrypt::Version::TwoY] {
            let hash = PasswordHash(made.format_for_version(version));
            assert!(h.try_verify(&password, &hash).await.unwrap(), "{}", hash.0);
            assert!(!h.try_verify(&Password::presented("old-secreT").unwrap(), &hash).await.unwrap());
            assert!(h.needs_rehash(&hash), "{}", hash.0);
        }
        // A broken bcrypt string is a mismatch, not an error.
        assert!(!h.try_verify(&password, &PasswordHash("$2b$04$short".into())).await.unwrap());
    }

    #[tokio::test]
    async fn only_todays_argon2id_needs_no_rehash() {
        let h = hasher(1);
        let today = h.hash(&Password::parse("secret-1").unwrap()).await.unwrap();
        assert!(!h.needs_rehash(&today));
        let weaker = "$argon2id$v=19$m=4096,t=1,p=1$c2FsdHNhbHQ$2mBrPO0f0yWHAYp1yZu6nTbkEw7ZPkPHRi3rgPEn3Gg";
        assert!(h.needs_rehash(&PasswordHash(weaker.into())));
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$2mBrPO0f0yWHAYp1yZu6nTbkEw7ZPkPHRi3rgPEn3Gg";
        assert!(h.needs_rehash(&PasswordHash(argon2i.into())));
        assert!(!h.needs_rehash(&PasswordHash("garbage".into())));
    }

    #[tokio::test]
    async fn a_saturated_hasher_says_busy_rather_than_false() {
        let h = Argon2Hasher::start(PoolConfig { threads: 1, queue_wait: Duration::ZERO, max_waiting: 0 }).unwrap();
        let password = Password::parse("secret-1").unwrap();
        let hash = h.hash(&password).await.unwrap();
        // Many at once on one thread that never waits: some are refused, none is wrongly false.
        let attempts = (0..8).map(|_| h.try_verify(&password, &hash));
        let outcomes = futures_join_all(attempts).await;
        assert!(outcomes.iter().any(Result::is_err), "one thread cannot take eight at once");
        for outcome in outcomes {
            match outcome {
                Ok(matches) => assert!(matches),
                Err(StoreError::Unavailable(e)) => assert!(e.is::<HashingBusy>(), "{e}"),
                Err(other) => panic!("{other}"),
            }
        }
        assert!(h.stats().refused >= 1);
    }

    /// Polls every future to completion concurrently, without another dependency.
    async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
        let mut pinned: Vec<_> = futures.map(Box::pin).collect();
        let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
                if output.is_none() {
                    match future.as_mut().poll(cx) {
                        std::task::Poll::Ready(value) => *output = Some(value),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        outputs.into_iter().flatten().collect()
    }
}

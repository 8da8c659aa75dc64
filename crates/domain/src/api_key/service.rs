use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{ApiKey, ApiKeyId, ApiKeyRepository, KeyHash, Scope, generate_token, prefix_of};
use crate::clock::Clock;
use crate::store::{StoreError, UniqueKey};
use crate::validation::Violations;

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// Missing, malformed, unknown or revoked: the caller is told no more than that.
    #[error("invalid API key")]
    Unauthorized,
    #[error("no such API key")]
    NotFound,
    #[error("invalid API key: {0}")]
    Invalid(Violations),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A key just created: the only time its token exists outside the client.
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub token: String,
}

crate::store::from_store_error!(ApiKeyError);

/// The token is a live credential: `Debug` shows its public prefix only.
impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("token", &format_args!("opk_{}_***", self.key.prefix))
            .finish()
    }
}

/// How many prefixes `create` draws before giving up. A collision among 2^60 prefixes is all
/// but impossible, so a second one in a row means something else is wrong (a broken random
/// source, a store that answers "duplicate" to everything): fail rather than spin.
const MAX_PREFIX_DRAWS: usize = 3;

/// How long a verified key is trusted from memory before the store is asked again, unless
/// configured otherwise: the bound on how long a revoked key keeps working on a replica that
/// verified it just before.
pub const KEY_CACHE_TTL: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// How many verified keys are remembered. Only keys that verified are cached, so unknown or
/// forged tokens never take space; past this bound the least used are evicted.
const KEY_CACHE_CAPACITY: usize = 10_000;

/// Keys verified recently, by prefix, with when they were read from the store: a bounded
/// concurrent cache (quick_cache), whose entries this checks against the TTL on the domain's
/// clock.
struct KeyCache {
    ttl: chrono::TimeDelta,
    keys: quick_cache::sync::Cache<String, (ApiKey, DateTime<Utc>)>,
}

impl KeyCache {
    fn new(ttl: chrono::TimeDelta) -> Self {
        Self {
            ttl,
            keys: quick_cache::sync::Cache::new(KEY_CACHE_CAPACITY),
        }
    }

    fn get(&self, prefix: &str, now: DateTime<Utc>) -> Option<ApiKey> {
        self.keys
            .get(prefix)
            .filter(|(_, read_at)| now - *read_at < self.ttl)
            .map(|(key, _)| key)
    }

    fn put(&self, key: ApiKey, now: DateTime<Utc>) {
        if self.ttl > chrono::TimeDelta::zero() {
            self.keys.insert(key.prefix.clone(), (key, now));
        }
    }

    fn forget(&self, id: ApiKeyId) {
        self.keys.retain(|_, (key, _)| key.id != id);
    }
}

#[derive(Clone)]
pub struct ApiKeyService {
    keys: Arc<dyn ApiKeyRepository>,
    clock: Arc<dyn Clock>,
    cache: Arc<KeyCache>,
}

impl ApiKeyService {
    pub fn new(keys: Arc<dyn ApiKeyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys,
            clock,
            cache: Arc::new(KeyCache::new(KEY_CACHE_TTL)),
        }
    }

    /// The same, trusting a verified key from memory for `ttl` (zero: always ask the store).
    pub fn with_cache_ttl(mut self, ttl: chrono::TimeDelta) -> Self {
        self.cache = Arc::new(KeyCache::new(ttl));
        self
    }

    /// Creates a key named `name` with full access; its token is returned once and never
    /// stored.
    pub async fn create(&self, name: &str) -> Result<CreatedApiKey, ApiKeyError> {
        self.create_restricted(name, None).await
    }

    /// Creates a key named `name` restricted to `scopes` (`None`: full access).
    ///
    /// # Errors
    /// `Invalid` for a bad name, or an empty set of scopes.
    pub async fn create_restricted(
        &self,
        name: &str,
        scopes: Option<BTreeSet<Scope>>,
    ) -> Result<CreatedApiKey, ApiKeyError> {
        if scopes.as_ref().is_some_and(BTreeSet::is_empty) {
            return Err(ApiKeyError::Invalid(Violations::one(
                "scope",
                "a restricted key needs at least one scope",
            )));
        }
        let name = ApiKey::parse_name(name)
            .map_err(|e| ApiKeyError::Invalid(Violations::one("name", e)))?;
        for _ in 0..MAX_PREFIX_DRAWS {
            let (prefix, token) = generate_token(&mut rand::rng());
            let key = ApiKey {
                id: ApiKeyId::generate(),
                name: name.clone(),
                prefix,
                hash: KeyHash::of(&token),
                scopes: scopes.clone(),
                created_at: self.clock.now(),
                revoked_at: None,
            };
            match self.keys.insert(&key).await {
                Ok(()) => return Ok(CreatedApiKey { key, token }),
                // 2^60 prefixes make this all but impossible; drawing again is still right.
                Err(StoreError::Duplicate(UniqueKey::ApiKeyPrefix)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiKeyError::Unexpected(anyhow::anyhow!(
            "every one of {MAX_PREFIX_DRAWS} new key prefixes was already taken"
        )))
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>, ApiKeyError> {
        Ok(self.keys.list().await?)
    }

    pub async fn revoke(&self, id: ApiKeyId) -> Result<(), ApiKeyError> {
        self.cache.forget(id);
        match self.keys.revoke(id, self.clock.now()).await {
            Ok(()) => Ok(()),
            Err(StoreError::MissingReference) => Err(ApiKeyError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The live key `token` belongs to. A key verified within the cache's TTL
    /// ([`KEY_CACHE_TTL`] unless configured) is checked against memory (its hash still compared), so a known key costs no query; a
    /// key revoked on another replica stops working within that bound.
    ///
    /// # Errors
    /// `Unauthorized` for a malformed, unknown or revoked token.
    pub async fn authenticate(&self, token: &str) -> Result<ApiKey, ApiKeyError> {
        let prefix = prefix_of(token).ok_or(ApiKeyError::Unauthorized)?;
        let presented = KeyHash::of(token);
        let now = self.clock.now();
        let key = match self.cache.get(prefix, now) {
            Some(key) => key,
            None => {
                let key = self
                    .keys
                    .find_by_prefix(prefix)
                    .await?
                    .ok_or(ApiKeyError::Unauthorized)?;
                if key.hash.matches(&presented) && !key.is_revoked() {
                    self.cache.put(key.clone(), now);
                }
                key
            }
        };
        if key.hash.matches(&presented) && !key.is_revoked() {
            Ok(key)
        } else {
            Err(ApiKeyError::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;
    use crate::api_key::MockApiKeyRepository;
    use std::sync::Mutex;

    /// A repository mock that remembers the one key inserted into it.
    fn remembering_repo(revoked: bool) -> MockApiKeyRepository {
        let stored: Arc<Mutex<Option<ApiKey>>> = Arc::default();
        let mut repo = MockApiKeyRepository::new();
        let s = stored.clone();
        repo.expect_insert().returning(move |k| {
            let mut k = k.clone();
            if revoked {
                k.revoked_at = Some(chrono::Utc::now());
            }
            *s.lock().unwrap() = Some(k);
            Ok(())
        });
        repo.expect_find_by_prefix()
            .returning(move |p| Ok(stored.lock().unwrap().clone().filter(|k| k.prefix == p)));
        repo
    }

    fn service(repo: MockApiKeyRepository) -> ApiKeyService {
        ApiKeyService::new(Arc::new(repo), Arc::new(SystemClock))
    }

    /// A clock the test moves by hand.
    fn clock_at(seconds: Arc<std::sync::atomic::AtomicI64>) -> Arc<dyn Clock> {
        let mut clock = crate::clock::MockClock::new();
        clock.expect_now().returning(move || {
            chrono::DateTime::from_timestamp(
                1_800_000_000 + seconds.load(std::sync::atomic::Ordering::SeqCst),
                0,
            )
            .unwrap()
        });
        Arc::new(clock)
    }

    #[tokio::test]
    async fn a_verified_key_is_checked_in_memory_until_its_ttl_and_revocation_then_holds() {
        let (prefix, token) = generate_token(&mut rand::rng());
        let live = ApiKey {
            id: ApiKeyId::generate(),
            name: "bot".into(),
            prefix: prefix.clone(),
            hash: KeyHash::of(&token),
            scopes: None,
            created_at: chrono::Utc::now(),
            revoked_at: None,
        };
        let mut revoked = live.clone();
        revoked.revoked_at = Some(chrono::Utc::now());
        let mut repo = MockApiKeyRepository::new();
        let mut reads = 0;
        repo.expect_find_by_prefix().times(2).returning(move |_| {
            reads += 1;
            Ok(Some(if reads == 1 {
                live.clone()
            } else {
                revoked.clone()
            }))
        });
        let seconds = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let keys = ApiKeyService::new(Arc::new(repo), clock_at(seconds.clone()));

        keys.authenticate(&token).await.unwrap();
        seconds.store(4, std::sync::atomic::Ordering::SeqCst);
        keys.authenticate(&token).await.unwrap(); // from memory: no second read yet
        let forged = {
            // The same prefix, a different last character of the secret.
            let last = if token.ends_with('x') { 'y' } else { 'x' };
            format!("{}{last}", &token[..token.len() - 1])
        };
        assert!(matches!(
            keys.authenticate(&forged).await,
            Err(ApiKeyError::Unauthorized)
        ));
        // Past the TTL the store is asked again, and it says the key was revoked meanwhile.
        seconds.store(6, std::sync::atomic::Ordering::SeqCst);
        assert!(matches!(
            keys.authenticate(&token).await,
            Err(ApiKeyError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn unknown_keys_are_never_cached() {
        let (_, token) = generate_token(&mut rand::rng());
        let mut repo = MockApiKeyRepository::new();
        repo.expect_find_by_prefix()
            .times(3)
            .returning(|_| Ok(None));
        let keys = service(repo);
        for _ in 0..3 {
            assert!(matches!(
                keys.authenticate(&token).await,
                Err(ApiKeyError::Unauthorized)
            ));
        }
    }

    #[tokio::test]
    async fn create_gives_up_after_a_few_prefix_collisions() {
        let mut repo = MockApiKeyRepository::new();
        repo.expect_insert()
            .times(MAX_PREFIX_DRAWS)
            .returning(|_| Err(StoreError::Duplicate(UniqueKey::ApiKeyPrefix)));
        let err = service(repo).create("bot").await.unwrap_err();
        assert!(matches!(err, ApiKeyError::Unexpected(_)), "{err:?}");
    }

    #[tokio::test]
    async fn created_key_debug_never_shows_the_token() {
        let created = service(remembering_repo(false))
            .create("bot")
            .await
            .unwrap();
        let debug = format!("{created:?}");
        assert!(!debug.contains(&created.token), "{debug}");
        assert!(debug.contains(&created.key.prefix));
    }

    #[tokio::test]
    async fn a_created_key_authenticates_and_only_its_hash_is_stored() {
        let svc = service(remembering_repo(false));
        let created = svc.create("bot").await.unwrap();
        assert!(created.token.starts_with("opk_"));
        assert!(!format!("{:?}", created.key).contains(&created.token));
        let key = svc.authenticate(&created.token).await.unwrap();
        assert_eq!(key.id, created.key.id);
    }

    #[tokio::test]
    async fn a_wrong_secret_with_a_known_prefix_is_unauthorized() {
        let svc = service(remembering_repo(false));
        let created = svc.create("bot").await.unwrap();
        let mut forged = created.token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'a' { 'b' } else { 'a' });
        assert!(matches!(
            svc.authenticate(&forged).await,
            Err(ApiKeyError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn a_revoked_key_is_unauthorized() {
        let svc = service(remembering_repo(true));
        let created = svc.create("bot").await.unwrap();
        assert!(matches!(
            svc.authenticate(&created.token).await,
            Err(ApiKeyError::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn a_malformed_token_never_reaches_the_store() {
        let mut repo = MockApiKeyRepository::new();
        repo.expect_find_by_prefix().never();
        let svc = service(repo);
        for token in ["", "Bearer", "opk_short_secret", "sk_live_123"] {
            assert!(matches!(
                svc.authenticate(token).await,
                Err(ApiKeyError::Unauthorized)
            ));
        }
    }

    #[tokio::test]
    async fn an_empty_name_is_invalid() {
        let mut repo = MockApiKeyRepository::new();
        repo.expect_insert().never();
        assert!(matches!(
            service(repo).create("  ").await,
            Err(ApiKeyError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn revoking_an_unknown_key_is_not_found() {
        let mut repo = MockApiKeyRepository::new();
        repo.expect_revoke()
            .returning(|_, _| Err(StoreError::MissingReference));
        assert!(matches!(
            service(repo).revoke(ApiKeyId::generate()).await,
            Err(ApiKeyError::NotFound)
        ));
    }
}

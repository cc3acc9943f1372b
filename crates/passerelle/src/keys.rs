//! Signing keys, generated on first start, kept in the data folder, rotated
//! by `passerelle keys rotate`.
//!
//! `{dir}/{name}.keys.json` holds every key of a part, current first. A
//! rotation puts new current keys (ES256 and RS256) in front and gives the
//! previous ones a `remove_after` time: until then they stay published, so
//! that tokens they signed still verify; after it, they are dropped. Running
//! processes reread the files every minute (`federation::KEY_RELOAD_EVERY`)
//! and take a rotation without a restart.

use std::path::{Path, PathBuf};

use jose::{Alg, KeySet, SigningKey};
use oidc::UnixSeconds;
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredKey {
    /// The private JWK.
    jwk: serde_json::Value,
    created_at: UnixSeconds,
    /// Set when the key is retired: the end of its grace period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remove_after: Option<UnixSeconds>,
}

impl StoredKey {
    fn new(alg: Alg, now: UnixSeconds) -> anyhow::Result<Self> {
        let jwk = serde_json::from_str(&SigningKey::generate(alg)?.to_private_json())?;
        Ok(Self {
            jwk,
            created_at: now,
            remove_after: None,
        })
    }

    fn key(&self) -> anyhow::Result<SigningKey> {
        Ok(SigningKey::from_private_json(&self.jwk.to_string())?)
    }
}

fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.keys.json"))
}

fn read(path: &Path) -> anyhow::Result<KeyFile> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

fn fresh(now: UnixSeconds) -> anyhow::Result<KeyFile> {
    Ok(KeyFile {
        keys: vec![
            StoredKey::new(Alg::ES256, now)?,
            StoredKey::new(Alg::RS256, now)?,
        ],
    })
}

/// The key set of a part: read from its file (dropping keys past their
/// grace period), or generated and written (mode 0600) on first start. With
/// no folder (tests), fresh keys are generated.
pub fn load_or_generate(
    dir: Option<&Path>,
    name: &str,
    now: UnixSeconds,
) -> anyhow::Result<KeySet> {
    let Some(dir) = dir else {
        return to_key_set(&fresh(now)?);
    };
    let path = path_of(dir, name);
    if path.exists() {
        let mut file = read(&path)?;
        file.keys
            .retain(|key| key.remove_after.is_none_or(|end| now <= end));
        return to_key_set(&file);
    }
    std::fs::create_dir_all(dir)?;
    let file = fresh(now)?;
    match write_private(&path, &serde_json::to_string_pretty(&file)?, true) {
        Err(error) if lost_the_race(&error) => return load_or_generate(Some(dir), name, now),
        written => written?,
    }
    tracing::info!(path = %path.display(), "signing keys generated");
    to_key_set(&file)
}

/// A part's decryption key (ECDH-ES), for the tokens encrypted to it: read
/// from `{dir}/{name}.decryption.json`, or generated and written (mode 0600)
/// on first start. With no folder (tests), a fresh key.
pub fn load_or_generate_decryption(
    dir: Option<&Path>,
    name: &str,
) -> anyhow::Result<jose::DecryptionKey> {
    let generate = || jose::DecryptionKey::generate(jose::KeyAlg::EcdhEs);
    let Some(dir) = dir else {
        return Ok(generate()?);
    };
    let path = dir.join(format!("{name}.decryption.json"));
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        return jose::DecryptionKey::from_private_json(&text)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()));
    }
    std::fs::create_dir_all(dir)?;
    let key = generate()?;
    match write_private(&path, &key.to_private_json(), true) {
        Err(error) if lost_the_race(&error) => return load_or_generate_decryption(Some(dir), name),
        written => written?,
    }
    tracing::info!(path = %path.display(), "decryption key generated");
    Ok(key)
}

/// A part's sealing secret (the mail outbox's): read from
/// `{dir}/{name}.secret`, or generated and written (mode 0600) on first
/// start. With no folder (tests), a fresh one.
pub fn load_or_generate_secret(
    dir: Option<&Path>,
    name: &str,
) -> anyhow::Result<store::sealed::Capability> {
    let Some(dir) = dir else {
        return Ok(store::sealed::Capability::generate());
    };
    let path = dir.join(format!("{name}.secret"));
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        return store::sealed::Capability::parse(text.trim())
            .ok_or_else(|| anyhow::anyhow!("{}: not a secret of ours", path.display()));
    }
    std::fs::create_dir_all(dir)?;
    let secret = store::sealed::Capability::generate();
    match write_private(&path, secret.as_str(), true) {
        Err(error) if lost_the_race(&error) => return load_or_generate_secret(Some(dir), name),
        written => written?,
    }
    tracing::info!(path = %path.display(), "sealing secret generated");
    Ok(secret)
}

/// `{dir}/trail.keys.json`: the keys of the trail's chain (docs/dashboard.md),
/// current first, each kept for as long as the file lives so that every
/// entry they chained still verifies.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TrailKeyFile {
    keys: Vec<StoredTrailKey>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredTrailKey {
    id: String,
    /// 32 bytes, base64url.
    secret: String,
    created_at: UnixSeconds,
}

impl StoredTrailKey {
    fn new(now: UnixSeconds) -> Self {
        let secret = store::sealed::Capability::generate();
        Self {
            id: format!("trail-{}", &secret.lookup_key()[..12]),
            secret: secret.as_str().to_owned(),
            created_at: now,
        }
    }

    fn key(&self) -> anyhow::Result<store::TrailKey> {
        use base64::Engine as _;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.secret)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| anyhow::anyhow!("trail key {} is not 32 bytes of base64url", self.id))?;
        Ok(store::TrailKey {
            id: self.id.clone(),
            secret,
        })
    }
}

const TRAIL_KEYS: &str = "trail.keys.json";

/// The trail's chain keys, current first: read from
/// `{dir}/trail.keys.json`, or generated and written (mode 0600) on first
/// start. With no folder (tests), one fresh key.
pub fn load_or_generate_trail(
    dir: Option<&Path>,
    now: UnixSeconds,
) -> anyhow::Result<Vec<store::TrailKey>> {
    let Some(dir) = dir else {
        return Ok(vec![StoredTrailKey::new(now).key()?]);
    };
    let path = dir.join(TRAIL_KEYS);
    let file: TrailKeyFile = if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        serde_json::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
    } else {
        std::fs::create_dir_all(dir)?;
        let file = TrailKeyFile {
            keys: vec![StoredTrailKey::new(now)],
        };
        match write_private(&path, &serde_json::to_string_pretty(&file)?, true) {
            Err(error) if lost_the_race(&error) => return load_or_generate_trail(Some(dir), now),
            written => written?,
        }
        tracing::info!(path = %path.display(), "trail keys generated");
        file
    };
    anyhow::ensure!(!file.keys.is_empty(), "{}: no key", path.display());
    file.keys.iter().map(StoredTrailKey::key).collect()
}

/// Puts a new current key in front of the trail's; the old ones stay, to
/// verify what they chained. Returns the new key's id.
pub fn rotate_trail(dir: &Path, now: UnixSeconds) -> anyhow::Result<String> {
    let path = dir.join(TRAIL_KEYS);
    anyhow::ensure!(
        path.exists(),
        "{} does not exist: start the federation once first",
        path.display()
    );
    let text = std::fs::read_to_string(&path)?;
    let mut file: TrailKeyFile = serde_json::from_str(&text)
        .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    let key = StoredTrailKey::new(now);
    let id = key.id.clone();
    file.keys.insert(0, key);
    write_private(&path, &serde_json::to_string_pretty(&file)?, false)?;
    Ok(id)
}

fn to_key_set(file: &KeyFile) -> anyhow::Result<KeySet> {
    Ok(KeySet::new(
        file.keys
            .iter()
            .map(StoredKey::key)
            .collect::<Result<_, _>>()?,
    )?)
}

/// What a rotation did, by key id.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// The new current keys.
    pub added: Vec<String>,
    /// Keys now retired, published until the end of the grace period.
    pub retired: Vec<String>,
    /// Keys past their grace period, removed.
    pub removed: Vec<String>,
}

/// Rotates a part's keys: new current keys in front, the previous ones
/// retired for `grace_secs`, keys past their grace period removed.
pub fn rotate(
    dir: &Path,
    name: &str,
    now: UnixSeconds,
    grace_secs: i64,
) -> anyhow::Result<Rotation> {
    let path = path_of(dir, name);
    anyhow::ensure!(
        path.exists(),
        "{} does not exist: start the part once first",
        path.display()
    );
    let mut file = read(&path)?;
    let kid = |key: &StoredKey| {
        key.key()
            .map(|key| key.kid().to_owned())
            .unwrap_or_default()
    };
    let mut rotation = Rotation::default();
    let (expired, kept): (Vec<StoredKey>, Vec<StoredKey>) = file
        .keys
        .drain(..)
        .partition(|key| key.remove_after.is_some_and(|end| now > end));
    rotation.removed = expired.iter().map(kid).collect();
    let mut keys = vec![
        StoredKey::new(Alg::ES256, now)?,
        StoredKey::new(Alg::RS256, now)?,
    ];
    rotation.added = keys.iter().map(kid).collect();
    for mut key in kept {
        if key.remove_after.is_none() {
            key.remove_after = Some(now + grace_secs);
            rotation.retired.push(kid(&key));
        }
        keys.push(key);
    }
    file.keys = keys;
    write_private(&path, &serde_json::to_string_pretty(&file)?, false)?;
    Ok(rotation)
}

/// Writes a key file, mode 0600, beside then into place: a crash never
/// leaves half a file. With `create_new`, the file is linked into place
/// only if none is there: when processes sharing the key folder start at
/// once, one wins and the others get [`std::io::ErrorKind::AlreadyExists`]
/// and read the winner's.
#[cfg(unix)]
fn write_private(path: &Path, text: &str, create_new: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("key");
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{}.new",
        std::process::id(),
        oidc::types::random_token(6)
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    if create_new {
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        return linked;
    }
    std::fs::rename(temporary, path)
}

/// Whether a first write lost to another process's (which is then read).
fn lost_the_race(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::AlreadyExists
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str, _create_new: bool) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kids(set: &KeySet) -> Vec<String> {
        set.keys().iter().map(|key| key.kid().to_owned()).collect()
    }

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("passerelle-keys-{}", oidc::types::random_token(6)))
    }

    #[test]
    fn keys_are_generated_once_and_kept() {
        let dir = temp_dir();
        let first = load_or_generate(Some(&dir), "hub", 1_000).unwrap();
        let again = load_or_generate(Some(&dir), "hub", 2_000).unwrap();
        assert_eq!(kids(&first), kids(&again));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_rotation_signs_with_a_new_key_keeps_the_old_one_for_its_grace_period_then_drops_it() {
        let dir = temp_dir();
        let before = load_or_generate(Some(&dir), "hub", 1_000).unwrap();
        let claims = json!({"sub": "x"}).as_object().unwrap().clone();
        let old_token = jose::sign(&claims, before.current(Alg::ES256).unwrap(), "JWT").unwrap();

        let rotation = rotate(&dir, "hub", 2_000, 600).unwrap();
        assert_eq!(rotation.retired, kids(&before));
        assert!(rotation.removed.is_empty());
        let after = load_or_generate(Some(&dir), "hub", 2_000).unwrap();
        assert_eq!(
            after.keys().len(),
            4,
            "new and retired keys are all published"
        );
        assert_eq!(
            after.current(Alg::ES256).unwrap().kid(),
            rotation.added[0],
            "the new key signs"
        );
        assert_eq!(
            jose::verify(&old_token, &after.public().unwrap(), &[Alg::ES256]).unwrap(),
            claims
        );

        let later = load_or_generate(Some(&dir), "hub", 2_601).unwrap();
        assert_eq!(
            kids(&later),
            rotation.added,
            "past the grace period the old keys are gone"
        );
        assert!(jose::verify(&old_token, &later.public().unwrap(), &[Alg::ES256]).is_err());
        let again = rotate(&dir, "hub", 2_601, 600).unwrap();
        assert_eq!(again.removed, kids(&before));
        assert_eq!(again.retired, rotation.added);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Processes sharing one key folder start at once (the cluster's hubs
    /// and providers): one writes each file, every one reads the same.
    #[test]
    fn processes_starting_at_once_on_an_empty_folder_share_one_set_of_keys() {
        let dir = temp_dir();
        let started: Vec<_> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let keys = load_or_generate(Some(&dir), "hub_standard", 1_800_000_000)?;
                    let trail = load_or_generate_trail(Some(&dir), 1_800_000_000)?;
                    let secret = load_or_generate_secret(Some(&dir), "mail")?;
                    anyhow::Ok((
                        kids(&keys),
                        trail.iter().map(|key| key.id.clone()).collect::<Vec<_>>(),
                        secret.as_str().to_owned(),
                    ))
                })
            })
            .collect();
        let seen: Vec<_> = started
            .into_iter()
            .map(|thread| thread.join().unwrap().unwrap())
            .collect();
        assert!(seen.iter().all(|keys| *keys == seen[0]), "{seen:?}");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".new"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn trail_keys_are_kept_and_a_rotation_puts_a_new_one_in_front() {
        let dir = temp_dir();
        let first = load_or_generate_trail(Some(&dir), 1).unwrap();
        assert_eq!(first.len(), 1);
        let again = load_or_generate_trail(Some(&dir), 2).unwrap();
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[0].secret, first[0].secret);
        let new = rotate_trail(&dir, 3).unwrap();
        let rotated = load_or_generate_trail(Some(&dir), 4).unwrap();
        assert_eq!(rotated.len(), 2);
        assert_eq!(rotated[0].id, new);
        assert_eq!(rotated[1].id, first[0].id, "the old key stays to verify");
        assert_ne!(rotated[0].secret, rotated[1].secret);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_key_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir();
        load_or_generate(Some(&dir), "hub", 1_000).unwrap();
        let mode = std::fs::metadata(path_of(&dir, "hub"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        rotate(&dir, "hub", 2_000, 60).unwrap();
        let mode = std::fs::metadata(path_of(&dir, "hub"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

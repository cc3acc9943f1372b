//! Signing keys, generated on first start and kept in the data folder.

use std::path::Path;

use jose::{Alg, KeySet, SigningKey};

/// The key set of a part: read from `{dir}/{name}.jwk` (one private JWK per
/// line), or generated and written there (mode 0600) on first start. With no
/// folder (tests), a fresh key is generated.
pub fn load_or_generate(dir: Option<&Path>, name: &str) -> anyhow::Result<KeySet> {
    let Some(dir) = dir else {
        return Ok(KeySet::new(vec![
            SigningKey::generate(Alg::ES256)?,
            SigningKey::generate(Alg::RS256)?,
        ])?);
    };
    let path = dir.join(format!("{name}.jwk"));
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let keys = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(SigningKey::from_private_json)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
        return Ok(KeySet::new(keys)?);
    }
    std::fs::create_dir_all(dir)?;
    let keys = vec![
        SigningKey::generate(Alg::ES256)?,
        SigningKey::generate(Alg::RS256)?,
    ];
    let text: String = keys
        .iter()
        .map(|key| key.to_private_json() + "\n")
        .collect();
    write_private(&path, &text)?;
    tracing::info!(path = %path.display(), "signing keys generated");
    Ok(KeySet::new(keys)?)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_generated_once_and_kept() {
        let dir =
            std::env::temp_dir().join(format!("passerelle-keys-{}", oidc::types::random_token(6)));
        let first = load_or_generate(Some(&dir), "hub").unwrap();
        let again = load_or_generate(Some(&dir), "hub").unwrap();
        let kids = |set: &KeySet| {
            set.keys()
                .iter()
                .map(|key| key.kid().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(&first), kids(&again));
        std::fs::remove_dir_all(dir).unwrap();
    }
}

//! Files and directories only the server's own user may read. The data directory holds the
//! JWT secret and the SQLite database (every account's password hash, every order), so on a
//! shared machine neither may be world-readable, whatever the umask.

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) as `0700`, and tightens `dir` itself to `0700` if it
/// exists with wider rights.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    imp::create_dir(dir)?;
    imp::restrict(dir, 0o700)
}

/// Creates an empty `path` as `0600` if it is missing, or tightens it to `0600`. SQLite gives
/// its `-wal` and `-shm` files the rights of the database file, so this covers them too.
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    imp::open(path, false, b"")?;
    imp::restrict(path, 0o600)
}

/// Writes `contents` to `path`, created (or truncated) as `0600`.
pub fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    imp::open(path, true, contents.as_bytes())?;
    imp::restrict(path, 0o600)
}

#[cfg(unix)]
mod imp {
    use std::io::{self, Write};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    pub fn create_dir(dir: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }

    pub fn open(path: &Path, truncate: bool, contents: &[u8]) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate)
            .mode(0o600)
            .open(path)?;
        file.write_all(contents)
    }

    pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current & !mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use std::io::{self, Write};
    use std::path::Path;

    pub fn create_dir(dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    pub fn open(path: &Path, truncate: bool, contents: &[u8]) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(truncate)
            .open(path)?;
        file.write_all(contents)
    }

    pub fn restrict(_path: &Path, _mode: u32) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_paths_end_up_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let db = dir.join("lyceum.db");
        std::fs::write(&db, b"existing").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(
            std::fs::read(&db).unwrap(),
            b"existing",
            "content untouched"
        );

        let secret = dir.join("secret");
        write_private(&secret, "s3cret").unwrap();
        assert_eq!(mode(&secret), 0o600);
    }
}

//! Refusing network filesystems (catalogue §3.1): WAL mode keeps its index in shared
//! memory (`-shm`), which only works between processes on one host, and network
//! filesystems' locking is unreliable; a database there can be corrupted silently.

use std::path::Path;

/// Filesystem types on which a WAL database is refused.
const NETWORK_FS: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb",
    "smb3",
    "smbfs",
    "9p",
    "afs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "fuse.glusterfs",
    "lustre",
    "gpfs",
];

/// The filesystem type of the mount holding `dir`, from `/proc/self/mountinfo` text:
/// the longest mount point that is a prefix of `dir` (which must be canonical).
pub(crate) fn fs_type_of(mountinfo: &str, dir: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in mountinfo.lines() {
        // "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw"
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?.replace("\\040", " ");
        let fstype = right.split(' ').next()?;
        if dir.starts_with(&mount_point)
            && best
                .as_ref()
                .is_none_or(|(len, _)| mount_point.len() >= *len)
        {
            best = Some((mount_point.len(), fstype.to_string()));
        }
    }
    best.map(|(_, t)| t)
}

/// `Err(fstype)` if `db` would live on a network filesystem. Anything that cannot be
/// determined (no /proc, say) is allowed: the WAL check at open still applies.
pub(crate) fn check_local(db: &Path) -> Result<(), String> {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(dir) = dir.canonicalize() else {
        return Ok(());
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Ok(());
    };
    match fs_type_of(&info, &dir) {
        Some(t) if NETWORK_FS.contains(&t.as_str()) => Err(t),
        _ => Ok(()),
    }
}

/// Creates `db` empty with mode 0600 if it does not exist yet, so SQLite (which gives
/// its `-wal` and `-shm` files the database file's permissions) never creates any of
/// the three readable by others, whatever the umask. An existing file is left as is.
pub(crate) fn create_private(db: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    match o.open(db) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A missing directory: SQLite's own error says it better.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes group and other permissions from `f` if it exists and has any. Best effort:
/// a file owned by someone else is reported by SQLite when it matters.
pub(crate) fn restrict(f: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(f) {
            let mode = m.permissions().mode();
            if mode & 0o077 != 0 {
                let _ = std::fs::set_permissions(f, std::fs::Permissions::from_mode(mode & 0o700));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = f;
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
        40 27 0:50 / /mnt/share rw,relatime - nfs4 server:/export rw\n\
        41 40 0:51 / /mnt/share/local rw - tmpfs tmpfs rw\n";

    #[test]
    fn the_longest_matching_mount_point_decides_the_filesystem() {
        assert_eq!(
            fs_type_of(INFO, Path::new("/var/lib")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            fs_type_of(INFO, Path::new("/mnt/share/db")).as_deref(),
            Some("nfs4")
        );
        assert_eq!(
            fs_type_of(INFO, Path::new("/mnt/share/local/x")).as_deref(),
            Some("tmpfs")
        );
        // A sibling whose name merely starts like a mount point is not under it.
        assert_eq!(
            fs_type_of(INFO, Path::new("/mnt/shared")).as_deref(),
            Some("ext4")
        );
    }

    #[test]
    fn a_database_on_the_local_temp_directory_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_local(&dir.path().join("x.db")).is_ok());
    }
}

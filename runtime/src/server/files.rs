//! The file-descriptor budget of the port: raise the soft limit to the hard
//! one at start, and keep the connection cap under it so that storage files,
//! database connections and the listener itself always have descriptors left.

/// Descriptors kept for everything that is not a client connection.
const RESERVED: u64 = 128;

/// The fewest connections the cap allows, whatever the limit.
const MIN_CAP: usize = 16;

/// Raise the soft open-file limit as far as the hard limit allows and return
/// the connection cap: `wanted`, or less if the limit is lower.
pub(crate) fn connection_cap(wanted: usize) -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => {
            let cap = cap_under(soft, wanted);
            if cap < wanted {
                tracing::warn!(
                    open_file_limit = soft,
                    max_connections = cap,
                    "the open-file limit allows fewer connections than configured; \
                     raise it (ulimit -n) to serve more"
                );
            }
            cap
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read the open-file limit");
            wanted
        }
    }
}

/// The cap for a soft limit of `soft` descriptors.
fn cap_under(soft: u64, wanted: usize) -> usize {
    let available = usize::try_from(soft.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    wanted.min(available).max(MIN_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_everything_else() {
        assert_eq!(cap_under(1024, 10_000), 896);
        assert_eq!(cap_under(1_048_576, 10_000), 10_000);
        assert_eq!(cap_under(64, 10_000), MIN_CAP);
    }

    #[test]
    fn raising_the_limit_never_lowers_the_cap_below_the_configured_one_needlessly() {
        let (soft_before, _) = rlimit::Resource::NOFILE.get().unwrap();
        let cap = connection_cap(100);
        let (soft_after, _) = rlimit::Resource::NOFILE.get().unwrap();
        assert!(soft_after >= soft_before);
        assert_eq!(cap, cap_under(soft_after, 100));
    }
}

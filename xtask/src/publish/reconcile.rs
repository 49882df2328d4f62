//! What a publish run does, decided from what is here and what GitHub has
//! (pure: no network, no disk). [`super::publish`] reads both sides, calls
//! [`reconcile`], stops on a [`Action::Refuse`], then executes the rest.

use std::collections::BTreeSet;
use std::fmt;

use super::api::{AssetInfo, ReleaseInfo};
use super::{LocalAsset, PublishError, MAX_ASSETS};

/// An asset of the release as GitHub lists it.
pub type RemoteAsset = AssetInfo;

/// What a run does (or, with `--dry-run`, would do), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateDraft {
        tag: String,
    },
    DeleteLeftover {
        name: String,
        id: u64,
        state: String,
        size: u64,
    },
    /// Ours, already there with the same digest.
    Skip {
        name: String,
        sha256: String,
    },
    /// Ours, there with another digest, and `--replace` given: delete
    /// asset `id`, upload ours.
    Replace {
        name: String,
        id: u64,
        theirs: String,
        ours: String,
    },
    /// Ours, there with another digest, and no `--replace`: the run stops
    /// before changing anything.
    Refuse {
        name: String,
        theirs: String,
        ours: String,
    },
    Upload {
        name: String,
        size: u64,
        sha256: String,
    },
    /// Not ours: left as it is.
    LeaveAlone {
        name: String,
    },
    Publish {
        tag: String,
    },
    SetNotes {
        tag: String,
        bytes: usize,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateDraft { tag } => write!(f, "create draft release {tag}"),
            Action::DeleteLeftover {
                name,
                id,
                state,
                size,
            } => write!(
                f,
                "delete leftover asset {name} (id {id}, state {state}, {size} bytes)"
            ),
            Action::Skip { name, sha256 } => {
                write!(f, "keep {name} (sha256:{sha256} already there)")
            }
            Action::Replace {
                name, theirs, ours, ..
            } => {
                write!(f, "replace {name} ({theirs} -> sha256:{ours})")
            }
            Action::Refuse { name, theirs, ours } => {
                write!(f, "{name}: GitHub has {theirs}, ours is sha256:{ours}")
            }
            Action::Upload { name, size, sha256 } => {
                write!(f, "upload {name} ({size} bytes, sha256:{sha256})")
            }
            Action::LeaveAlone { name } => write!(f, "leave {name} alone (not ours)"),
            Action::Publish { tag } => write!(f, "publish release {tag} (draft -> false)"),
            Action::SetNotes { tag, bytes } => {
                write!(f, "set the release notes of {tag} ({bytes} bytes)")
            }
        }
    }
}

/// What [`reconcile`] needs besides the two asset lists.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions<'a> {
    pub tag: &'a str,
    /// The release as found (absent: it is created as a draft).
    pub release: Option<&'a ReleaseInfo>,
    /// `--replace`: overwrite assets whose digest differs from ours.
    pub replace: bool,
    /// The notes the release is to be left with.
    pub notes: Option<&'a str>,
}

/// A remote asset's digest as text. Ex) `sha256:ab…`, `no digest`
pub fn digest_text(a: &RemoteAsset) -> String {
    a.digest.clone().unwrap_or_else(|| "no digest".into())
}

/// The actions that make the release hold exactly `local` (and whatever
/// else it holds, untouched): create the draft if there is no release,
/// delete every leftover of a failed upload, then for each local asset (in
/// order) skip, upload, replace or refuse it, then leave others' assets
/// alone, publish a draft and set the notes if they differ.
pub fn reconcile(
    local: &[LocalAsset],
    remote: &[RemoteAsset],
    opts: &ReconcileOptions<'_>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    if opts.release.is_none() {
        actions.push(Action::CreateDraft {
            tag: opts.tag.to_string(),
        });
    }
    let (leftovers, good): (Vec<&RemoteAsset>, Vec<&RemoteAsset>) =
        remote.iter().partition(|a| a.is_leftover());
    for a in leftovers {
        actions.push(Action::DeleteLeftover {
            name: a.name.clone(),
            id: a.id,
            state: a.state.clone(),
            size: a.size,
        });
    }
    for a in local {
        actions.push(match good.iter().find(|r| r.name == a.name) {
            Some(r) if r.sha256() == Some(a.sha256.as_str()) => Action::Skip {
                name: a.name.clone(),
                sha256: a.sha256.clone(),
            },
            Some(r) if opts.replace => Action::Replace {
                name: a.name.clone(),
                id: r.id,
                theirs: digest_text(r),
                ours: a.sha256.clone(),
            },
            Some(r) => Action::Refuse {
                name: a.name.clone(),
                theirs: digest_text(r),
                ours: a.sha256.clone(),
            },
            None => Action::Upload {
                name: a.name.clone(),
                size: a.size,
                sha256: a.sha256.clone(),
            },
        });
    }
    for r in good
        .iter()
        .filter(|r| !local.iter().any(|a| a.name == r.name))
    {
        actions.push(Action::LeaveAlone {
            name: r.name.clone(),
        });
    }
    if opts.release.is_none_or(|r| r.draft) {
        actions.push(Action::Publish {
            tag: opts.tag.to_string(),
        });
    }
    if let Some(n) = opts
        .notes
        .filter(|n| opts.release.and_then(|r| r.body.as_deref()) != Some(*n))
    {
        actions.push(Action::SetNotes {
            tag: opts.tag.to_string(),
            bytes: n.len(),
        });
    }
    actions
}

/// Refuses a run that would leave the release with more than
/// [`MAX_ASSETS`] assets (ours plus the complete ones already there).
pub fn check_capacity(
    local: &[LocalAsset],
    remote: &[RemoteAsset],
    tag: &str,
    dist: &str,
) -> Result<(), PublishError> {
    let names: BTreeSet<&str> = local
        .iter()
        .map(|a| a.name.as_str())
        .chain(
            remote
                .iter()
                .filter(|r| !r.is_leftover())
                .map(|r| r.name.as_str()),
        )
        .collect();
    if names.len() <= MAX_ASSETS {
        return Ok(());
    }
    Err(PublishError::Refused {
        dist: dist.to_string(),
        problems: vec![format!(
            "release {tag} would hold {} assets ({} ours, {} others already there); GitHub allows {MAX_ASSETS}: split the matrix across releases",
            names.len(),
            local.len(),
            names.len() - local.len()
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ours(name: &str, sha: &str) -> LocalAsset {
        LocalAsset {
            name: name.into(),
            path: PathBuf::from(name),
            sha256: sha.into(),
            size: 10,
        }
    }

    fn theirs(id: u64, name: &str, digest: Option<&str>, state: &str, size: u64) -> RemoteAsset {
        RemoteAsset {
            id,
            name: name.into(),
            size,
            state: state.into(),
            digest: digest.map(|d| format!("sha256:{d}")),
        }
    }

    fn release(draft: bool, body: Option<&str>) -> ReleaseInfo {
        ReleaseInfo {
            id: 7,
            tag_name: "v1".into(),
            draft,
            upload_url: String::new(),
            html_url: String::new(),
            prerelease: false,
            body: body.map(String::from),
        }
    }

    fn opts<'a>(release: Option<&'a ReleaseInfo>, replace: bool) -> ReconcileOptions<'a> {
        ReconcileOptions {
            tag: "v1",
            release,
            replace,
            notes: None,
        }
    }

    fn lines(actions: &[Action]) -> Vec<String> {
        actions.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_new_release_is_created_filled_and_published() {
        let local = [ours("a.whl", "aa"), ours("SHA256SUMS", "ss")];
        let mut o = opts(None, false);
        o.notes = Some("notes");
        assert_eq!(
            lines(&reconcile(&local, &[], &o)),
            [
                "create draft release v1",
                "upload a.whl (10 bytes, sha256:aa)",
                "upload SHA256SUMS (10 bytes, sha256:ss)",
                "publish release v1 (draft -> false)",
                "set the release notes of v1 (5 bytes)",
            ]
        );
    }

    #[test]
    fn a_complete_release_is_left_as_it_is() {
        let local = [ours("a.whl", "aa")];
        let remote = [theirs(1, "a.whl", Some("aa"), "uploaded", 10)];
        let r = release(false, Some("notes"));
        let mut o = opts(Some(&r), false);
        o.notes = Some("notes");
        assert_eq!(
            reconcile(&local, &remote, &o),
            [Action::Skip {
                name: "a.whl".into(),
                sha256: "aa".into()
            }]
        );
    }

    #[test]
    fn leftovers_go_first_and_are_uploaded_again() {
        let local = [ours("a.whl", "aa"), ours("b.whl", "bb")];
        let remote = [
            theirs(1, "a.whl", None, "starter", 0),
            theirs(2, "b.whl", Some("bb"), "uploaded", 0),
            theirs(3, "c.whl", Some("cc"), "uploaded", 10),
        ];
        let r = release(true, None);
        assert_eq!(
            lines(&reconcile(&local, &remote, &opts(Some(&r), false))),
            [
                "delete leftover asset a.whl (id 1, state starter, 0 bytes)",
                "delete leftover asset b.whl (id 2, state uploaded, 0 bytes)",
                "upload a.whl (10 bytes, sha256:aa)",
                "upload b.whl (10 bytes, sha256:bb)",
                "leave c.whl alone (not ours)",
                "publish release v1 (draft -> false)",
            ]
        );
    }

    #[test]
    fn a_different_digest_is_refused_unless_replace() {
        let local = [ours("a.whl", "aa"), ours("b.whl", "bb")];
        let remote = [
            theirs(1, "a.whl", Some("99"), "uploaded", 10),
            theirs(2, "b.whl", None, "uploaded", 10),
        ];
        let r = release(false, None);
        assert_eq!(
            reconcile(&local, &remote, &opts(Some(&r), false)),
            [
                Action::Refuse {
                    name: "a.whl".into(),
                    theirs: "sha256:99".into(),
                    ours: "aa".into()
                },
                Action::Refuse {
                    name: "b.whl".into(),
                    theirs: "no digest".into(),
                    ours: "bb".into()
                },
            ]
        );
        assert_eq!(
            reconcile(&local, &remote, &opts(Some(&r), true)),
            [
                Action::Replace {
                    name: "a.whl".into(),
                    id: 1,
                    theirs: "sha256:99".into(),
                    ours: "aa".into()
                },
                Action::Replace {
                    name: "b.whl".into(),
                    id: 2,
                    theirs: "no digest".into(),
                    ours: "bb".into()
                },
            ]
        );
    }

    #[test]
    fn capacity_counts_ours_and_others_once() {
        let local: Vec<LocalAsset> = (0..MAX_ASSETS)
            .map(|i| ours(&format!("{i}.whl"), "aa"))
            .collect();
        let same = [theirs(1, "0.whl", Some("aa"), "uploaded", 10)];
        assert!(check_capacity(&local, &same, "v1", "dist").is_ok());
        let leftover = [theirs(1, "x.whl", None, "starter", 0)];
        assert!(check_capacity(&local, &leftover, "v1", "dist").is_ok());
        let other = [theirs(1, "x.whl", Some("aa"), "uploaded", 10)];
        insta::assert_snapshot!(
            check_capacity(&local, &other, "v1", "dist").unwrap_err(),
            @r"
        refusing to publish dist; nothing was uploaded:
          release v1 would hold 1001 assets (1000 ours, 1 others already there); GitHub allows 1000: split the matrix across releases
        "
        );
    }
}

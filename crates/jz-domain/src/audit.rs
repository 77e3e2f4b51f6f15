//! The audit trail's hash chain: what an entry records, how it is hashed, how a chain is checked.
//!
//! Every state change in Jingzhi is recorded as an [`AuditEntry`] written in the same
//! transaction as the change. Entries are numbered from 1 without gaps, and each entry's hash
//! covers its own fields and the previous entry's hash, so editing, deleting or reordering any
//! entry breaks the chain from that point on. [`ChainVerifier`] walks a chain in order and names
//! the first entry that does not fit.

use sha2::{Digest, Sha256};
use std::fmt;

/// The `prev_hash` of the first entry: 64 zero hex digits.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What one state change records before it is placed on the chain: who, when, what, from where,
/// and the state before and after (JSON text, absent for creations and deletions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Microseconds since the Unix epoch, UTC, taken from the caller's clock.
    pub at_us: i64,
    /// The user, API key or system component that made the change, e.g. `user:42` or `system:sla`.
    pub actor: String,
    /// The role the actor acted in, e.g. `dispatcher`; `system` for automatic work.
    pub actor_role: String,
    /// A dotted verb, e.g. `case.dispatch`, `division.import`.
    pub action: String,
    /// The kind of thing changed, e.g. `case`, `division`, `goal_cluster`.
    pub subject_kind: String,
    /// The identifier of the thing changed.
    pub subject_id: String,
    /// Where the change came from: a client address, a channel, or a process name.
    pub origin: String,
    /// The state before the change, as JSON text.
    pub before: Option<String>,
    /// The state after the change, as JSON text.
    pub after: Option<String>,
}

/// An [`AuditRecord`] placed on the chain: numbered and hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position on the chain, starting at 1, without gaps.
    pub seq: i64,
    pub record: AuditRecord,
    /// Hash of the previous entry ([`GENESIS_HASH`] for the first), lower-case hex.
    pub prev_hash: String,
    /// Hash of this entry, lower-case hex; see [`entry_hash`].
    pub hash: String,
}

impl AuditEntry {
    /// Places `record` on the chain after the entry numbered `prev_seq` whose hash is `prev_hash`.
    pub fn chain(prev_seq: i64, prev_hash: &str, record: AuditRecord) -> AuditEntry {
        let seq = prev_seq + 1;
        let hash = entry_hash(seq, prev_hash, &record);
        AuditEntry {
            seq,
            record,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }
}

/// The hash of an entry: SHA-256 over a versioned, length-prefixed encoding of its number, the
/// previous hash and every field of the record. Length prefixes make the encoding unambiguous
/// (no two different entries encode to the same bytes).
pub fn entry_hash(seq: i64, prev_hash: &str, record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"jingzhi-audit-v1");
    hasher.update(seq.to_be_bytes());
    let mut field = |value: Option<&str>| match value {
        None => hasher.update([0u8]),
        Some(text) => {
            hasher.update([1u8]);
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
    };
    field(Some(prev_hash));
    field(Some(&record.at_us.to_string()));
    field(Some(&record.actor));
    field(Some(&record.actor_role));
    field(Some(&record.action));
    field(Some(&record.subject_kind));
    field(Some(&record.subject_id));
    field(Some(&record.origin));
    field(record.before.as_deref());
    field(record.after.as_deref());
    hex::encode(hasher.finalize())
}

/// Why a chain is broken, at the first entry that does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// Entries are missing or out of order: the number is not the one expected.
    SequenceGap { expected: i64, found: i64 },
    /// The entry's `prev_hash` is not the previous entry's hash (an entry before it was removed
    /// or replaced).
    PrevHashMismatch { expected: String, found: String },
    /// The entry's content does not match its hash (the entry itself was edited).
    HashMismatch { computed: String, stored: String },
    /// The chain ends before the recorded head: entries at the end were removed.
    Truncated { last_seq: i64, head_seq: i64 },
    /// The recorded head's hash differs from the last entry's hash.
    HeadMismatch {
        head_hash: String,
        last_hash: String,
    },
}

/// The first broken place of a chain: the entry number and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry #{seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: BreakReason,
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::SequenceGap { expected, found } => {
                write!(
                    f,
                    "expected entry #{expected} but found #{found} (entries missing or reordered)"
                )
            }
            BreakReason::PrevHashMismatch { expected, found } => write!(
                f,
                "prev_hash {found} does not match the previous entry's hash {expected} (an earlier entry was removed or replaced)"
            ),
            BreakReason::HashMismatch { computed, stored } => write!(
                f,
                "content hashes to {computed} but the stored hash is {stored} (the entry was edited)"
            ),
            BreakReason::Truncated { last_seq, head_seq } => write!(
                f,
                "the chain ends at #{last_seq} but its head records #{head_seq} (entries at the end were removed)"
            ),
            BreakReason::HeadMismatch {
                head_hash,
                last_hash,
            } => write!(
                f,
                "the head records hash {head_hash} but the last entry hashes to {last_hash}"
            ),
        }
    }
}

/// Walks a chain entry by entry, in order, without holding it in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    /// Checks the next entry of the chain.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let expected_seq = self.last_seq + 1;
        let broken = |reason| {
            Err(ChainBreak {
                seq: entry.seq,
                reason,
            })
        };
        if entry.seq != expected_seq {
            return broken(BreakReason::SequenceGap {
                expected: expected_seq,
                found: entry.seq,
            });
        }
        if entry.prev_hash != self.last_hash {
            return broken(BreakReason::PrevHashMismatch {
                expected: self.last_hash.clone(),
                found: entry.prev_hash.clone(),
            });
        }
        let computed = entry_hash(entry.seq, &entry.prev_hash, &entry.record);
        if computed != entry.hash {
            return broken(BreakReason::HashMismatch {
                computed,
                stored: entry.hash.clone(),
            });
        }
        self.last_seq = entry.seq;
        self.last_hash = computed;
        Ok(())
    }

    /// Checks that the chain walked so far ends where its recorded head says it ends.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<ChainSummary, ChainBreak> {
        if self.last_seq < head_seq {
            return Err(ChainBreak {
                seq: self.last_seq + 1,
                reason: BreakReason::Truncated {
                    last_seq: self.last_seq,
                    head_seq,
                },
            });
        }
        if self.last_seq > head_seq || self.last_hash != head_hash {
            return Err(ChainBreak {
                seq: self.last_seq,
                reason: BreakReason::HeadMismatch {
                    head_hash: head_hash.to_owned(),
                    last_hash: self.last_hash,
                },
            });
        }
        Ok(ChainSummary {
            entries: self.last_seq,
            head_hash: self.last_hash,
        })
    }
}

/// A verified chain: how many entries it holds and the hash of the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub entries: i64,
    pub head_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64) -> AuditRecord {
        AuditRecord {
            at_us: 1_700_000_000_000_000 + n,
            actor: format!("user:{n}"),
            actor_role: "dispatcher".into(),
            action: "case.dispatch".into(),
            subject_kind: "case".into(),
            subject_id: format!("case-{n}"),
            origin: "127.0.0.1".into(),
            before: (n % 2 == 0).then(|| format!("{{\"n\":{n}}}")),
            after: Some("{\"state\":\"dispatched\"}".into()),
        }
    }

    fn chain(len: i64) -> Vec<AuditEntry> {
        let mut entries: Vec<AuditEntry> = Vec::new();
        for n in 1..=len {
            let (seq, hash) = entries
                .last()
                .map_or((0, GENESIS_HASH.to_owned()), |e| (e.seq, e.hash.clone()));
            entries.push(AuditEntry::chain(seq, &hash, record(n)));
        }
        entries
    }

    fn verify(
        entries: &[AuditEntry],
        head_seq: i64,
        head_hash: &str,
    ) -> Result<ChainSummary, ChainBreak> {
        let mut verifier = ChainVerifier::default();
        for entry in entries {
            verifier.check(entry)?;
        }
        verifier.finish(head_seq, head_hash)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = chain(5);
        let summary = verify(&entries, 5, &entries[4].hash).unwrap();
        assert_eq!(summary.entries, 5);
        assert_eq!(summary.head_hash, entries[4].hash);
    }

    #[test]
    fn an_empty_chain_verifies_against_the_genesis_head() {
        assert_eq!(verify(&[], 0, GENESIS_HASH).unwrap().entries, 0);
    }

    #[test]
    fn an_edited_entry_is_named() {
        let mut entries = chain(5);
        entries[2].record.actor = "user:mallory".into();
        let broken = verify(&entries, 5, &entries[4].hash.clone()).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(matches!(broken.reason, BreakReason::HashMismatch { .. }));
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[1].record.after = Some("{\"state\":\"closed\"}".into());
        entries[1].hash = entry_hash(2, &entries[1].prev_hash.clone(), &entries[1].record);
        let broken = verify(&entries, 5, &entries[4].hash.clone()).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(matches!(
            broken.reason,
            BreakReason::PrevHashMismatch { .. }
        ));
    }

    #[test]
    fn a_removed_entry_is_a_gap() {
        let mut entries = chain(5);
        entries.remove(3);
        let broken = verify(&entries, 5, &entries[3].hash.clone()).unwrap_err();
        assert_eq!(
            broken,
            ChainBreak {
                seq: 5,
                reason: BreakReason::SequenceGap {
                    expected: 4,
                    found: 5
                }
            }
        );
    }

    #[test]
    fn a_removed_tail_is_truncation() {
        let entries = chain(5);
        let head = entries[4].hash.clone();
        let broken = verify(&entries[..3], 5, &head).unwrap_err();
        assert_eq!(broken.seq, 4);
        assert!(matches!(
            broken.reason,
            BreakReason::Truncated {
                last_seq: 3,
                head_seq: 5
            }
        ));
    }

    #[test]
    fn absent_and_empty_fields_hash_differently() {
        let mut with_empty = record(1);
        with_empty.before = Some(String::new());
        let mut with_none = record(1);
        with_none.before = None;
        assert_ne!(
            entry_hash(1, GENESIS_HASH, &with_empty),
            entry_hash(1, GENESIS_HASH, &with_none)
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = record(1);
        a.actor = "ab".into();
        a.actor_role = "c".into();
        let mut b = record(1);
        b.actor = "a".into();
        b.actor_role = "bc".into();
        assert_ne!(
            entry_hash(1, GENESIS_HASH, &a),
            entry_hash(1, GENESIS_HASH, &b)
        );
    }
}

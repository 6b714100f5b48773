//! What a migration changed (or, in a dry run, would change) and what it found but cannot
//! fix by itself.

use std::fmt;

/// Two 1:1 chats of the same pair of users: `kept` (the oldest) is the one this server finds
/// for the pair; `duplicate` stays readable by id and in both users' chat lists, unkeyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateDirect {
    pub kept: String,
    pub duplicate: String,
}

/// Counts of the documents changed (or that a dry run would change), and the findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub dry_run: bool,
    /// Users given `passwordHash` (a copy of their bcrypt `password`).
    pub password_hashes: u64,
    /// Users whose `email` was normalized (trimmed, lowercased; the original kept in
    /// `originalEmail`).
    pub emails_normalized: u64,
    /// Messages whose `clientId: null` was unset.
    pub null_client_ids: u64,
    /// Messages given their `seq`.
    pub message_seqs: u64,
    /// Soft-deleted messages given their `deletedSeq`.
    pub deleted_seqs: u64,
    /// Chats whose `lastSeq`, `lastMessageId`, `createdBy`, `isGroup` or `directKey` were set.
    pub chats: u64,
    /// Of those, chats given their `directKey`.
    pub direct_keys: u64,
    /// Findings: 1:1 chats of a pair that already has one (never merged, never deleted).
    pub duplicate_directs: Vec<DuplicateDirect>,
    /// Findings: non-group chats without exactly two distinct participants (no key).
    pub not_direct: Vec<String>,
    /// Findings: users who cannot sign in until fixed by hand (`<id>: <why>`).
    pub users_left: Vec<String>,
    /// Findings: messages whose `chat` is no chat (left without `seq`; not in a dry run).
    pub orphan_messages: u64,
    /// Findings: messages whose `type` or `status` this server cannot read.
    pub unreadable_messages: u64,
}

impl MigrationReport {
    /// How many documents were changed (or would be): 0 after a complete migration.
    pub fn changes(&self) -> u64 {
        self.password_hashes
            + self.emails_normalized
            + self.null_client_ids
            + self.message_seqs
            + self.deleted_seqs
            + self.chats
    }
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would change" } else { "changed" };
        writeln!(
            f,
            "users: {} password hashes copied, {} emails normalized",
            self.password_hashes, self.emails_normalized
        )?;
        writeln!(
            f,
            "messages: {} seqs, {} deletedSeqs, {} null clientIds unset",
            self.message_seqs, self.deleted_seqs, self.null_client_ids
        )?;
        writeln!(f, "chats: {} updated, {} given a directKey", self.chats, self.direct_keys)?;
        for dup in &self.duplicate_directs {
            writeln!(
                f,
                "duplicate 1:1 chat {} of the pair kept in {} (left as it is, not keyed)",
                dup.duplicate, dup.kept
            )?;
        }
        for chat in &self.not_direct {
            writeln!(f, "non-group chat {chat} has not two distinct participants (left as it is, not keyed)")?;
        }
        for user in &self.users_left {
            writeln!(f, "user {user}")?;
        }
        if self.orphan_messages > 0 {
            writeln!(f, "{} messages belong to no chat (left without seq)", self.orphan_messages)?;
        }
        if self.unreadable_messages > 0 {
            writeln!(
                f,
                "{} messages have a type or status this server cannot read (fix by hand)",
                self.unreadable_messages
            )?;
        }
        match self.changes() {
            0 => write!(f, "no changes"),
            n => write!(f, "{verb} {n} documents"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_without_changes_says_so_and_lists_its_findings() {
        let report = MigrationReport {
            duplicate_directs: vec![DuplicateDirect { kept: "a".into(), duplicate: "b".into() }],
            ..MigrationReport::default()
        };
        let text = report.to_string();
        assert!(text.ends_with("no changes"), "{text}");
        assert!(text.contains("duplicate 1:1 chat b of the pair kept in a"), "{text}");
        let dry = MigrationReport { dry_run: true, message_seqs: 3, chats: 1, ..MigrationReport::default() };
        assert_eq!(dry.changes(), 4);
        assert!(dry.to_string().ends_with("would change 4 documents"));
    }
}

//! The storage contract suite: every MUST of the repository ports, written once as test cases
//! that each storage adapter runs against itself.
//!
//! An adapter's integration test expands [`storage_contract_tests!`] with a function that
//! returns a fresh, empty store, and gets one `#[tokio::test]` per case:
//!
//! ```text
//! async fn make() -> storage_contract::Stores {
//!     storage_contract::Stores::from_one(std::sync::Arc::new(MyStore::open_fresh().await))
//! }
//! storage_contract::storage_contract_tests!(make);
//! ```
//!
//! The calling crate needs `tokio` (features `macros` and `rt-multi-thread`) among its
//! dev-dependencies, because the generated tests use `#[tokio::test]`.
//!
//! This crate is test code: a broken expectation panics, which is how a test fails.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test code fails by panicking")]

use std::any::Any;
use std::sync::Arc;

use chat_domain::ports::{ChatRepository, MessageRepository, ReceiptRepository, UserRepository};

pub mod cases;
mod fixtures;

/// The repositories under test. Most adapters implement all of them on one type; see
/// [`Stores::from_one`].
#[derive(Clone)]
pub struct Stores {
    pub users: Arc<dyn UserRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    pub receipts: Arc<dyn ReceiptRepository>,
    /// What must outlive the repositories (see [`Stores::with_guard`]). Declared last, so it is
    /// dropped after them.
    guards: Vec<Arc<dyn Any + Send + Sync>>,
}

impl Stores {
    /// Uses one store for every repository.
    pub fn from_one<T: UserRepository + ChatRepository + MessageRepository + ReceiptRepository + 'static>(
        store: Arc<T>,
    ) -> Self {
        Self {
            users: store.clone(),
            chats: store.clone(),
            messages: store.clone(),
            receipts: store,
            guards: Vec::new(),
        }
    }

    /// The same repositories, keeping `guard` (a temporary directory, a test database to drop)
    /// alive for as long as these stores or a clone of them exist: a case holds its stores
    /// until it ends, so `guard`'s `Drop` may clean up after the case. Holding the stores
    /// rather than wrapping each repository means no port method needs forwarding here.
    pub fn with_guard<G: Send + Sync + 'static>(mut self, guard: G) -> Self {
        self.guards.push(Arc::new(guard));
        self
    }
}

/// The one list of contract cases. Every `pub async fn` in [`cases`] must appear here (a unit
/// test below checks it), and every name here must be such a function (the generated tests
/// would not compile otherwise). It hands the list to the macro `$then`, after `$args`.
#[doc(hidden)]
#[macro_export]
macro_rules! __storage_contract_cases {
    ($then:ident ! ($($args:tt)*)) => {
        $crate::$then! { $($args)* ;
            // Users.
            user_insert_round_trips,
            user_duplicate_email_is_taken,
            user_concurrent_inserts_of_one_email_admit_one,
            users_by_ids_returns_only_existing,
            search_users_matches_usernames_in_any_case_and_emails_only_whole,
            search_users_treats_the_needle_literally,
            search_users_orders_by_username_excludes_and_limits,
            token_version_starts_at_zero_and_each_revoke_adds_one,
            concurrent_revokes_each_add_one,
            replace_password_hash_only_replaces_the_current_hash,
            // Chats.
            chat_insert_round_trips,
            direct_chat_is_deduplicated_in_either_order,
            concurrent_direct_chat_inserts_create_one,
            group_chats_and_other_pairs_are_not_deduplicated,
            chats_of_user_orders_by_activity_then_id,
            chats_of_user_pages_cover_every_chat_once_in_order,
            chats_of_user_before_must_be_a_chat_of_the_user,
            direct_chat_is_found_by_its_key,
            chat_views_carry_the_newest_message,
            // Appending messages.
            append_assigns_seq_per_chat,
            append_with_repeated_client_id_returns_original,
            message_by_client_id_finds_only_the_senders_message,
            append_same_client_id_from_different_senders_creates_both,
            append_without_client_id_never_collides,
            concurrent_appends_get_gapless_seqs,
            concurrent_appends_with_one_client_id_create_one,
            append_to_missing_chat_fails_and_writes_nothing,
            // History pages.
            page_with_skip_and_limit,
            page_before_a_message,
            page_leaves_out_deleted_messages,
            page_before_a_message_of_another_chat_is_none,
            // Soft delete.
            soft_delete_takes_the_next_seq,
            soft_delete_twice_writes_nothing,
            soft_delete_unknown_message_is_not_found,
            // Catch-up events.
            chat_events_since_interleaves_creates_and_deletes,
            chat_events_since_honors_max_and_chat,
            // Groups that change and edits.
            change_chat_renames_adds_and_removes_taking_seqs,
            change_chat_on_stale_participants_conflicts_and_writes_nothing,
            edit_message_takes_the_next_seq_and_shows_in_last_message,
            edit_of_a_deleted_or_unknown_message_writes_nothing,
            chat_events_since_interleaves_edits_and_changes,
            concurrent_messages_edits_deletes_and_changes_share_gapless_seqs,
            // Writes that check membership and name their members; the sender's own markers.
            append_and_edit_by_a_removed_sender_are_refused_and_write_nothing,
            appends_racing_a_removal_land_before_it_or_are_refused,
            writes_name_a_groups_members_as_of_their_seq_and_none_for_a_direct_chat,
            an_append_moves_the_senders_markers_and_a_retry_moves_nothing,
            // Receipts.
            markers_start_at_zero_for_every_participant,
            markers_only_move_forward,
            concurrent_marker_updates_keep_the_maximum,
            markers_are_kept_per_chat_and_user,
            unread_counts_skip_own_and_deleted_messages,
            unread_counts_follow_the_read_marker,
            delivered_many_moves_each_user_behind_and_reports_only_moves,
            concurrent_delivered_many_and_reads_keep_the_maximum,
            // Reads kept in memory never outlive a write.
            history_pages_follow_every_write,
            chats_markers_and_token_versions_follow_every_write,
            // Presence.
            contacts_are_everyone_sharing_a_chat_each_once,
            last_seen_round_trips_and_only_moves_forward,
        }
    };
}

/// Expands to one `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` per contract
/// case. `$make` is a path to an `async fn() -> Stores` that returns a fresh, empty store on
/// every call.
#[macro_export]
macro_rules! storage_contract_tests {
    ($make:path) => {
        $crate::__storage_contract_cases!(__storage_contract_emit_tests!($make));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __storage_contract_emit_tests {
    ($make:path ; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::cases::$case($make().await).await;
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __storage_contract_emit_names {
    (; $($case:ident),* $(,)?) => {
        &[$(stringify!($case)),*]
    };
}

/// The names of every contract case, in the order the suite lists them.
pub const CASE_NAMES: &[&str] = __storage_contract_cases!(__storage_contract_emit_names!());

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The source of every module in `cases`; a new module must be added here too, which the
    /// check on `cases/mod.rs` below enforces.
    const CASE_SOURCES: &[(&str, &str)] = &[
        ("users", include_str!("cases/users.rs")),
        ("chats", include_str!("cases/chats.rs")),
        ("freshness", include_str!("cases/freshness.rs")),
        ("groups", include_str!("cases/groups.rs")),
        ("messages", include_str!("cases/messages.rs")),
        ("history", include_str!("cases/history.rs")),
        ("lifecycle", include_str!("cases/lifecycle.rs")),
        ("membership", include_str!("cases/membership.rs")),
        ("receipts", include_str!("cases/receipts.rs")),
        ("presence", include_str!("cases/presence.rs")),
    ];

    #[test]
    fn every_case_function_is_in_the_list_and_back() {
        let mut defined = BTreeSet::new();
        for (_, source) in CASE_SOURCES {
            for line in source.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    assert!(defined.insert(name.clone()), "case {name} is defined twice");
                }
            }
        }
        let listed: BTreeSet<String> = super::CASE_NAMES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(listed.len(), super::CASE_NAMES.len(), "a case is listed twice");
        let unlisted: Vec<_> = defined.difference(&listed).collect();
        assert!(unlisted.is_empty(), "cases missing from __storage_contract_cases!: {unlisted:?}");
        let undefined: Vec<_> = listed.difference(&defined).collect();
        assert!(undefined.is_empty(), "listed cases with no function: {undefined:?}");
    }

    #[test]
    fn every_case_module_is_scanned() {
        let mod_rs = include_str!("cases/mod.rs");
        let declared: BTreeSet<&str> =
            mod_rs.lines().filter_map(|l| l.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(';'))).collect();
        let scanned: BTreeSet<&str> = CASE_SOURCES.iter().map(|(name, _)| *name).collect();
        assert_eq!(declared, scanned, "cases/mod.rs and CASE_SOURCES disagree");
    }
}

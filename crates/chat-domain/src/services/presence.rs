//! Presence: this node's sockets coming and going ([`crate::presence::PresenceBook`]), the
//! cluster's sum of them ([`PresenceDirectory`]), the announcements to a user's contacts, and
//! who may ask for whose presence.
//!
//! The service keeps no timer: the gateway reports sockets, and whoever runs the node calls
//! [`PresenceService::expire`] often (every few hundred milliseconds) to end grace periods,
//! and, in a cluster, [`PresenceService::sweep`] to take over the users of dead nodes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Ports;
use crate::error::{Error, Result};
use crate::event::DomainEvent;
use crate::id::UserId;
use crate::ports::PresenceDirectory;
use crate::presence::{LocalPresenceDirectory, PresenceBook, PresenceChange, MAX_PRESENCE_QUERY};
use crate::time::Timestamp;

/// Whether a user is online, as a presence query answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence {
    pub user: UserId,
    /// Connected on some node, or inside the grace after their last socket closed.
    pub online: bool,
    /// When their last socket closed, as stored; `None` while online, or when never recorded.
    pub last_seen_at: Option<Timestamp>,
}

#[derive(Clone)]
pub struct PresenceService {
    ports: Ports,
    directory: Arc<dyn PresenceDirectory>,
    book: Arc<Mutex<PresenceBook>>,
}

impl super::Services {
    /// Replaces the directory of a node alone with one shared by a cluster.
    pub fn with_presence_directory(mut self, directory: Arc<dyn PresenceDirectory>) -> Self {
        self.presence.directory = directory;
        self
    }
}

impl PresenceService {
    pub(super) fn new(ports: Ports) -> Self {
        Self {
            ports,
            directory: Arc::new(LocalPresenceDirectory::default()),
            book: Arc::new(Mutex::new(PresenceBook::default())),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, PresenceBook> {
        // Every method of the book leaves it consistent; a panic elsewhere cannot tear it.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A socket of `user` connected to this node (authenticated, in its personal room). The
    /// user's contacts hear `online` if no socket of the user was connected or in its grace
    /// anywhere in the cluster.
    pub async fn connected(&self, user: UserId) {
        let Some(PresenceChange::Online { .. }) = self.book().connected(user) else { return };
        match self.directory.hold(user).await {
            Ok(true) => self.announce(user, true, None).await,
            Ok(false) => {}
            // Without the cluster's word, this node's own is the best there is: announcing
            // once too often beats never.
            Err(error) => {
                tracing::warn!(%error, %user, "presence directory unavailable; announcing online from this node's view");
                self.announce(user, true, None).await;
            }
        }
    }

    /// A socket of `user` closed on this node. Returns how long until its grace ends when it
    /// was the user's last socket here, after which [`expire`](Self::expire) announces the
    /// user offline (unless a socket connected again meanwhile, here or on another node).
    pub fn disconnected(&self, user: UserId) -> Option<Duration> {
        let now = self.ports.clock.now();
        let deadline = self.book().disconnected(user, now)?;
        Some((deadline - now).to_std().unwrap_or_default())
    }

    /// Ends the grace periods that are over: this node lets go of those users, and the ones no
    /// node holds any more are announced offline, with their `lastSeenAt` stored.
    pub async fn expire(&self) {
        let gone = self.book().expire(self.ports.clock.now());
        for change in gone {
            let PresenceChange::Offline { user, last_seen_at } = change else { continue };
            match self.directory.release(user).await {
                Ok(true) => self.went_offline(user, last_seen_at).await,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, %user, "presence directory unavailable; announcing offline from this node's view");
                    self.went_offline(user, last_seen_at).await;
                }
            }
        }
    }

    /// Takes over the users of nodes that died: each one no live node holds is announced
    /// offline, with their dead node's last heartbeat as `lastSeenAt`.
    pub async fn sweep(&self) {
        match self.directory.sweep().await {
            Ok(gone) => {
                for (user, last_seen_at) in gone {
                    self.went_offline(user, last_seen_at).await;
                }
            }
            Err(error) => tracing::warn!(%error, "could not sweep the presence of dead nodes"),
        }
    }

    /// How many users this node holds (connected, or in their grace period).
    pub fn local_users(&self) -> usize {
        self.book().len()
    }

    /// The presence of those of `users` who share a chat with `caller`, in the order asked,
    /// each once; the others (and the caller) are left out without saying why, so that a
    /// query tells nothing about strangers. 1 to [`MAX_PRESENCE_QUERY`] ids.
    pub async fn query(&self, caller: UserId, users: &[UserId]) -> Result<Vec<Presence>> {
        if users.is_empty() {
            return Err(Error::invalid("userIds must name at least one user"));
        }
        if users.len() > MAX_PRESENCE_QUERY {
            return Err(Error::Invalid(format!("userIds must name at most {MAX_PRESENCE_QUERY} users").into()));
        }
        let contacts: HashSet<UserId> = self.ports.chats.contacts_of(caller).await?.into_iter().collect();
        let mut seen = HashSet::new();
        let visible: Vec<UserId> = users.iter().copied().filter(|u| contacts.contains(u) && seen.insert(*u)).collect();
        if visible.is_empty() {
            return Ok(Vec::new());
        }
        let held = self.directory.held(&visible).await?;
        if held.len() != visible.len() {
            return Err(Error::Internal);
        }
        let stored = self.ports.users.last_seen(&visible).await?;
        Ok(visible
            .into_iter()
            .zip(held)
            .map(|(user, online)| {
                let last_seen_at =
                    if online { None } else { stored.iter().find(|(u, _)| *u == user).map(|(_, at)| *at) };
                Presence { user, online, last_seen_at }
            })
            .collect())
    }

    async fn went_offline(&self, user: UserId, last_seen_at: Timestamp) {
        if let Err(error) = self.ports.users.record_last_seen(user, last_seen_at).await {
            tracing::warn!(%error, %user, "could not store lastSeenAt");
        }
        // A socket that connected while the release was under way has made the user online
        // again (and announced it): an offline now would be the last word, and wrong.
        if self.book().is_online(user) {
            return;
        }
        self.announce(user, false, Some(last_seen_at)).await;
    }

    /// Tells `user`'s contacts. A failure to find them is logged: presence is best effort.
    async fn announce(&self, user: UserId, online: bool, last_seen_at: Option<Timestamp>) {
        match self.ports.chats.contacts_of(user).await {
            Ok(to) if to.is_empty() => {}
            Ok(to) => {
                self.ports.notifier.publish(DomainEvent::PresenceChanged { user, online, last_seen_at, to }).await
            }
            Err(error) => tracing::warn!(%error, %user, "could not find whom to tell of a presence change"),
        }
    }
}

//! The cluster's presence directory ([`RedisPresence`], the domain's `PresenceDirectory`
//! port): which nodes hold which users, counted in Redis, and the heartbeat that lets the
//! survivors take over the users of a node that died.
//!
//! Keys, under [`PresenceSettings::key_prefix`]:
//! - `nodes`: a sorted set of node ids, each scored with its last heartbeat (Redis's clock,
//!   in milliseconds), refreshed every [`PresenceSettings::heartbeat`];
//! - `node:<nodeId>`: a hash of the users that node holds, each with its count of holds;
//! - `user:<userId>`: a hash of the nodes that hold the user, each with its count. The user is
//!   online while it has a field; Redis deletes a hash with none.
//!
//! Every change is one Lua script, so "the first hold" and "the last release" are each decided
//! once for the cluster. A node whose heartbeat is older than [`PresenceSettings::node_ttl`]
//! is dead: the next sweep on any node (every [`PresenceSettings::sweep`]; one script per
//! batch, so two sweepers never take the same user) removes its holds and returns the users
//! held nowhere else, who are announced offline. A killed node's users therefore go offline
//! within `node_ttl + sweep` (plus a heartbeat period at worst) of its last heartbeat.
//! A node that shuts down gracefully [retires](RedisPresence::retire): it scores itself dead as
//! of [`PresenceSettings::retire_grace`] from now and notes when it left in the `retired`
//! hash, so its users go offline within `retire_grace + sweep` instead, with that time as
//! their `lastSeenAt`.
//!
//! Scripts name the per-node and per-user keys they build themselves: one Redis, not Redis
//! Cluster, as for the rest of this adapter.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::ports::PresenceDirectory;
use chat_domain::{Timestamp, UserId};
use parking_lot::Mutex;

use crate::RedisNode;

/// Tunables of the presence directory, with production defaults.
#[derive(Debug, Clone)]
pub struct PresenceSettings {
    pub key_prefix: String,
    /// How often this node proves it lives.
    pub heartbeat: Duration,
    /// A node not heard from for this long is dead; more than `heartbeat`, with room for a
    /// missed beat or two.
    pub node_ttl: Duration,
    /// How often this node looks for dead nodes to sweep.
    pub sweep: Duration,
    /// Most users one sweep script takes over (a dead node with more takes several scripts,
    /// so Redis never runs one long script).
    pub sweep_batch: usize,
    /// How long a node that [retired](RedisPresence::retire) (a graceful shutdown) still counts
    /// as alive: its users who reconnect to another node within it are never announced
    /// offline. The presence grace of a single node (5 s) by default.
    pub retire_grace: Duration,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        Self {
            key_prefix: "chat:presence:".to_owned(),
            heartbeat: Duration::from_secs(10),
            node_ttl: Duration::from_secs(30),
            sweep: Duration::from_secs(10),
            sweep_batch: 500,
            retire_grace: Duration::from_secs(5),
        }
    }
}

const HOLD: &str = r"
local before = redis.call('HLEN', KEYS[1])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if before == 0 then return 1 else return 0 end
";

/// A release without a hold (the node was swept meanwhile, and the user announced offline
/// then) changes nothing.
const RELEASE: &str = r"
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n <= 0 then return 0 end
if n == 1 then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
local m = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if m <= 1 then redis.call('HDEL', KEYS[2], ARGV[2]) else redis.call('HINCRBY', KEYS[2], ARGV[2], -1) end
if redis.call('HLEN', KEYS[1]) == 0 then return 1 else return 0 end
";

/// Scores this node with Redis's clock; 1 when it was not listed (new, or swept as dead).
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], now, ARGV[1])
";

/// A node leaving on purpose (ARGV[1]): scored so that it is dead once ARGV[3] ms have passed
/// (its heartbeat as if last heard ARGV[2] ms, the TTL, before then), and its leaving time
/// (Redis's clock) noted in the `retired` hash for the sweep to report as `lastSeenAt`.
const RETIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now - tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now)
return 1
";

/// Takes over up to ARGV[3] users of the longest-dead node (heartbeat older than ARGV[1] ms):
/// returns `{}` when no node is dead, else `{lastSeenMs, user...}` with the users no other
/// node holds; `lastSeenMs` is the node's last heartbeat, or when it retired. The node is
/// forgotten once it holds nobody.
const SWEEP: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'WITHSCORES', 'LIMIT', 0, 1)
if #dead == 0 then return {} end
local node, seen = dead[1], dead[2]
local retiredkey = ARGV[2] .. 'retired'
seen = redis.call('HGET', retiredkey, node) or seen
local nodekey = ARGV[2] .. 'node:' .. node
local scan = redis.call('HSCAN', nodekey, '0', 'COUNT', tonumber(ARGV[3]))
local out = {seen}
local fields = scan[2]
for i = 1, #fields, 2 do
  local user = fields[i]
  local userkey = ARGV[2] .. 'user:' .. user
  redis.call('HDEL', userkey, node)
  redis.call('HDEL', nodekey, user)
  if redis.call('HLEN', userkey) == 0 then table.insert(out, user) end
end
if redis.call('HLEN', nodekey) == 0 then
  redis.call('ZREM', KEYS[1], node)
  redis.call('HDEL', retiredkey, node)
end
return out
";

/// The presence directory of one node of a cluster; see the module docs.
pub struct RedisPresence {
    node: RedisNode,
    settings: PresenceSettings,
    hold: redis::Script,
    release: redis::Script,
    heartbeat: redis::Script,
    sweep: redis::Script,
    retire: redis::Script,
    /// Set by [`retire`](Self::retire): the heartbeat stops for good.
    retired: std::sync::atomic::AtomicBool,
    /// This node's holds as it last told Redis, to tell them again after being swept as dead
    /// while alive (Redis unreachable for longer than the node's TTL).
    mine: Mutex<HashMap<UserId, u32>>,
    /// Whether a heartbeat has listed this node yet: only a node listed before and missing
    /// now was forgotten.
    listed: std::sync::atomic::AtomicBool,
    /// A hold or release failed since the last heartbeat: Redis's counts of this node may be
    /// off, and the next heartbeat tells them again.
    out_of_step: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::unavailable(format!("redis presence: {error}"))
}

impl RedisPresence {
    /// The directory, with its heartbeat task started (it ends when the directory is dropped).
    pub(crate) fn start(node: RedisNode, settings: PresenceSettings) -> Arc<Self> {
        let presence = Arc::new(Self {
            node,
            settings,
            hold: redis::Script::new(HOLD),
            release: redis::Script::new(RELEASE),
            heartbeat: redis::Script::new(HEARTBEAT),
            sweep: redis::Script::new(SWEEP),
            retire: redis::Script::new(RETIRE),
            retired: std::sync::atomic::AtomicBool::new(false),
            mine: Mutex::new(HashMap::new()),
            listed: std::sync::atomic::AtomicBool::new(false),
            out_of_step: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(beat(Arc::downgrade(&presence), presence.settings.heartbeat));
        presence
    }

    /// The answer of a hold or release script; a failure leaves Redis out of step with this
    /// node until the next heartbeat.
    fn counted(&self, answer: Result<i64, StoreError>) -> Result<bool, StoreError> {
        if answer.is_err() {
            self.out_of_step.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(answer? == 1)
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.settings.key_prefix)
    }

    fn node_id(&self) -> &str {
        self.node.node_id()
    }

    async fn run<T: redis::FromRedisValue>(&self, invocation: &redis::ScriptInvocation<'_>) -> Result<T, StoreError> {
        let mut commands = self.node.shared.commands.clone();
        let timeout = self.node.shared.settings.command_timeout;
        match tokio::time::timeout(timeout, invocation.invoke_async::<T>(&mut commands)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(unavailable("no answer in time")),
        }
    }

    /// Makes Redis hold exactly this node's holds again, in absolute counts (telling them twice
    /// does no harm): after the node was forgotten, or after a hold or release that Redis did
    /// not take (for which the services announced from this node's view alone).
    async fn resync(&self) -> Result<(), StoreError> {
        let node_key = self.key(&format!("node:{}", self.node_id()));
        let mut commands = self.node.shared.commands.clone();
        let stored: HashMap<String, i64> =
            redis::cmd("HGETALL").arg(&node_key).query_async(&mut commands).await.map_err(unavailable)?;
        let holds: Vec<(UserId, u32)> = self.mine.lock().iter().map(|(u, n)| (*u, *n)).collect();
        let mut pipe = redis::pipe();
        for user in stored.keys() {
            if !holds.iter().any(|(u, _)| u.to_string() == *user) {
                pipe.hdel(self.key(&format!("user:{user}")), self.node_id()).ignore();
                pipe.hdel(&node_key, user).ignore();
            }
        }
        for (user, count) in holds {
            pipe.hset(self.key(&format!("user:{user}")), self.node_id(), count).ignore();
            pipe.hset(&node_key, user.to_string(), count).ignore();
        }
        pipe.query_async::<()>(&mut commands).await.map_err(unavailable)
    }

    /// Leaves the cluster on purpose (a graceful shutdown): the heartbeat stops, and the
    /// surviving nodes sweep this node's users once [`PresenceSettings::retire_grace`] has
    /// passed, announcing offline those who did not reconnect elsewhere meanwhile, with the
    /// time this node left as their `lastSeenAt`. Without it they would wait for the node's
    /// TTL, as for a node that died. Call it once this node serves no more sockets.
    pub async fn retire(&self) -> Result<(), StoreError> {
        self.retired.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut invocation = self.retire.prepare_invoke();
        invocation
            .key(self.key("nodes"))
            .key(self.key("retired"))
            .arg(self.node_id())
            .arg(millis(self.settings.node_ttl))
            .arg(millis(self.settings.retire_grace));
        self.run::<i64>(&invocation).await.map(drop)
    }

    /// Refreshes this node's heartbeat; when Redis had forgotten the node (swept as dead, or
    /// Redis lost its data), its holds are told again.
    async fn beat(&self) -> Result<(), StoreError> {
        let mut invocation = self.heartbeat.prepare_invoke();
        invocation.key(self.key("nodes")).arg(self.node_id());
        let added: i64 = self.run(&invocation).await?;
        let was_listed = self.listed.swap(true, std::sync::atomic::Ordering::SeqCst);
        let forgotten = added == 1 && was_listed;
        if forgotten {
            tracing::warn!("this node was missing from the presence directory; holding its users again");
        }
        if forgotten || self.out_of_step.swap(false, std::sync::atomic::Ordering::SeqCst) {
            if let Err(error) = self.resync().await {
                self.out_of_step.store(true, std::sync::atomic::Ordering::SeqCst);
                return Err(error);
            }
        }
        Ok(())
    }
}

async fn beat(presence: Weak<RedisPresence>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(presence) = presence.upgrade() else { return };
        if presence.retired.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Err(error) = presence.beat().await {
            tracing::warn!(%error, "could not refresh this node's presence heartbeat");
        }
    }
}

#[async_trait]
impl PresenceDirectory for RedisPresence {
    async fn hold(&self, user: UserId) -> Result<bool, StoreError> {
        *self.mine.lock().entry(user).or_insert(0) += 1;
        let mut invocation = self.hold.prepare_invoke();
        invocation
            .key(self.key(&format!("user:{user}")))
            .key(self.key(&format!("node:{}", self.node_id())))
            .arg(self.node_id())
            .arg(user.to_string());
        self.counted(self.run::<i64>(&invocation).await)
    }

    async fn release(&self, user: UserId) -> Result<bool, StoreError> {
        {
            let mut mine = self.mine.lock();
            match mine.get_mut(&user) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    mine.remove(&user);
                }
                None => {}
            }
        }
        let mut invocation = self.release.prepare_invoke();
        invocation
            .key(self.key(&format!("user:{user}")))
            .key(self.key(&format!("node:{}", self.node_id())))
            .arg(self.node_id())
            .arg(user.to_string());
        self.counted(self.run::<i64>(&invocation).await)
    }

    async fn held(&self, users: &[UserId]) -> Result<Vec<bool>, StoreError> {
        let mut pipe = redis::pipe();
        for user in users {
            pipe.exists(self.key(&format!("user:{user}")));
        }
        let mut commands = self.node.shared.commands.clone();
        let timeout = self.node.shared.settings.command_timeout;
        match tokio::time::timeout(timeout, pipe.query_async::<Vec<bool>>(&mut commands)).await {
            Ok(Ok(held)) => Ok(held),
            Ok(Err(error)) => Err(unavailable(error)),
            Err(_) => Err(unavailable("no answer in time")),
        }
    }

    async fn sweep(&self) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        let ttl = millis(self.settings.node_ttl);
        let mut gone = Vec::new();
        // A bounded number of scripts per call: the next sweep goes on where this one stopped.
        for _ in 0..64 {
            let mut invocation = self.sweep.prepare_invoke();
            invocation.key(self.key("nodes")).arg(ttl).arg(&self.settings.key_prefix).arg(self.settings.sweep_batch);
            let batch: Vec<String> = self.run(&invocation).await?;
            let Some((seen, users)) = batch.split_first() else { break };
            // Redis writes a score as a number, in exponent notation if it likes.
            let seen = seen.parse::<f64>().ok().and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64));
            let seen = seen.ok_or_else(|| StoreError::other(format!("presence heartbeat {seen:?} is no time")))?;
            for user in users {
                match user.parse::<UserId>() {
                    Ok(user) => gone.push((user, seen)),
                    Err(_) => tracing::warn!(user, "skipped a malformed user id in the presence directory"),
                }
            }
        }
        if !gone.is_empty() {
            tracing::info!(users = gone.len(), "took over the users of a dead node");
        }
        Ok(gone)
    }
}

/// A duration as the whole milliseconds the scripts take (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

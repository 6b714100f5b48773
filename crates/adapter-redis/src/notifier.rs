//! The cluster notifier: local delivery first, then one PUBLISH per event through a bounded
//! queue; a subscriber task per node delivers the other nodes' events and skips its own.
//!
//! On the channel every message is `<hex HMAC>.{"node": "<node id>", "at": <ms>, "delivery":
//! <Delivery>}`, signed with the cluster secret (see [`crate::envelope`]); what is not signed
//! by a node of this cluster, or is older than the allowed age, is dropped and counted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::DomainEvent;
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use wire::delivery::{route, Delivery};

use crate::envelope::{now_ms, Refused};
use crate::status::Counters;
use crate::{RedisNode, Shared};

/// Where the deliveries of events land on this node: its own sockets.
pub trait LocalDelivery: Send + Sync + 'static {
    /// Queues `delivery` for this node's sockets in its rooms; returns how many.
    fn deliver(&self, delivery: &Delivery) -> usize;
}

impl<T: LocalDelivery + ?Sized> LocalDelivery for Arc<T> {
    fn deliver(&self, delivery: &Delivery) -> usize {
        T::deliver(self, delivery)
    }
}

/// The notifier port for a node of a cluster. Each event is delivered to this node's sockets
/// at once, then published once on the events channel for the other nodes; publishing never
/// waits (a bounded queue feeds a publisher task), so a slow or absent Redis never slows a
/// send. Live delivery to other nodes is at most once: what is lost while Redis is away, the
/// clients recover with `chat:join {sinceSeq}`.
///
/// Start at most one per [`RedisNode`]. Cheap to clone; when the last clone is dropped the
/// subscriber stops and the publisher finishes what is queued.
#[derive(Clone)]
pub struct RedisNotifier {
    inner: Arc<Inner>,
}

struct Inner {
    node: RedisNode,
    local: Arc<dyn LocalDelivery>,
    queue: mpsc::Sender<String>,
    _stop: DropGuard,
}

impl std::fmt::Debug for RedisNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNotifier").field("node", &self.inner.node).finish_non_exhaustive()
    }
}

impl RedisNotifier {
    /// Starts the publisher and subscriber tasks on the current Tokio runtime.
    pub(crate) fn start(node: RedisNode, local: Arc<dyn LocalDelivery>) -> Self {
        let shared = Arc::clone(&node.shared);
        let (queue, pending) = mpsc::channel(shared.settings.publish_queue.max(1));
        let stop = CancellationToken::new();
        shared.status.mark_subscriber_started();
        tokio::spawn(publisher(Arc::clone(&shared), pending));
        tokio::spawn(subscriber(shared, Arc::clone(&local), stop.clone()));
        Self { inner: Arc::new(Inner { node, local, queue, _stop: stop.drop_guard() }) }
    }

    /// The node this notifier publishes for.
    pub fn node(&self) -> &RedisNode {
        &self.inner.node
    }

    /// Hands one serialized envelope to the publisher without waiting; counts and logs (at
    /// most once per interval) what cannot be queued.
    fn enqueue(&self, payload: String) {
        let shared = &self.inner.node.shared;
        if let Err(e) = self.inner.queue.try_send(payload) {
            Counters::add(&shared.status.counters.dropped, 1);
            if let Some(held_back) = shared.status.queue_log.admit() {
                let reason = match e {
                    mpsc::error::TrySendError::Full(_) => "the publish queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the publisher has stopped",
                };
                tracing::warn!(reason, held_back, "an event was delivered locally but not published to other nodes");
            }
        }
    }
}

#[async_trait]
impl Notifier for RedisNotifier {
    async fn publish(&self, event: DomainEvent) {
        let delivery = match route(&event) {
            Ok(delivery) => delivery,
            Err(e) => {
                tracing::error!(error = %e, "could not serialize a domain event");
                return;
            }
        };
        self.inner.local.deliver(&delivery);
        let shared = &self.inner.node.shared;
        match shared.sealer.seal(&shared.node_id, &delivery, now_ms()) {
            Ok(payload) => self.enqueue(payload),
            Err(e) => tracing::error!(error = %e, "could not serialize a delivery for other nodes"),
        }
    }
}

/// Publishes queued envelopes in order, a batch per pipeline (one PUBLISH per event), each
/// batch bounded by the command timeout. Ends when every sender is gone and the queue is empty.
async fn publisher(shared: Arc<Shared>, mut pending: mpsc::Receiver<String>) {
    let settings = &shared.settings;
    let status = &shared.status;
    let mut commands = shared.commands.clone();
    let mut batch = Vec::with_capacity(settings.publish_batch.max(1));
    let mut failing = false;
    loop {
        if pending.recv_many(&mut batch, settings.publish_batch.max(1)).await == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        for payload in &batch {
            pipe.cmd("PUBLISH").arg(&settings.channel).arg(payload).ignore();
        }
        let count = batch.len() as u64;
        batch.clear();
        let error = match tokio::time::timeout(settings.command_timeout, pipe.query_async::<()>(&mut commands)).await {
            Ok(Ok(())) => {
                Counters::add(&status.counters.published, count);
                if failing {
                    failing = false;
                    status.publish_log.reset();
                    tracing::info!("publishing events to Redis again");
                }
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {:?}", settings.command_timeout),
        };
        failing = true;
        Counters::add(&status.counters.publish_failures, count);
        if let Some(held_back) = status.publish_log.admit() {
            tracing::warn!(
                %error,
                events = count,
                held_back,
                "could not publish events to Redis; other nodes miss them until their clients catch up"
            );
        }
    }
}

/// Why a subscription ended.
enum Ended {
    Stopped,
    Lost(String),
}

/// Keeps this node subscribed to the events channel: subscribes, delivers what arrives, and
/// when the subscription is lost, subscribes again after a backoff (doubling from
/// `reconnect_min` to `reconnect_max`, with jitter), until stopped.
async fn subscriber(shared: Arc<Shared>, local: Arc<dyn LocalDelivery>, stop: CancellationToken) {
    let settings = &shared.settings;
    let status = &shared.status;
    let mut delay = settings.reconnect_min;
    let mut down_since: Option<Instant> = None;
    loop {
        let attempt = tokio::select! {
            () = stop.cancelled() => break,
            attempt = tokio::time::timeout(settings.connect_timeout, subscribe(&shared)) => attempt,
        };
        let error = match attempt {
            Ok(Ok((sink, stream))) => {
                warm_up_commands(&shared).await;
                status.set_subscribed(true);
                Counters::add(&status.counters.subscriptions, 1);
                match down_since.take() {
                    Some(since) => tracing::info!(
                        channel = %settings.channel,
                        after_ms = since.elapsed().as_millis() as u64,
                        "resubscribed to Redis"
                    ),
                    None => tracing::info!(channel = %settings.channel, node = %shared.node_id, "subscribed to Redis"),
                }
                status.subscribe_log.reset();
                delay = settings.reconnect_min;
                let ended = pump(&shared, local.as_ref(), sink, stream, &stop).await;
                status.set_subscribed(false);
                match ended {
                    Ended::Stopped => break,
                    Ended::Lost(reason) => {
                        down_since = Some(Instant::now());
                        reason
                    }
                }
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {:?}", settings.connect_timeout),
        };
        down_since.get_or_insert_with(Instant::now);
        let wait = jittered(delay);
        if let Some(held_back) = status.subscribe_log.admit() {
            tracing::warn!(
                %error,
                retry_in_ms = wait.as_millis() as u64,
                held_back,
                "not subscribed to Redis; events of other nodes do not reach this node's sockets"
            );
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        delay = (delay * 2).min(settings.reconnect_max);
    }
    status.set_subscribed(false);
}

/// A fresh pub/sub connection subscribed to the events channel.
async fn subscribe(shared: &Shared) -> redis::RedisResult<(PubSubSink, PubSubStream)> {
    let (mut sink, stream) = shared.client.get_async_pubsub().await?.split();
    sink.subscribe(&shared.settings.channel).await?;
    Ok((sink, stream))
}

/// Makes sure the command connection (publishing, rate limiting) is fresh once Redis is back:
/// a connection that died while idle only notices when used, and the first command on it
/// fails while triggering the reconnect. A few PINGs take that hit instead of an event.
async fn warm_up_commands(shared: &Shared) {
    let mut commands = shared.commands.clone();
    for _ in 0..3 {
        let command = redis::cmd("PING");
        let ping = command.query_async::<redis::Value>(&mut commands);
        if let Ok(Ok(_)) = tokio::time::timeout(shared.settings.connect_timeout, ping).await {
            return;
        }
        tokio::time::sleep(shared.settings.reconnect_min).await;
    }
}

/// Delivers the messages of one subscription until it is lost (closed, or a keep-alive ping
/// unanswered) or the subscriber is stopped.
async fn pump(
    shared: &Shared,
    local: &dyn LocalDelivery,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    stop: &CancellationToken,
) -> Ended {
    let period = shared.settings.keepalive;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ended::Stopped,
            message = stream.next() => match message {
                Some(message) => receive(shared, local, message.get_payload_bytes()),
                None => return Ended::Lost("the connection closed".to_owned()),
            },
            _ = keepalive.tick() => {
                // Messages keep arriving in the connection's buffer while this waits.
                let ping = sink.ping::<redis::Value>();
                match tokio::time::timeout(shared.settings.connect_timeout, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Ended::Lost(format!("keep-alive ping failed: {e}")),
                    Err(_) => return Ended::Lost("keep-alive ping unanswered".to_owned()),
                }
            }
        }
    }
}

/// Delivers one message from the channel unless this node published it, or it is not signed
/// by a node of this cluster, or it is stale.
fn receive(shared: &Shared, local: &dyn LocalDelivery, payload: &[u8]) {
    let counters = &shared.status.counters;
    match shared.sealer.open(payload, now_ms()) {
        Ok(envelope) if envelope.node == shared.node_id => Counters::add(&counters.own_skipped, 1),
        Ok(envelope) => {
            Counters::add(&counters.received, 1);
            local.deliver(&envelope.delivery);
        }
        Err(refused) => {
            let (counter, what) = match refused {
                Refused::Unsigned => (&counters.unsigned, "an unsigned or forged message"),
                Refused::Malformed => (&counters.malformed, "a signed message that is not a delivery"),
                Refused::Stale => (&counters.stale, "a signed message past its age (a replay?)"),
            };
            Counters::add(counter, 1);
            // Security log: once per interval, with the count held back; never the payload.
            if let Some(held_back) = shared.status.envelope_log.admit() {
                tracing::warn!(held_back, bytes = payload.len(), "dropped {what} on the events channel");
            }
        }
    }
}

/// `delay` give or take a quarter, so that nodes that lost Redis together do not all come
/// back in the same instant.
fn jittered(delay: Duration) -> Duration {
    let quarter = delay / 4;
    let spread = quarter.as_micros().try_into().unwrap_or(u64::MAX).saturating_mul(2);
    let offset = if spread == 0 { 0 } else { rand::random::<u64>() % spread };
    delay - quarter + Duration::from_micros(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_millis(400));
            assert!(d >= Duration::from_millis(300) && d <= Duration::from_millis(500), "{d:?}");
        }
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }
}

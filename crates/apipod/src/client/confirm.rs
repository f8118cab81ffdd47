//! Confirming a callback by re-reading its task with the client's key.

use apipod_raw::contract::TaskKind;

use super::Client;
use crate::callback::event::CallbackEvent;
use crate::error::{Error, Result};
use crate::snapshot::TaskSnapshot;

impl CallbackEvent {
    /// True when `snapshot` (the task re-read with your key, e.g. by
    /// [`Client::confirm`]) confirms this delivery: same task, same status.
    ///
    /// Only a confirmed delivery counts as delivered. One whose status the task does not
    /// have (an early or forged delivery, or a status the endpoint has not caught up with)
    /// must not be remembered as handled, or it would make the genuine delivery look like
    /// a duplicate; answer it with a non-2xx status so that APIPod delivers it again.
    pub fn is_confirmed_by(&self, snapshot: &TaskSnapshot) -> bool {
        (snapshot.task_id().is_empty() || snapshot.task_id() == self.task_id)
            && snapshot.status() == &self.status
    }
}

impl Client {
    /// Reads the task a callback names from APIPod with this client's key.
    ///
    /// Returns the authoritative snapshot: act on it, not on the callback body (APIPod
    /// does not sign callbacks, so the body could have been sent by anyone who learned the
    /// URL). Fails when the task is unknown to this key (APIPod answers 404), or when the
    /// answer is about another task. The snapshot's status may differ from the event's:
    /// the delivery is confirmed only when [`CallbackEvent::is_confirmed_by`] the snapshot,
    /// which is what `CallbackReceiver` (feature `callback-server`) checks
    /// before it publishes or remembers a delivery.
    ///
    /// ```no_run
    /// # async fn run(client: apipod::Client, body: &[u8]) -> apipod::Result<()> {
    /// use apipod::{CallbackEvent, TaskKind};
    ///
    /// let event = CallbackEvent::parse(body)?;
    /// let snapshot = client.confirm(TaskKind::Image, &event).await?;
    /// if event.is_confirmed_by(&snapshot) {
    ///     // handled: remember it, act on `snapshot`
    /// } else {
    ///     // not delivered (yet): answer 503 so that APIPod delivers it again
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn confirm(&self, kind: TaskKind, event: &CallbackEvent) -> Result<TaskSnapshot> {
        let snapshot = self.status(kind, &event.task_id).await?;
        if !snapshot.task_id().is_empty() && snapshot.task_id() != event.task_id {
            return Err(Error::Decode {
                status: Some(200),
                reason: format!(
                    "status read for task {} answered about task {}",
                    event.task_id,
                    snapshot.task_id()
                ),
                excerpt: String::new(),
            });
        }
        if snapshot.status() != &event.status {
            tracing::debug!(
                task_id = %event.task_id,
                callback = %event.status,
                confirmed = %snapshot.status(),
                "callback status differs from the task's: the delivery is not confirmed"
            );
        }
        Ok(snapshot)
    }
}

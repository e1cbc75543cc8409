//! The recommender actor: the one writer of the current [`Snapshot`]. Requests read the
//! snapshot lock-free through the `ArcSwap`; the actor publishes successors when a course is
//! published (cold start, at once) and when a refit finishes (in the background, on a bounded
//! number of threads, then swapped in one atomic store).
//!
//! A refit starts when enough behaviour arrived ([`Observed`], or the periodic check counting
//! the log, which also sees events recorded by other nodes), when the period elapsed with
//! anything new, or when an admin asks ([`Rebuild`]). Courses published while a refit was
//! reading the database are applied again to its result, so none is lost in the swap.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use arc_swap::ArcSwap;
use tokio::sync::oneshot;

use super::corpus::{self, Course};
use super::index::IndexParams;
use super::model::ModelParams;
use super::snapshot::Snapshot;
use crate::clock::SharedClock;
use crate::db::{Db, DbError};

/// Where requests find the current snapshot.
pub type SnapshotCell = Arc<ArcSwap<Snapshot>>;

/// How the recommender refits.
#[derive(Debug, Clone)]
pub struct RefitPolicy {
    /// Model parameters (dimension, half-life).
    pub params: ModelParams,
    /// Events since the last refit that trigger the next.
    pub after_events: u64,
    /// A refit runs at least this often when anything happened.
    pub every: Duration,
    /// How often the log is counted and published courses caught up.
    pub check_every: Duration,
    /// Threads a refit may use.
    pub threads: usize,
}

/// What a finished refit did, for the admin endpoint, logs and metrics.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RefitReport {
    /// Courses indexed.
    pub items: usize,
    /// Behaviour events the model was fitted to.
    pub interactions: usize,
    /// Wall time of the refit, reading the database included.
    pub duration_ms: u64,
}

/// Why a refit did not produce a snapshot.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RefitError {
    /// The database could not be read.
    #[error("could not read the catalog and behaviour log: {0}")]
    Db(String),
    /// The build thread died.
    #[error("the refit thread failed")]
    Thread,
}

impl From<DbError> for RefitError {
    fn from(e: DbError) -> Self {
        Self::Db(e.to_string())
    }
}

/// Reads the corpus and fits a new snapshot on a dedicated thread, so neither the actix
/// workers nor the actor wait on it.
pub async fn refit(
    db: &Db,
    policy: &RefitPolicy,
    clock: &SharedClock,
) -> Result<(Snapshot, RefitReport), RefitError> {
    let started = Instant::now();
    // Dated before the read, so an event recorded during it counts towards the next refit.
    let now = clock.now();
    let corpus = db.run(|c| corpus::load(c).map_err(DbError::from)).await?;
    let (items, interactions) = (corpus.courses.len(), corpus.interactions.len());
    tracing::info!(
        items,
        interactions,
        read_ms = started.elapsed().as_millis() as u64,
        "recommendation corpus read"
    );
    let (tx, rx) = oneshot::channel();
    let (params, threads) = (policy.params.clone(), policy.threads);
    std::thread::Builder::new()
        .name("recommend-refit".into())
        .spawn(move || {
            super::priority::lower_this_thread();
            let snapshot = Snapshot::build(
                corpus,
                params,
                &IndexParams::default(),
                threads,
                now.naive_utc(),
            );
            // The receiver is gone only if the actor stopped: nothing to do then.
            let _ = tx.send(snapshot);
            // The fit's working matrices were just freed.
            crate::memory::release_freed();
        })
        .map_err(|_| RefitError::Thread)?;
    let snapshot = rx.await.map_err(|_| RefitError::Thread)?;
    let report = RefitReport {
        items,
        interactions,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    record_metrics(&snapshot, started.elapsed(), clock);
    Ok((snapshot, report))
}

fn record_metrics(snapshot: &Snapshot, took: Duration, clock: &SharedClock) {
    metrics::histogram!("recommend_rebuild_duration_seconds").record(took.as_secs_f64());
    metrics::gauge!("recommend_last_rebuild_timestamp_seconds").set(clock.now().timestamp() as f64);
    metrics::counter!("recommend_rebuilds_total").increment(1);
    metrics::gauge!("recommend_index_items").set(snapshot.len() as f64);
}

/// Drops a replaced snapshot on a thread of its own once no request holds it any more. Freeing
/// a 100k-item graph takes a noticeable moment, which must not land on the actor or on the
/// request that happened to hold the last reference.
fn reap(old: Arc<Snapshot>) {
    let spawned = std::thread::Builder::new()
        .name("recommend-reaper".into())
        .spawn(move || {
            // Nobody can obtain it after the swap, so the count only goes down.
            while Arc::strong_count(&old) > 1 {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(old);
            crate::memory::release_freed();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no reaper thread; the old snapshot is freed where it falls");
    }
}

/// The actor; see the module doc.
pub struct Recommender {
    db: Db,
    cell: SnapshotCell,
    policy: RefitPolicy,
    clock: SharedClock,
    /// Callers waiting for the refit under way; `None` when none runs.
    waiting: Option<Vec<oneshot::Sender<Result<RefitReport, RefitError>>>>,
    /// Catalog changes while a refit runs, to apply to its result in order.
    meanwhile: Vec<Change>,
    /// Events reported to this node since the last refit started.
    observed: u64,
    /// Courses archived while this actor ran: archiving is final, so a cold start whose read
    /// raced the archive must not bring one back.
    archived: HashSet<String>,
    last_refit: Instant,
}

impl Recommender {
    /// A recommender publishing into `cell`, which holds the snapshot built at start.
    pub fn new(db: Db, cell: SnapshotCell, policy: RefitPolicy, clock: SharedClock) -> Self {
        metrics::gauge!("recommend_index_items").set(cell.load().len() as f64);
        Self {
            db,
            cell,
            policy,
            clock,
            waiting: None,
            meanwhile: Vec::new(),
            observed: 0,
            archived: HashSet::new(),
            last_refit: Instant::now(),
        }
    }

    fn start_refit(&mut self, ctx: &mut Context<Self>) {
        if self.waiting.is_some() {
            return;
        }
        self.waiting = Some(Vec::new());
        self.observed = 0;
        self.last_refit = Instant::now();
        let (db, policy, clock) = (self.db.clone(), self.policy.clone(), self.clock.clone());
        let work = async move { refit(&db, &policy, &clock).await };
        ctx.spawn(work.into_actor(self).map(|result, act, _| {
            let outcome = match result {
                Ok((mut snapshot, report)) => {
                    for change in act.meanwhile.drain(..) {
                        if let Some(next) = change.apply(&snapshot) {
                            snapshot = next;
                        }
                    }
                    reap(act.cell.swap(Arc::new(snapshot)));
                    metrics::gauge!("recommend_index_items").set(act.cell.load().len() as f64);
                    tracing::info!(?report, "recommender refitted");
                    Ok(report)
                }
                Err(e) => {
                    act.meanwhile.clear();
                    tracing::error!(error = %e, "recommender refit failed");
                    metrics::counter!("recommend_rebuild_failures_total").increment(1);
                    Err(e)
                }
            };
            for waiter in act.waiting.take().unwrap_or_default() {
                let _ = waiter.send(outcome.clone());
            }
        }));
    }

    /// Publishes the successor a catalog change makes (if it changes anything), and keeps the
    /// change for the refit under way, if any.
    fn apply(&mut self, change: Change) {
        match &change {
            Change::Retired(id) => {
                self.archived.insert(id.clone());
            }
            Change::Published(course) if self.archived.contains(&course.id) => return,
            Change::Published(_) => {}
        }
        let next = change.apply(&self.cell.load());
        if self.waiting.is_some() {
            self.meanwhile.push(change);
        }
        if let Some(next) = next {
            reap(self.cell.swap(Arc::new(next)));
            metrics::gauge!("recommend_index_items").set(self.cell.load().len() as f64);
        }
    }

    /// Counts the log and catches up with courses published elsewhere.
    fn check(&mut self, ctx: &mut Context<Self>) {
        let db = self.db.clone();
        // Judged against the snapshot from before the query: a course published while the
        // query ran is in the current snapshot but maybe not in the list, and is not gone.
        let before = self.cell.load_full();
        let since = before.built_at();
        let work = async move {
            db.run(move |c| {
                let events = corpus::events_since(c, since)?;
                let published = corpus::published_ids(c)?;
                Ok::<_, DbError>((events, published))
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            let (events, published) = match result {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "recommender check failed");
                    return;
                }
            };
            let live: HashSet<&str> = published.iter().map(String::as_str).collect();
            let gone: Vec<String> = before
                .course_ids()
                .filter(|id| !live.contains(id) && !before.is_retired(id))
                .map(str::to_owned)
                .collect();
            let current = act.cell.load_full();
            for id in published.iter().filter(|id| !current.contains(id)) {
                ctx.notify(CoursePublished {
                    course_id: id.clone(),
                });
            }
            for id in gone {
                act.apply(Change::Retired(id));
            }
            let due = act.last_refit.elapsed() >= act.policy.every && events > 0;
            if u64::try_from(events).unwrap_or(0) >= act.policy.after_events || due {
                act.start_refit(ctx);
            }
        }));
    }
}

impl Actor for Recommender {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.policy.check_every, |act, ctx| act.check(ctx));
    }
}

/// Behaviour events were recorded through this node; enough of them trigger a refit.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Observed {
    /// How many.
    pub events: usize,
}

impl Handler<Observed> for Recommender {
    type Result = ();

    fn handle(&mut self, msg: Observed, ctx: &mut Self::Context) {
        self.observed += u64::try_from(msg.events).unwrap_or(u64::MAX);
        if self.observed >= self.policy.after_events {
            self.start_refit(ctx);
        }
    }
}

/// A catalog change the snapshot must follow before the next refit.
#[derive(Debug, Clone)]
enum Change {
    /// Published: recommendable at once, from its content.
    Published(Box<Course>),
    /// Archived: never recommended again.
    Retired(String),
}

impl Change {
    /// The successor of `snapshot` with this change, or `None` if it changes nothing.
    fn apply(&self, snapshot: &Snapshot) -> Option<Snapshot> {
        match self {
            Self::Published(course) => snapshot.with_course(Course::clone(course)),
            Self::Retired(id) => snapshot.without_course(id),
        }
    }
}

/// A course was published: make it recommendable now, from its content. Answers once it is.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CoursePublished {
    /// Its id.
    pub course_id: String,
}

impl Handler<CoursePublished> for Recommender {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, msg: CoursePublished, _: &mut Self::Context) -> Self::Result {
        let db = self.db.clone();
        let id = msg.course_id;
        let work = async move {
            db.run(move |c| corpus::published_course(c, &id).map_err(DbError::from))
                .await
        };
        Box::pin(work.into_actor(self).map(|found, act, _| match found {
            Ok(Some(course)) => act.apply(Change::Published(Box::new(course))),
            // Archived again, or never published: nothing to recommend.
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cold start could not read the course"),
        }))
    }
}

/// A course was archived: never recommend it again. Answers once the snapshot says so.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CourseRetired {
    /// Its id.
    pub course_id: String,
}

impl Handler<CourseRetired> for Recommender {
    type Result = ();

    fn handle(&mut self, msg: CourseRetired, _: &mut Self::Context) {
        self.apply(Change::Retired(msg.course_id));
    }
}

/// Refit now (an admin asked); answers when the new snapshot is in place. If a refit is
/// already running, answers with that one's outcome.
#[derive(Message)]
#[rtype(result = "Result<RefitReport, RefitError>")]
pub struct Rebuild;

impl Handler<Rebuild> for Recommender {
    type Result = ResponseFuture<Result<RefitReport, RefitError>>;

    fn handle(&mut self, _: Rebuild, ctx: &mut Self::Context) -> Self::Result {
        self.start_refit(ctx);
        let (tx, rx) = oneshot::channel();
        if let Some(waiting) = self.waiting.as_mut() {
            waiting.push(tx);
        }
        Box::pin(async move { rx.await.unwrap_or(Err(RefitError::Thread)) })
    }
}

//! Password hashing off the request path, in bounded memory: a few dedicated threads, each
//! owning one argon2 working buffer (19 MiB) allocated once at start and reused for every hash
//! and verification.
//!
//! Allocating that buffer per sign-up on the blocking pool left one 19 MiB hole per thread
//! arena (glibc keeps freed memory in the arena it came from): a few hundred sign-ups held the
//! process near 600 MiB. With the buffers owned by a fixed set of threads the memory is
//! `threads × 19 MiB` by construction, whatever the traffic, and no database connection or
//! transaction is ever held while a hash is computed.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::domain::Password;
use super::tokens;

/// Jobs that may wait for a hashing thread before new ones are refused (503).
const QUEUE: usize = 256;

enum Job {
    Hash(Password, oneshot::Sender<Result<String, anyhow::Error>>),
    Verify(String, String, oneshot::Sender<bool>),
}

/// Why a hashing job did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every thread is busy and the queue is full; the client should retry shortly.
    #[error("password hashing is saturated")]
    Busy,
    /// The hashing threads are gone (the process is stopping) or hashing itself failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Handle on the hashing threads; cheap to share, the threads stop when the last handle drops.
pub struct Hasher {
    jobs: SyncSender<Job>,
}

impl Hasher {
    /// Starts `threads` hashing threads (at least one), each with its own working memory.
    pub fn start(threads: usize) -> Self {
        let (jobs, rx) = mpsc::sync_channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// As many threads as cores, at most two: hashing is CPU-bound, and each thread holds
    /// 19 MiB for good.
    pub fn start_default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::start(cores.min(2))
    }

    /// Hashes `password` (argon2id, PHC string).
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Hash(password, tx))?;
        rx.await.map_err(|_| gone())?.map_err(HashError::Failed)
    }

    /// True when `password` matches `phc`.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Verify(password, phc, tx))?;
        rx.await.map_err(|_| gone().into())
    }

    fn submit(&self, job: Job) -> Result<(), HashError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => HashError::Busy,
            TrySendError::Disconnected(_) => gone().into(),
        })
    }
}

fn gone() -> anyhow::Error {
    anyhow::anyhow!("the password hashing threads stopped")
}

/// One hashing thread: takes jobs until every [`Hasher`] is dropped, always in the same memory.
fn work(rx: &Mutex<Receiver<Job>>) {
    let mut memory = tokens::hashing_memory();
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        match job {
            Job::Hash(password, reply) => {
                let _ = reply.send(tokens::hash_password_with(&mut memory, &password));
            }
            Job::Verify(password, phc, reply) => {
                let _ = reply.send(tokens::verify_password_with(&mut memory, &password, &phc));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn hashes_and_verifies_on_its_threads() {
        let hasher = Hasher::start(1);
        let pw = Password::parse("correct horse battery").unwrap();
        let phc = hasher.hash(pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("correct horse battery".into(), phc.clone())
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse battery".into(), phc)
                .await
                .unwrap()
        );
    }
}

//! Building and running the bridge: database, migrations, HTTP server, background workers.

use std::net::SocketAddr;
use std::sync::Arc;

use poem::Server;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http::{AppState, routes};
use crate::intake::queue::{Applied, IntakeQueue, OnApplied};
use crate::metrics::Metrics;
use crate::outbox::exec::ProviderExecutor;
use crate::outbox::{Dispatcher, reconcile};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: crate::store::StoreError,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} holds an intake journal, which this version does not read: deliveries in it \
         may have been answered and not stored yet. Start the version that wrote it until \
         printbridge_intake_journal_backlog in /metrics is 0, stop it, then remove {path}"
    )]
    IntakeJournalLeft { path: String },
    #[error("cannot create data_dir {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A bridge ready to serve: bound to its port, database migrated.
pub struct Application {
    state: Arc<AppState>,
    listener: TcpListener,
    addr: SocketAddr,
}

impl Application {
    /// Opens the database, applies migrations and binds `config.listen` (or `listener`).
    pub async fn build(
        config: Config,
        listener: Option<TcpListener>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Application, StartError> {
        let store = Store::connect(&config.database_url)
            .await
            .map_err(|source| StartError::Database {
                url: crate::store::redact_url(&config.database_url),
                source,
            })?;
        Self::build_with_store(config, store, listener, clock).await
    }

    /// Like [`Application::build`] with an already opened store (tests use one schema each).
    pub async fn build_with_store(
        config: Config,
        store: Store,
        listener: Option<TcpListener>,
        clock: Option<Arc<dyn Clock>>,
    ) -> Result<Application, StartError> {
        refuse_intake_journal(&config)?;
        store
            .migrate()
            .await
            .map_err(|source| StartError::Database {
                url: crate::store::redact_url(&config.database_url),
                source,
            })?;
        prepare_data_dir(&config)?;
        let (listener, addr) = bind(listener, &config).await?;
        let clock: Arc<dyn Clock> = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let key2print = key2print_clients(&config, &clock);
        let config = Arc::new(config);
        let metrics = Arc::new(Metrics::new());
        let dispatch_wakeup = Arc::new(Notify::new());
        let intake = IntakeQueue::new(
            config.clone(),
            clock.clone(),
            on_applied(metrics.clone(), dispatch_wakeup.clone()),
        );
        let state = Arc::new(AppState {
            config,
            store,
            clock,
            metrics,
            dispatch_wakeup,
            key2print,
            catalog: Arc::new(crate::gateway::CatalogCache::new()),
            key2print_lists: Arc::new(crate::http::key2print_lists::ListCache::new()),
            intake: Arc::new(intake),
            recent: crate::http::replays::RecentDeliveries::new(),
            session_limits: crate::http::ratelimit::RateLimits::new(),
        });
        Ok(Application {
            state,
            listener,
            addr,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` completes; then stops accepting, answers the requests it
    /// accepted and closes idle connections within `shutdown_grace_secs`, and stops the
    /// dispatcher and the intake writer.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // Header, body and idle timeouts on every connection (see `http::conn`).
        let limits = crate::http::conn::ConnLimits::new(&self.state.config);
        let app = limits.endpoint(routes(self.state.clone()));
        // Applies what a restart left stored but not applied, then every new delivery.
        self.state.intake.start(&self.state.store);
        let (stop_tx, stop_rx) = watch::channel(false);
        let workers = spawn_workers(&self.state, &stop_rx);
        let drain = crate::drain::Drain::new();
        let acceptor = limits.acceptor(drain.acceptor(self.listener)?);
        let grace = self.state.config.shutdown_grace();
        let began = Arc::new(std::sync::OnceLock::new());
        let signalled = began.clone();
        let result = Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    shutdown.await;
                    // Queued connections are taken and the listener closed before the
                    // server drains the connections it holds (crate::drain).
                    drain.stop_accepting(grace).await;
                    let _ = signalled.set(tokio::time::Instant::now());
                },
                Some(grace),
            )
            .await;
        if began.get().is_some_and(|t| t.elapsed() >= grace) {
            tracing::warn!(
                grace_secs = grace.as_secs_f64(),
                "connections still open at the end of the shutdown grace period were closed"
            );
        }
        // Every accepted request is answered: the dispatcher stops claiming now and lets
        // its in-flight provider calls finish.
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        self.state.intake.stop().await;
        self.state.store.close().await;
        result
    }
}

/// The background tasks: the dispatcher and the reconciler (when this process dispatches)
/// and the privacy sweep, each stopping when `stop` turns true.
fn spawn_workers(
    state: &Arc<AppState>,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut workers = Vec::new();
    if state.config.dispatch.enabled {
        let executor = Arc::new(ProviderExecutor::new(&state.config, state.clock.clone()));
        let dispatcher = Dispatcher::new(state.clone(), executor);
        workers.push(tokio::spawn(dispatcher.run(stop.clone())));
        workers.push(tokio::spawn(reconcile::run(state.clone(), stop.clone())));
    }
    // Retention and the follow-up of erasures, whether or not this process dispatches.
    workers.push(tokio::spawn(crate::privacy::retention::run(
        state.clone(),
        stop.clone(),
    )));
    workers
}

/// Refuses to start beside an intake journal (`data_dir/intake-journal`, kept by versions
/// that answered deliveries once they were in it): what it holds beyond the database's last
/// position was answered 200 and is stored only by the version that reads it.
/// Creates the data directory and removes what interrupted downloads left in it.
fn prepare_data_dir(config: &Config) -> Result<(), StartError> {
    crate::store::create_private_dir(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    match crate::outbox::exec::remove_interrupted_downloads(&config.data_dir) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            "temporary files of interrupted downloads removed"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "cannot remove temporary files of interrupted downloads")
        }
    }
    Ok(())
}

/// The given listener, or one bound to `listen`, and its address.
async fn bind(
    listener: Option<TcpListener>,
    config: &Config,
) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = match listener {
        Some(l) => l,
        None => TcpListener::bind(&config.listen)
            .await
            .map_err(|source| StartError::Listen {
                addr: config.listen.clone(),
                source,
            })?,
    };
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen.clone(),
        source,
    })?;
    Ok((listener, addr))
}

/// A Key2print client per store that configures Key2print; a store whose client cannot be
/// made is left out, with a warning.
fn key2print_clients(
    config: &Config,
    clock: &Arc<dyn Clock>,
) -> crate::http::key2print::Key2printClients {
    let mut key2print = std::collections::HashMap::new();
    for s in &config.stores {
        if let Some(k) = &s.key2print {
            match crate::providers::key2print::Key2printClient::new(
                k,
                config.dispatch.request_timeout(),
            ) {
                Ok(c) => {
                    key2print.insert(s.id.clone(), Arc::new(c.with_clock(clock.clone())));
                }
                Err(e) => {
                    tracing::warn!(store = %s.id, error = %e, "Key2print client not available")
                }
            }
        }
    }
    key2print
}

fn refuse_intake_journal(config: &Config) -> Result<(), StartError> {
    let dir = config.data_dir.join("intake-journal");
    let holds_files = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if holds_files {
        return Err(StartError::IntakeJournalLeft {
            path: dir.display().to_string(),
        });
    }
    Ok(())
}

/// What follows a delivery's application to the ledger: its metric, a log line for one
/// applied after its answer, and the dispatcher woken for newly planned jobs.
fn on_applied(metrics: Arc<Metrics>, dispatch_wakeup: Arc<Notify>) -> OnApplied {
    Arc::new(move |applied: &[Applied]| {
        let mut planned = 0;
        for a in applied {
            let r = &a.result;
            metrics.delivery(a.topic.as_deref().unwrap_or("none"), r.outcome.as_str());
            planned += r.jobs_planned;
            if !a.answered {
                tracing::info!(
                    store = %a.store_id,
                    delivery_id = r.delivery_id,
                    order_id = ?r.order_id,
                    outcome = r.outcome.as_str(),
                    jobs_planned = r.jobs_planned,
                    "webhook applied after its answer"
                );
            }
        }
        if planned > 0 {
            dispatch_wakeup.notify_one();
        }
    })
}

/// Completes on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this is called,
/// not when the future is first polled: a signal that arrives after the call (while the
/// server starts, or before the task awaiting it first runs) stops the bridge gracefully
/// instead of ending the process with the signal's default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let installed = [SignalKind::terminate(), SignalKind::interrupt()].map(|kind| {
            signal(kind)
                .inspect_err(|e| tracing::warn!(error = %e, signal = ?kind, "could not install a signal handler"))
                .ok()
        });
        async move {
            let [term, int] = installed;
            tokio::select! {
                _ = recv(term) => {},
                _ = recv(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The next signal of `handler`; never, without one.
#[cfg(unix)]
async fn recv(handler: Option<tokio::signal::unix::Signal>) {
    match handler {
        Some(mut h) => {
            h.recv().await;
        }
        None => std::future::pending().await,
    }
}

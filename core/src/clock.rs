//! The one clock of the server. Everything that asks "what time is it"
//! (LATE and overdue, rotting, "today" in a tenant's zone, history and
//! event timestamps, the sweeper) asks here. A server instance carries
//! its clock (`Settings::clock`) into the work it runs, so a test can fix
//! the time instead of racing it. Token expiry and throttle windows use
//! the real time: they are security, not business.
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The machine's time.
    #[default]
    System,
    /// A fixed instant (tests).
    Fixed(DateTime<Utc>),
    /// The machine's time moved by a fixed amount (tests).
    Offset(TimeDelta),
}

impl Clock {
    /// The time on this clock, truncated to microseconds, the precision
    /// both backends store, so that a value read back compares equal to
    /// the value written.
    pub fn now(self) -> DateTime<Utc> {
        let t = match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => t,
            Clock::Offset(d) => Utc::now().checked_add_signed(d).unwrap_or_else(Utc::now),
        };
        t.trunc_subsecs(6)
    }
}

tokio::task_local! {
    static CLOCK: Clock;
}

/// Runs `work` on `clock`: every [`now`] inside it reads that clock.
pub async fn run_on<F: std::future::Future>(clock: Clock, work: F) -> F::Output {
    CLOCK.scope(clock, work).await
}

/// The clock of the running work (the system clock outside any).
pub fn current() -> Clock {
    CLOCK.try_with(|c| *c).unwrap_or_default()
}

/// Now, on the running work's clock.
pub fn now() -> DateTime<Utc> {
    current().now()
}
